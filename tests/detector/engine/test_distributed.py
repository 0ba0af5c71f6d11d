"""The Dask engine: the same partitions and kernels as the local engine, the same outputs."""

import textwrap

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tests.detector.engine.test_partitioned import TINY, assert_same_outputs, run_cli, score_args

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def local_run(noisy_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("local")
    assert run_cli(*score_args(noisy_world, out, "--memory-limit", TINY)) == 0
    return out


def test_dask_with_two_workers_equals_local(noisy_world, local_run, tmp_path, capsys):
    spill = tmp_path / "spill"
    # The same memory limit gives the same partitions, so even the file's bytes are the same.
    code = run_cli(*score_args(noisy_world, tmp_path / "dask", "--engine", "dask", "--workers", 2, "--tmp-dir", spill,
                               "--memory-limit", TINY))
    assert code == 0, capsys.readouterr().err
    assert " partitions " in capsys.readouterr().out
    assert_same_outputs(tmp_path / "dask", local_run)
    assert (tmp_path / "dask" / "scores.parquet").read_bytes() == (local_run / "scores.parquet").read_bytes()
    assert list(spill.iterdir()) == []


def test_dask_features_equal_local(noisy_world, tmp_path):
    args = ["features", "--cdr", noisy_world / "cdr", "--subscribers", noisy_world / "subscribers.csv"]
    assert run_cli(*args, "--out", tmp_path / "local.parquet", "--memory-limit", TINY) == 0
    assert run_cli(*args, "--out", tmp_path / "dask.parquet", "--engine", "dask", "--workers", 2) == 0
    assert_frame_equal(pl.read_parquet(tmp_path / "dask.parquet"), pl.read_parquet(tmp_path / "local.parquet"),
                       check_exact=True)


def test_a_worker_that_dies_is_replaced_and_its_partition_rerun(noisy_world, local_run, tmp_path):
    """A preloaded worker plugin kills the worker process the first time it starts partition 0."""
    marker = tmp_path / "died-once"
    preload = tmp_path / "die_once.py"
    preload.write_text(textwrap.dedent(f"""
        import os
        import pathlib

        import detector.engine.distributed as engine

        # A preload may run more than once in a worker: wrap the original only.
        _run = getattr(engine, "_original_run_partition", engine.run_partition)
        engine._original_run_partition = _run

        def run_partition(job):
            marker = pathlib.Path({str(marker)!r})
            if job.partition.index == 0 and not marker.exists():
                marker.touch()
                os._exit(1)  # the worker process dies mid-task
            return _run(job)

        engine.run_partition = run_partition
    """))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  preload=[str(preload)]) as cluster:
        code = run_cli(*score_args(noisy_world, tmp_path / "dask", "--engine", "dask",
                                   "--scheduler", cluster.scheduler_address))
    assert code == 0
    assert marker.exists()
    assert_same_outputs(tmp_path / "dask", local_run)


def test_workers_without_dask_engine_is_a_usage_error(noisy_world, tmp_path, capsys):
    assert run_cli(*score_args(noisy_world, tmp_path / "out", "--workers", 2)) == 2
    assert "--engine dask" in capsys.readouterr().err
