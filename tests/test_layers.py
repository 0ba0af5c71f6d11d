"""The layering contract of pyproject.toml (``[tool.importlinter]``): it holds, it covers every
module, and it breaks when a module imports a layer above its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
(CONTRACT,) = CONFIG["contracts"]
LAYERS = [[name.strip() for name in layer.split("|")] for layer in CONTRACT["layers"]]
#: Modules that are no layer's: the packages' own ``__init__`` (which import nothing of the
#: project) and ``python -m detector``, which only calls the CLI.
OUTSIDE_THE_LAYERS = {"detector", "detector.__main__", "features", "models"}


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` on the packages found first on the path from ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(cwd)}
    return subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_contract_holds() -> None:
    run = lint_imports(ROOT)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout


def test_every_module_is_in_a_layer() -> None:
    """A new module or folder at the top of a package must be given a layer, not slip past."""
    graph = grimp.build_graph(*CONFIG["root_packages"], cache_dir=None)
    layered = [name for layer in LAYERS for name in layer]
    loose = sorted(m for m in graph.modules if m not in OUTSIDE_THE_LAYERS
                   and not any(m == name or m.startswith(f"{name}.") for name in layered))
    assert loose == []


@pytest.fixture(scope="module")
def copy_of_the_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages' Python files and the contract, copied where they can be broken."""
    root = tmp_path_factory.mktemp("layers")
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__", "*.skops"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("module", "imported", "message"), [
    ("detector/inputs/labels.py", "models.classifier", "detector.inputs is not allowed to import models"),
    ("features/build.py", "detector.engine.pipeline", "features is not allowed to import detector.engine"),
    ("models/model_file.py", "detector.outputs.files", "models is not allowed to import detector.outputs"),
    ("detector/outputs/report.py", "models.scoring", "detector.outputs is not allowed to import models"),
    ("detector/simulate/world.py", "features.catalogue", "detector.simulate is not allowed to import features"),
    ("detector/errors.py", "detector.inputs.numbers", "detector.errors is not allowed to import detector.inputs"),
])
def test_an_import_up_the_layers_breaks_the_contract(copy_of_the_code: Path, module: str, imported: str,
                                                     message: str) -> None:
    path = copy_of_the_code / module
    original = path.read_text()
    path.write_text(f"{original}\nimport {imported}  # noqa: E402\n")
    try:
        run = lint_imports(copy_of_the_code)
    finally:
        path.write_text(original)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "0 kept, 1 broken" in run.stdout
    assert message in run.stdout
