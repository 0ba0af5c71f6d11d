"""Benchmark sizes, and the summary `make bench` prints: DuckDB time / engine time, peak RSS."""

from __future__ import annotations

import os

import pytest

#: Subscribers per benchmark world (7 days each). `make bench` runs 1x, 2x and 4x of 25k;
#: CI runs the small size only.
SIZES = [int(s) for s in os.environ.get("BENCH_SUBSCRIBERS", "25000,50000,100000").split(",")]
RESULTS: dict[tuple[str, int], dict] = {}


def pytest_generate_tests(metafunc):
    if "subscribers" in metafunc.fixturenames:
        metafunc.parametrize("subscribers", SIZES, scope="module")


@pytest.fixture
def record():
    def _record(kind: str, subscribers: int, **values):
        RESULTS.setdefault((kind, subscribers), {}).update(values)

    return _record


def pytest_terminal_summary(terminalreporter):
    from bench.bench_nightly import NIGHTLY, pytest_terminal_summary_nightly
    from bench.bench_scale import SCALE, pytest_terminal_summary_scale

    if SCALE:
        pytest_terminal_summary_scale(terminalreporter)
    if NIGHTLY:
        pytest_terminal_summary_nightly(terminalreporter)
    if not RESULTS:
        return
    tr = terminalreporter
    whole = [(n, RESULTS[("whole process", n)]) for n in SIZES if ("whole process", n) in RESULTS]
    if whole:
        tr.section("whole processes from raw national-form exports (2 threads; ratio = DuckDB / detector)")
        from bench.bench_process import ROUNDS

        tr.write_line(f"median of {ROUNDS} rounds, each running both in turn; MiB: the highest peak RSS of a round")
        tr.write_line(f"{'subscribers':>11} {'rows':>11} {'numbers':>9} {'detector s':>10} {'duckdb s':>9} {'ratio':>6} "
                      f"{'detector MiB':>12} {'duckdb MiB':>10}")
        for n, r in whole:
            tr.write_line(f"{n:>11,} {r['rows']:>11,} {r['numbers']:>9,} {r['detector']:>10.2f} {r['duckdb']:>9.2f} "
                          f"{r['duckdb'] / r['detector']:>6.2f} {r['detector_rss']:>12,.0f} {r['duckdb_rss']:>10,.0f}")
    tr.section("engine vs DuckDB (core features, 2 threads, warm; ratio = DuckDB / engine)")
    tr.write_line("cold s / warm s: a fresh process with an empty / a filled numba cache, imports included;")
    tr.write_line("RSS MiB: peak RSS of the warm process (cold RSS: of the cold one, LLVM compiling included)")
    tr.write_line(f"{'subscribers':>11} {'rows':>11} {'engine s':>9} {'duckdb s':>9} {'ratio':>6} "
                  f"{'cold s':>7} {'warm s':>7} {'RSS MiB':>8} {'cold RSS':>8} {'rows/s':>11}")
    for n in SIZES:
        e, d = RESULTS.get(("engine", n), {}), RESULTS.get(("duckdb", n), {})
        p = RESULTS.get(("process", n), {})
        if not e or not d:
            continue
        ratio = d["seconds"] / e["seconds"]
        tr.write_line(
            f"{n:>11,} {p.get('rows', 0):>11,} {e['seconds']:>9.2f} {d['seconds']:>9.2f} {ratio:>6.2f} "
            f"{p.get('cold_seconds', float('nan')):>7.2f} {p.get('warm_process_seconds', float('nan')):>7.2f} "
            f"{p.get('peak_rss_mib', float('nan')):>8.0f} {p.get('cold_peak_rss_mib', float('nan')):>8.0f} "
            f"{p.get('rows', 0) / e['seconds']:>11,.0f}"
        )
