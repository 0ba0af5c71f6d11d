"""Nightly runs (issue 26, ``make bench-nightly``): 28 nights of ``detector nightly`` on a
generated world, each a whole process, then night 28 beside ``detector score`` over the same 28
days' files.

What is measured:

- each night's seconds and peak RSS while the 28-night state (``--window 28``) is built, night by
  night from an empty state;
- night 28 again, in fresh processes on copies of the state the first 27 nights left, with
  ``--window 28`` and with ``--window 7``, and the batch ``detector score`` of the 28 files, in
  turn, :data:`ROUNDS` rounds after a warm-up of each; their medians and the ratios the issue asks
  for (night 28 / batch score, window 28 / window 7);
- the state's size on disk beside the raw Parquet files'.

The window-7 night runs on the same state as the window-28 one: the state holds the same rows
either way (both retentions, window + 30 days, keep all 28 days), so only the window differs.

The world and the 28-night state are cached in ``.bench_data/`` (the nights' build timings with
them, printed as such); every night-28 and batch run is a fresh process on a fresh copy. Skipped
unless ``BENCH_NIGHTLY_SUBSCRIBERS`` is set (``make bench-nightly`` sets 100000; 10000 is a quick
run). ``BENCH_NIGHTLY_CARRIER`` (subscribers, e.g. 4000000) opts into the carrier size: a
:mod:`bench.scale_world` world of ~7M rows a day for 28 days, with ``--memory-limit 4GiB``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from bench.worlds import CACHE, world

THREADS = 2
ROUNDS = 3
NIGHTS = 28
ROOT = Path(__file__).resolve().parent.parent
SUBSCRIBERS = int(os.environ.get("BENCH_NIGHTLY_SUBSCRIBERS", "0"))
CARRIER = int(os.environ.get("BENCH_NIGHTLY_CARRIER", "0"))
#: ~7M rows a day at 4M subscribers, as bench_scale's 50M-row week.
CARRIER_ROWS_PER_DAY = 7_142_857
CARRIER_LIMIT = "4GiB"
#: The issue's targets: night 28 (window 28) against the batch score of the 28 days, and
#: against night 28 with window 7.
TARGET_VS_BATCH = 0.25
TARGET_VS_WINDOW_7 = 1.5
NIGHTLY: dict[str, dict] = {}


def _env() -> dict[str, str]:
    return dict(os.environ, POLARS_MAX_THREADS=str(THREADS), NUMBA_NUM_THREADS=str(THREADS), PYTHONPATH=str(ROOT))


def _timed(*args: str) -> tuple[float, float]:
    """The wall seconds and peak RSS (MiB) of one ``detector ARGS`` child process. The RSS is
    ``ru_maxrss`` from ``wait4``, which is at least the parent's own high-water mark: this
    process stays small (:func:`_parent_mib` is printed beside it)."""
    start = time.perf_counter()
    with subprocess.Popen([sys.executable, "-m", "detector", "-q", *args], env=_env(), cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as child:
        errors = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    assert child.returncode == 0, errors[-2000:].decode(errors="replace")
    return seconds, usage.ru_maxrss / 1024


def _parent_mib() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _night(state: Path, day_file: str, out: Path, registry: Path, window: int, *options: str) -> tuple[float, float]:
    return _timed("nightly", "--cdr", day_file, "--state", str(state), "--out", str(out),
                  "--subscribers", str(registry), "--window", str(window), "--top", "0", *options)


def _built_state(cache: Path, files: list[str], registry: Path, window: int, options: tuple[str, ...]) -> dict:
    """The state of :data:`NIGHTS` nights with ``window`` under ``cache`` (``state``), a copy of
    it after the night before the last (``before_last``), and each night's build timing, built
    night by night on first use (a partial build is started over)."""
    done = cache / "nights.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    state, out = cache / "state", cache / "out"
    nights = []
    for i, day_file in enumerate(files, 1):
        seconds, rss = _night(state, day_file, out, registry, window, *options)
        nights.append({"night": i, "seconds": seconds, "rss": rss})
        if i == len(files) - 1:
            shutil.copytree(state, cache / "before_last")
    shutil.rmtree(out)
    build = {"built": dt.datetime.now().isoformat(timespec="minutes"), "window": window, "options": list(options),
             "nights": nights}
    done.write_text(json.dumps(build, indent=1) + "\n")
    return build


def _night_rows(state: Path) -> list[int]:
    nights = pl.read_delta(str(state / "nights")).filter(pl.col("night") > 0).sort("night")
    return nights["rows_added"].to_list()


def _medians(tmp: Path, runs: dict[str, Callable[[Path], tuple[float, float]]]) -> dict[str, tuple[float, float]]:
    """Each run's median seconds and highest peak RSS over :data:`ROUNDS` rounds that run each
    once, in turn, after a warm-up of each. A run is ``f(out_dir)``; the outputs of the last
    round stay in ``tmp / name``."""
    timings: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for round_ in range(ROUNDS + 1):
        for name, run in runs.items():
            out = tmp / name
            shutil.rmtree(out, ignore_errors=True)
            timing = run(out)
            if round_:
                timings[name].append(timing)
    return {name: (statistics.median(s for s, _ in t), max(m for _, m in t)) for name, t in timings.items()}


def _fresh_night(before_last: Path, tmp: Path, day_file: str, registry: Path, window: int, *options: str):
    """Night 28 as a run ``f(out_dir)``: on a fresh copy of the state the first 27 nights left
    (the copy is not timed)."""
    def run(out: Path) -> tuple[float, float]:
        state = tmp / f"state_w{window}"
        shutil.rmtree(state, ignore_errors=True)
        shutil.copytree(before_last, state)
        return _night(state, day_file, out, registry, window, *options)

    return run


def _measure(label: str, root: Path, files: list[str], registry: Path, tmp: Path, *,
             nightly_options: tuple[str, ...] = (), score_options: tuple[str, ...] = ()) -> dict:
    cache = CACHE / f"nightly_{root.name}_w{NIGHTS}" / ("_".join(nightly_options).replace("-", "") or "default")
    build = _built_state(cache, files, registry, NIGHTS, nightly_options)
    last = files[-1]
    runs = {
        "w28": _fresh_night(cache / "before_last", tmp, last, registry, NIGHTS, *nightly_options),
        "w7": _fresh_night(cache / "before_last", tmp, last, registry, 7, *nightly_options),
        "batch": lambda out: _timed("score", "--cdr", str(root / "cdr"), "--subscribers", str(registry),
                                    "--out", str(out), "--top", "0", *score_options),
    }
    medians = _medians(tmp, runs)
    scores = {name: pl.read_parquet(tmp / name / "scores.parquet") for name in ("w28", "batch")}
    result = {
        "label": label, "build": build, "night_rows": _night_rows(cache / "state"), "medians": medians,
        "raw_bytes": sum(Path(f).stat().st_size for f in files),
        "state_bytes": _bytes(cache / "state"), "events_bytes": _bytes(cache / "state" / "events"),
        "rows": pl.scan_parquet(files).select(pl.len()).collect().item(),
        "numbers": {name: frame.height for name, frame in scores.items()},
        "identical": scores["w28"].equals(scores["batch"]),
        "parent_mib": _parent_mib(),
    }
    NIGHTLY[label] = result
    return result


@pytest.mark.skipif(not SUBSCRIBERS, reason="set BENCH_NIGHTLY_SUBSCRIBERS (make bench-nightly)")
def test_nightly_28_nights(tmp_path):
    root = world(SUBSCRIBERS, days=NIGHTS)
    files = sorted(str(p) for p in (root / "cdr").glob("*.parquet"))
    assert len(files) == NIGHTS
    result = _measure(f"{SUBSCRIBERS:,} subscribers", root, files, root / "registry.parquet", tmp_path)
    # Recorded before the check, so that the table prints either way.
    assert result["identical"], "night 28 with --window 28 scored otherwise than detector score of the 28 days"


@pytest.mark.skipif(not CARRIER, reason="set BENCH_NIGHTLY_CARRIER=4000000 for the carrier size (hours on 2 cores)")
def test_nightly_carrier_scale(tmp_path):
    from bench.scale_world import scale_world

    root = scale_world(CARRIER_ROWS_PER_DAY * NIGHTS, days=NIGHTS, subscribers=CARRIER)
    files = sorted(str(p) for p in (root / "cdr").glob("*.parquet"))
    result = _measure(f"carrier {CARRIER:,} subscribers", root, files, root / "registry.parquet", tmp_path,
                      nightly_options=("--memory-limit", CARRIER_LIMIT), score_options=("--memory-limit", CARRIER_LIMIT))
    result["nightly_limit"] = CARRIER_LIMIT
    assert result["identical"]


@pytest.mark.skipif(not SUBSCRIBERS, reason="set BENCH_NIGHTLY_SUBSCRIBERS (make bench-nightly)")
def test_nightly_dask_two_workers(tmp_path):
    """Night 28 with 2 local Dask workers against the local engine: the same scores, and the
    overhead. (The window fits in memory here: with a Dask engine a night is always scored in
    partitions, at least two per worker.)"""
    root = world(SUBSCRIBERS, days=NIGHTS)
    files = sorted(str(p) for p in (root / "cdr").glob("*.parquet"))
    cache = CACHE / f"nightly_{root.name}_w{NIGHTS}" / "default"
    _built_state(cache, files, root / "registry.parquet", NIGHTS, ())
    runs = {name: _fresh_night(cache / "before_last", tmp_path, files[-1], root / "registry.parquet", NIGHTS, *options)
            for name, options in (("local", ()), ("dask", ("--engine", "dask", "--workers", "2")))}
    medians = _medians(tmp_path, runs)
    a, b = (pl.read_parquet(tmp_path / name / "scores.parquet") for name in ("local", "dask"))
    NIGHTLY["dask"] = {"local": medians["local"][0], "dask": medians["dask"][0], "identical": a.equals(b)}
    assert a.equals(b)


def pytest_terminal_summary_nightly(tr) -> None:
    """Called from conftest's summary: the tables of issue 26."""
    for label, r in NIGHTLY.items():
        if label == "dask":
            continue
        build, (w28, w28_rss), (w7, w7_rss), (batch, batch_rss) = (
            r["build"], r["medians"]["w28"], r["medians"]["w7"], r["medians"]["batch"])
        tr.section(f"detector nightly, {label}, {NIGHTS} nights (2 threads)")
        tr.write_line(f"{r['rows']:,} CDR rows in {NIGHTS} daily files; numbers scored on night {NIGHTS}: "
                      f"{r['numbers']['w28']:,} (batch {r['numbers']['batch']:,}); "
                      f"scores.parquet identical to the batch score's: {'yes' if r['identical'] else 'NO'}")
        extra = " ".join(build["options"])
        tr.write_line(f"building the state, --window {build['window']} {extra}(timed when built, {build['built']}):")
        tr.write_line(f"{'night':>5} {'rows added':>11} {'seconds':>8} {'peak MiB':>9}")
        for night, rows in zip(build["nights"], r["night_rows"], strict=True):
            tr.write_line(f"{night['night']:>5} {rows:>11,} {night['seconds']:>8.2f} {night['rss']:>9,.0f}")
        tr.write_line(f"night {NIGHTS} again, fresh processes on copies of the state after night {NIGHTS - 1}, and the "
                      f"batch score of the {NIGHTS} files: median of {ROUNDS} interleaved rounds after a warm-up")
        tr.write_line(f"{'run':<34} {'seconds':>8} {'peak MiB':>9}")
        for name, (s, m) in (("nightly --window 28", (w28, w28_rss)), ("nightly --window 7", (w7, w7_rss)),
                             (f"score, {NIGHTS} days' files", (batch, batch_rss))):
            tr.write_line(f"{name:<34} {s:>8.2f} {m:>9,.0f}")
        tr.write_line(f"night {NIGHTS} window 28 / batch score: {w28 / batch:.3f} (target <= {TARGET_VS_BATCH}: "
                      f"{'met' if w28 / batch <= TARGET_VS_BATCH else 'MISSED'})")
        tr.write_line(f"night {NIGHTS} window 28 / window 7:    {w28 / w7:.3f} (target <= {TARGET_VS_WINDOW_7}: "
                      f"{'met' if w28 / w7 <= TARGET_VS_WINDOW_7 else 'MISSED'})")
        tr.write_line(f"state on disk {r['state_bytes'] / 2**20:,.1f} MiB (events {r['events_bytes'] / 2**20:,.1f} MiB) "
                      f"vs raw Parquet {r['raw_bytes'] / 2**20:,.1f} MiB: {r['state_bytes'] / r['raw_bytes']:.2f}x")
        if "nightly_limit" in r:
            tr.write_line(f"nightly memory limit: {r['nightly_limit']}; batch score: --memory-limit {CARRIER_LIMIT}")
        tr.write_line(f"(peak RSS is wait4's ru_maxrss, at least this pytest process's own {r['parent_mib']:,.0f} MiB)")
    d = NIGHTLY.get("dask")
    if d:
        tr.write_line(f"Dask, 2 local workers, night {NIGHTS}: {d['dask']:.1f} s vs local {d['local']:.1f} s "
                      f"(overhead {d['dask'] / d['local'] - 1:+.0%}); scores.parquet identical: "
                      f"{'yes' if d['identical'] else 'NO'}")
