"""Run the engine's hot path (ingest -> features) once in this process and report as JSON.

Used by the benchmarks in a child process, so that peak RSS is the engine's alone and a cold run
(empty numba cache) can be told from a warm one:

    python -m bench.run_engine WORLD_DIR
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main(root: str) -> None:
    start = time.perf_counter()
    from bench.worlds import cdr_files
    from detector.engine.pipeline import feature_table, read_inputs

    inputs = read_inputs(cdr_files(Path(root)), Path(root) / "registry.parquet")
    table = feature_table(inputs, core_only=True)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "rows": inputs.batch.cdrs.height, "numbers": table.height,
                      "peak_rss_mib": peak_rss_kib() / 1024}))


def peak_rss_kib() -> int:
    """This process's peak resident set (VmHWM). Not ``ru_maxrss``: Linux carries the parent's
    high-water mark over a fork and exec, so a child of a big pytest process would report that."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main(sys.argv[1])
