"""The generator draws the same worlds, byte for byte, as it did before build_population was split.

The digests were taken from files the generator wrote before the split: every file of three
worlds (a tiny textbook one with no export noise, a small halfway-evasive one, and a careful,
very noisy one), which between them take every builder through its small-world and evasive
paths. A change to what the generator draws, or to how its files are written, fails here; a
commit that means to change it re-takes the digests and says why in ``written_by``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from detector.simulate import generate_world

BEFORE = json.loads((Path(__file__).with_name("worlds_before_the_split.json")).read_text())


@pytest.mark.parametrize("name", sorted(BEFORE["worlds"]))
def test_same_seed_writes_the_same_bytes_as_before_the_split(tmp_path: Path, name: str) -> None:
    world = BEFORE["worlds"][name]
    generate_world(tmp_path, fmt="csv", **world["parameters"])
    written = {p.relative_to(tmp_path).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
               for p in sorted(tmp_path.rglob("*")) if p.is_file()}
    assert written == world["sha256"]
