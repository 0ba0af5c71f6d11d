"""The hot path (ingest -> core features) beside DuckDB SQL computing the same core features on
the same Parquet files with the same thread count. Warm runs are timed (numba cache and the OS
file cache both warm); a child process reports the cold run and the engine's peak RSS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import polars as pl
import pytest

from bench.duckdb_peer import core_features_duckdb
from bench.worlds import cdr_files, world
from detector.engine.pipeline import feature_table, read_inputs

THREADS = 2
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def world_dir(subscribers):
    return world(subscribers)


def test_engine(benchmark, world_dir, subscribers, record):
    if pl.thread_pool_size() != THREADS:
        pytest.skip(f"run with POLARS_MAX_THREADS={THREADS} (make bench sets it)")

    def run():
        inputs = read_inputs(cdr_files(world_dir), world_dir / "registry.parquet")
        return feature_table(inputs, core_only=True)

    table = benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    assert table.height > subscribers
    record("engine", subscribers, seconds=benchmark.stats.stats.median)


def test_duckdb(benchmark, world_dir, subscribers, record):
    files = cdr_files(world_dir)
    registry = str(world_dir / "registry.parquet")
    table = benchmark.pedantic(lambda: core_features_duckdb(files, registry, threads=THREADS),
                               rounds=3, warmup_rounds=1)
    assert table.height > subscribers
    record("duckdb", subscribers, seconds=benchmark.stats.stats.median)


def test_engine_process(world_dir, subscribers, record):
    """Cold (empty numba cache) and warm runs in a child process: seconds and peak RSS."""
    env = dict(os.environ, POLARS_MAX_THREADS=str(THREADS), NUMBA_NUM_THREADS=str(THREADS))
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-m", "bench.run_engine", str(world_dir)], env=env,
                                 cwd=ROOT, capture_output=True, text=True, check=True)
            runs.append(json.loads(out.stdout))
    cold, warm = runs
    record("process", subscribers, rows=warm["rows"], cold_seconds=cold["seconds"],
           warm_process_seconds=warm["seconds"], peak_rss_mib=warm["peak_rss_mib"],
           cold_peak_rss_mib=cold["peak_rss_mib"])
