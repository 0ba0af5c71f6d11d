"""Generated worlds for the benchmarks, cached on disk between runs.

Each world is written once as clean canonical Parquet (``noise=0``), so the engine and the DuckDB
peer read exactly the same files: one Parquet file per day plus ``registry.parquet`` (the
registry as the engine reads it, normalised, one row per msisdn).
"""

from __future__ import annotations

import os
from pathlib import Path

from detector.inputs.registry import read_registry
from detector.simulate import generate_world

CACHE = Path(os.environ.get("DETECTOR_BENCH_DATA", Path(__file__).resolve().parent.parent / ".bench_data"))


def world(subscribers: int, days: int = 7, seed: int = 11) -> Path:
    """The directory of a cached benchmark world, generated on first use."""
    root = CACHE / f"world_{subscribers}x{days}_s{seed}"
    if not (root / "registry.parquet").exists():
        generate_world(root, subscribers=subscribers, days=days, seed=seed, fmt="parquet", noise=0.0)
        read_registry(root / "subscribers.csv").subscribers.write_parquet(root / "registry.parquet")
    return root


def cdr_files(root: Path) -> list[str]:
    """The world's daily CDR Parquet files."""
    return sorted(str(p) for p in (root / "cdr").glob("*.parquet"))
