"""Run one ``detector`` command in this process and report wall time and peak RSS as JSON.

Used by ``bench/bench_scale.py`` in a child process, so that the peak RSS is the run's alone:

    python -m bench.run_detector score --cdr ... --out ...
"""

from __future__ import annotations

import json
import sys
import time

from bench.run_engine import peak_rss_kib


def main(argv: list[str]) -> None:
    from detector.cli import main as detector

    start = time.perf_counter()
    try:
        detector(["--quiet", *argv])
    except SystemExit as exc:
        if exc.code:
            raise
    print(json.dumps({"seconds": time.perf_counter() - start, "peak_rss_mib": peak_rss_kib() / 1024}))


if __name__ == "__main__":
    main(sys.argv[1:])
