"""The Dask engine: the partitions of :mod:`detector.engine.partitioned` become Dask tasks.

Nothing about the features is written twice: each task is :func:`detector.engine.partitioned.run_partition`
on one partition, the function the local engine runs in a loop (as stumpy's ``stumped`` sends
``_stump`` to workers). The shared :class:`~features.build.FeatureContext` and the model are
written to the spill directory and read by a task of their own, which Dask hands to the partition
tasks; unlike scattered data, Dask can recompute them if the worker holding them dies, and it
re-runs a partition whose worker died. Each task reads its partition's files itself, so on a real
cluster the spill directory (``--tmp-dir``) must be a file system every worker mounts at the same
path.

Dask is an optional extra (``pip install '.[dask]'``); only this module imports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path

from detector.engine.partitioned import PartitionJob, PartitionResult, load_context, run_partition, save_context

#: How often Dask re-runs a partition that raised (a worker that died is handled by Dask's own
#: ``distributed.scheduler.allowed-failures``).
RETRIES = 2


def run_on_dask(
    jobs: Sequence[PartitionJob],
    directory: Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    on_done: Callable[[PartitionResult], None] | None = None,
) -> list[PartitionResult]:
    """Run the partitions' jobs as Dask tasks and return their results in partition order.

    With ``scheduler`` (an address such as ``tcp://10.0.0.5:8786``) the tasks go to that running
    cluster; otherwise a ``LocalCluster`` of ``workers`` processes (one thread each) is started for
    the run and closed after it. ``directory`` is the run's spill directory.
    """
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise RuntimeError("the Dask engine needs the dask extra: pip install 'detector[dask]'") from None
    if not jobs:
        return []
    from models.model_file import load_model, save_model

    shared = jobs[0]
    context_path = save_context(shared.context, directory)
    model_path = None
    if shared.model is not None:
        model_path = directory / "model.skops"
        save_model(shared.model, model_path)
    cluster = None
    if scheduler is None:
        n = workers or 2
        # The partition count is what bounds a worker's memory (one partition at a time). Dask's
        # own per-worker limit would pause, then kill, a worker that a tight --memory-limit left
        # below the program's baseline, so it keeps its default share of the machine.
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        with Client(scheduler or cluster) as client:
            context = client.submit(load_context, context_path, key="detector-context", pure=False)
            model = (client.submit(load_model, model_path, key="detector-model", pure=False)
                     if model_path is not None else None)
            futures = [
                client.submit(_run, dataclasses.replace(job, context=None, model=None), context, model,
                              key=f"detector-partition-{job.partition.index}-of-{job.partition.count}",
                              retries=RETRIES, pure=False)
                for job in jobs
            ]
            results: dict[int, PartitionResult] = {}
            for future in as_completed(futures):
                result = future.result()
                results[result.index] = result
                if on_done is not None:
                    on_done(result)
            return [results[job.partition.index] for job in jobs]
    finally:
        if cluster is not None:
            cluster.close()


def _run(job: PartitionJob, context: object, model: object) -> PartitionResult:
    return run_partition(dataclasses.replace(job, context=context, model=model))
