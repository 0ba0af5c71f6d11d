import pytest

from detector.simulate import generate_world


@pytest.fixture(scope="session")
def noisy_world(tmp_path_factory):
    """A noisy CSV carrier of a few hundred thousand rows (duplicates, garbage rows, mixed number
    forms), with fraud of every kind: the input of the partitioned-engine tests."""
    root = tmp_path_factory.mktemp("noisy_world")
    generate_world(root, subscribers=4000, days=6, seed=21, fmt="csv", evasion=0.4, noise=1.0)
    return root
