"""Carrier scale (``make bench-scale``): ``detector score`` end to end on 10M, 50M and 200M CDR
rows in bounded memory, beside DuckDB SQL computing the core features alone on the same files
with the same 2 threads; ``detector features`` (the whole feature table) in the same memory; and
the Dask engine's overhead over the local one.

Each run is a child process (its peak RSS is its own). Skipped unless ``BENCH_SCALE_ROWS`` is set
(``make bench-scale`` sets it): the largest size takes most of an hour.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
import pytest

from bench.scale_world import scale_world
from bench.worlds import cdr_files

THREADS = 2
ROOT = Path(__file__).resolve().parent.parent
SIZES = [int(s) for s in os.environ.get("BENCH_SCALE_ROWS", "0").split(",") if int(s)]
#: The memory each size's run is given (--memory-limit), and the bound its peak RSS must meet.
LIMITS = {50_000_000: 4 * 2**30, 200_000_000: 6 * 2**30}
SCALE: dict[int, dict] = {}
#: Partitions of both runs of the Dask comparison, so it measures the engine and nothing else.
DASK_PARTITIONS = 8

pytestmark = pytest.mark.skipif(not SIZES, reason="set BENCH_SCALE_ROWS (make bench-scale)")


def limit_for(rows: int) -> int:
    return LIMITS.get(rows, 4 * 2**30 if rows <= 50_000_000 else 6 * 2**30)


def _env() -> dict[str, str]:
    return dict(os.environ, POLARS_MAX_THREADS=str(THREADS), NUMBA_NUM_THREADS=str(THREADS))


def _detector(*args: str) -> dict:
    """Run ``detector ARGS`` in a child process: its seconds, peak RSS and last line said."""
    done = subprocess.run([sys.executable, "-m", "bench.run_detector", *args], env=_env(), cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) | {"said": lines[-2] if len(lines) > 1 else ""}


def _score(world: Path, out: Path, *options: str) -> dict:
    return _detector("score", "--cdr", str(world / "cdr"), "--subscribers", str(world / "registry.parquet"),
                     "--out", str(out), "--top", "0", *options)


def _spill_bytes(tmp: Path, proc: subprocess.Popen) -> int:
    """The most disk the run's spill directory took, sampled while it runs. Spilled files stay
    until the run ends, so a sparse sample still sees the peak; walking tens of thousands of files
    every half second took a quarter of a core from the run being measured."""
    most = 0
    while proc.poll() is None:
        try:
            used = sum(f.stat().st_size for f in tmp.rglob("*") if f.is_file()) if tmp.exists() else 0
        except FileNotFoundError:
            used = 0  # the run removed its spill while this sample walked it (it has ended)
        most = max(most, used)
        time.sleep(3)
    return most


@pytest.fixture(scope="module", params=SIZES, ids=lambda n: f"{n // 1_000_000}M")
def rows(request):
    return request.param


def test_score_at_scale(rows, tmp_path):
    world = scale_world(rows)
    spill = tmp_path / "spill"
    spill.mkdir()
    args = ["--cdr", str(world / "cdr"), "--subscribers", str(world / "registry.parquet"),
            "--out", str(tmp_path / "out"), "--top", "0", "--memory-limit", str(limit_for(rows)),
            "--tmp-dir", str(spill)]
    # Warm the numba cache first, so the timed run is the nightly steady state.
    _score(scale_world(10_000_000) if rows > 10_000_000 else world, tmp_path / "warm")
    proc = subprocess.Popen([sys.executable, "-m", "bench.run_detector", "score", *args], env=_env(), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    spilled = _spill_bytes(spill, proc)
    out, err = proc.communicate()
    assert proc.returncode == 0, err[-2000:]
    run = json.loads(out.strip().splitlines()[-1])
    input_rows = pl.scan_parquet(cdr_files(world)).select(pl.len()).collect().item()
    SCALE.setdefault(rows, {}).update(rows=input_rows, seconds=run["seconds"], rss=run["peak_rss_mib"],
                                      spill_gib=spilled / 2**30, limit=limit_for(rows),
                                      said=out.strip().splitlines()[-2])
    assert (tmp_path / "out" / "scores.parquet").exists()
    assert run["peak_rss_mib"] <= limit_for(rows) / 2**20


def test_features_at_scale(rows, tmp_path):
    """The whole feature table, written sorted, in the same memory as the scores (the numba cache
    is warm from the score run)."""
    world = scale_world(rows)
    run = _detector("features", "--cdr", str(world / "cdr"), "--subscribers", str(world / "registry.parquet"),
                    "--out", str(tmp_path / "features.parquet"), "--memory-limit", str(limit_for(rows)),
                    "--tmp-dir", str(tmp_path))
    SCALE.setdefault(rows, {}).update(features_seconds=run["seconds"], features_rss=run["peak_rss_mib"])
    assert run["peak_rss_mib"] <= limit_for(rows) / 2**20


def test_duckdb_core_features_at_scale(rows):
    world = scale_world(rows)
    code = ("import sys, time; from bench.duckdb_peer import core_features_duckdb; t = time.perf_counter(); "
            f"core_features_duckdb(sys.argv[1:-1], sys.argv[-1], threads={THREADS}); print(time.perf_counter() - t)")
    # DuckDB spills into ./.tmp: run it inside a temporary directory, so that its files go with it
    # even when the run is stopped (a killed 200M run once left 24 GB in the project's folder).
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-c", code, *cdr_files(world), str(world / "registry.parquet")],
                              env=dict(_env(), TMPDIR=tmp, PYTHONPATH=str(ROOT)), cwd=tmp, capture_output=True,
                              text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    SCALE.setdefault(rows, {})["duckdb"] = float(done.stdout.strip().splitlines()[-1])


def test_dask_overhead_and_identical_scores(tmp_path):
    """Two local Dask workers against the local engine on the smallest size, both in the same
    partitions: the same scores.parquet, and how much longer it takes."""
    world = scale_world(min(SIZES))
    same = ("--partitions", str(DASK_PARTITIONS))
    local = _score(world, tmp_path / "local", *same)
    dask = _score(world, tmp_path / "dask", "--engine", "dask", "--workers", "2", *same)
    a = pl.read_parquet(tmp_path / "local" / "scores.parquet")
    b = pl.read_parquet(tmp_path / "dask" / "scores.parquet")
    assert a.equals(b)
    SCALE["dask"] = {"rows": min(SIZES), "local": local["seconds"], "dask": dask["seconds"],
                     "local_said": local["said"], "dask_said": dask["said"]}


def pytest_terminal_summary_scale(tr) -> None:
    """Called from conftest's summary: the table of the issue."""
    tr.section("detector score at scale (2 threads; ratio = DuckDB core features / detector score end to end)")
    tr.write_line(f"{'rows':>12} {'seconds':>8} {'rows/s':>10} {'RSS MiB':>8} {'limit MiB':>9} {'DuckDB s':>9} "
                  f"{'ratio':>6} {'spill GiB':>9}")
    for n in SIZES:
        r = SCALE.get(n, {})
        if "seconds" not in r:
            continue
        duck = r.get("duckdb", float("nan"))
        tr.write_line(f"{r['rows']:>12,} {r['seconds']:>8.1f} {r['rows'] / r['seconds']:>10,.0f} {r['rss']:>8.0f} "
                      f"{r['limit'] / 2**20:>9.0f} {duck:>9.1f} {duck / r['seconds']:>6.2f} {r['spill_gib']:>9.2f}")
        tr.write_line(f"{'':>12} {r['said']}")
        if "features_seconds" in r:
            tr.write_line(f"{'':>12} detector features: {r['features_seconds']:.1f} s, peak RSS "
                          f"{r['features_rss']:.0f} MiB (ratio to DuckDB {duck / r['features_seconds']:.2f})")
    d = SCALE.get("dask")
    if d:
        tr.write_line(f"Dask, 2 local workers, {d['rows']:,} rows in {DASK_PARTITIONS} partitions: {d['dask']:.1f} s "
                      f"vs local {d['local']:.1f} s "
                      f"(overhead {d['dask'] / d['local'] - 1:+.0%}); scores.parquet identical")
