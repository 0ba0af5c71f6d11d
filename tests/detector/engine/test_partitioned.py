"""The out-of-core engine: split into partitions on disk, it gives the in-memory result exactly,
and it cleans up after itself whatever happens."""

import signal
import subprocess
import sys
import time

import polars as pl
import pyarrow.ipc as pa_ipc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from detector.cli import main
from detector.engine import partitioned, pipeline, sorted_output
from detector.engine.partitioned import BASELINE_BYTES, BYTES_PER_ROW, estimate_rows, parse_size, partition_count

#: A memory limit so small that the test world is split into several partitions.
TINY = "1MB"


def run_cli(*args):
    """Run the CLI in-process; return its exit code."""
    try:
        main([str(a) for a in args])
    except SystemExit as exc:
        return exc.code or 0
    return 0


def score_args(world, out, *extra):
    return ["score", "--cdr", world / "cdr", "--subscribers", world / "subscribers.csv",
            "--allowlist", world / "allowlist.csv", "--out", out, "--top", 0, *extra]


def assert_same_outputs(a, b):
    assert_frame_equal(pl.read_parquet(a / "scores.parquet"), pl.read_parquet(b / "scores.parquet"), check_exact=True)
    for name in ("flagged.csv", "rejects.csv"):
        assert_frame_equal(pl.read_csv(a / name, infer_schema=False), pl.read_csv(b / name, infer_schema=False))


@pytest.fixture(scope="module")
def in_memory_run(noisy_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("in_memory")
    assert run_cli(*score_args(noisy_world, out)) == 0
    return out


def test_partitioned_score_equals_in_memory(noisy_world, in_memory_run, tmp_path, capsys):
    spill = tmp_path / "spill"
    assert run_cli(*score_args(noisy_world, tmp_path / "out", "--memory-limit", TINY, "--tmp-dir", spill)) == 0
    said = capsys.readouterr().out
    parts = int(said.split(" partitions")[0].rsplit(" ", 1)[1])
    assert parts >= 4, said
    assert_same_outputs(tmp_path / "out", in_memory_run)
    assert list(spill.iterdir()) == []  # the spilled partitions are gone
    # The report's dealer section, from the registry the run keeps after the spill.
    dealers = [_section((out / "report.html").read_text(), "dealers") for out in (tmp_path / "out", in_memory_run)]
    assert dealers[0] == dealers[1] and "<table" in dealers[0]


def _section(page, anchor):
    """The HTML of one section of the report."""
    return page.split(f'<section id="{anchor}">', 1)[1].split("</section>", 1)[0]


def test_partitions_option_sets_the_count_whatever_the_memory_limit(noisy_world, in_memory_run, tmp_path, capsys):
    # Three partitions, though the default limit would read this world whole.
    assert run_cli(*score_args(noisy_world, tmp_path / "three", "--partitions", 3)) == 0
    assert " in 3 partitions" in capsys.readouterr().out
    assert_same_outputs(tmp_path / "three", in_memory_run)
    # One partition: read whole, even under a limit that would split it.
    assert run_cli(*score_args(noisy_world, tmp_path / "one", "--partitions", 1, "--memory-limit", TINY)) == 0
    assert " partitions" not in capsys.readouterr().out
    assert_same_outputs(tmp_path / "one", in_memory_run)
    assert run_cli(*score_args(noisy_world, tmp_path / "zero", "--partitions", 0)) == 2


def test_partitioned_features_equal_in_memory(noisy_world, tmp_path, monkeypatch):
    args = ["features", "--cdr", noisy_world / "cdr", "--subscribers", noisy_world / "subscribers.csv"]
    assert run_cli(*args, "--out", tmp_path / "whole.parquet") == 0
    # The tiny limit also cuts the table in ranges of msisdn, sorted and written one at a time.
    ranges = []
    sink = pipeline.sink_ranges
    monkeypatch.setattr(pipeline, "sink_ranges",
                        lambda directory, *a: (ranges.append(len(list(directory.glob("range-*")))), sink(directory, *a)))
    assert run_cli(*args, "--out", tmp_path / "parts.parquet", "--memory-limit", TINY,
                   "--rejects", tmp_path / "parts_rejects.csv") == 0
    assert ranges[0] >= 3
    whole = pl.read_parquet(tmp_path / "whole.parquet")
    assert whole.height > 5000
    assert_frame_equal(pl.read_parquet(tmp_path / "parts.parquet"), whole, check_exact=True)
    assert (tmp_path / "parts_rejects.csv").read_text() == (tmp_path / "rejects.csv").read_text()


def test_an_lz4_spill_gives_the_same_outputs(noisy_world, in_memory_run, tmp_path, monkeypatch):
    """``--spill-compression lz4`` reaches every file a run spills: the partitions and the
    feature table's ranges."""
    written = []
    for module in (partitioned, sorted_output):
        monkeypatch.setattr(module, "write_ipc", lambda frame, path, compression, write=module.write_ipc: (
            written.append(compression), write(frame, path, compression)))
    assert run_cli(*score_args(noisy_world, tmp_path / "out", "--memory-limit", TINY,
                               "--spill-compression", "lz4")) == 0
    assert_same_outputs(tmp_path / "out", in_memory_run)
    args = ["features", "--cdr", noisy_world / "cdr", "--subscribers", noisy_world / "subscribers.csv"]
    assert run_cli(*args, "--out", tmp_path / "whole.parquet") == 0
    assert run_cli(*args, "--out", tmp_path / "parts.parquet", "--memory-limit", TINY,
                   "--spill-compression", "lz4") == 0
    assert_frame_equal(pl.read_parquet(tmp_path / "parts.parquet"), pl.read_parquet(tmp_path / "whole.parquet"),
                       check_exact=True)
    assert len(written) > 10 and set(written) == {"lz4"}
    assert run_cli(*args, "--out", tmp_path / "bad.parquet", "--spill-compression", "zstd") == 2


def test_spill_files_read_back_as_written_and_lz4_is_smaller(tmp_path):
    from detector.engine.spill_files import COMPRESSIONS, read_ipc, write_ipc

    frame = pl.DataFrame({"id": pl.int_range(0, 100_000, eager=True) // 7, "flags": pl.Series([3] * 100_000, dtype=pl.Int8),
                          "key": pl.Series([None, 5] * 50_000, dtype=pl.Int64),
                          "hash": pl.int_range(0, 100_000, eager=True).hash(seed=1)})
    sizes = {}
    for compression in COMPRESSIONS:
        write_ipc(frame, tmp_path / f"{compression}.arrow", compression)
        assert_frame_equal(pl.read_ipc(tmp_path / f"{compression}.arrow"), frame, check_exact=True)
        sizes[compression] = (tmp_path / f"{compression}.arrow").stat().st_size
        # Several files come back in the order given, as one chunk.
        parts = [(0, 1), (1, 40_000), (40_001, 59_999), (99_999, 1)]
        paths = [tmp_path / f"{compression}-{i}.arrow" for i in range(len(parts))]
        for (offset, length), path in zip(parts, paths):
            write_ipc(frame.slice(offset, length), path, compression)
        read = read_ipc(paths[::-1])
        assert read.n_chunks() == 1
        assert_frame_equal(read, pl.concat([frame.slice(o, n) for o, n in parts[::-1]]), check_exact=True)
        assert_frame_equal(read_ipc(paths[:1]), frame.head(1), check_exact=True)
    assert sizes["lz4"] < sizes["none"] / 2


@pytest.mark.parametrize("half", ["partition_features", "finish_partition"])
def test_a_failing_partition_leaves_no_outputs_and_no_spill(noisy_world, tmp_path, monkeypatch, capsys, half):
    """Either half of a partition's work failing, on this thread or the scoring one."""
    def broken(*args):
        raise MemoryError("partition too large")

    monkeypatch.setattr(partitioned, half, broken)
    spill = tmp_path / "spill"
    code = run_cli(*score_args(noisy_world, tmp_path / "out", "--memory-limit", TINY, "--tmp-dir", spill))
    assert code == 1
    assert "MemoryError" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    assert list(spill.iterdir()) == []


def test_out_of_disk_while_spilling_is_one_error_exit_1(noisy_world, tmp_path, monkeypatch, capsys):
    new_file = pa_ipc.new_file

    def full(path, *args, **kwargs):
        # A real write failing as on a full disk: /dev/full takes no bytes (ENOSPC).
        return new_file("/dev/full", *args, **kwargs)

    monkeypatch.setattr(pa_ipc, "new_file", full)
    spill = tmp_path / "spill"
    code = run_cli(*score_args(noisy_world, tmp_path / "out", "--memory-limit", TINY, "--tmp-dir", spill))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("Error: out of disk space in the temporary directory"), err
    assert "--tmp-dir" in err[0]
    assert list(spill.iterdir()) == []


def test_a_run_killed_halfway_leaves_no_partial_outputs(noisy_world, tmp_path):
    spill, out = tmp_path / "spill", tmp_path / "out"
    out.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "detector", *map(str, score_args(
        noisy_world, out, "--memory-limit", TINY, "--tmp-dir", spill))],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until it is spilling partitions, then stop it the way a job scheduler would.
    deadline = time.monotonic() + 60
    while not list(spill.glob("*/part-*/*.arrow")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "Traceback" not in err
    assert list(out.iterdir()) == []
    assert list(spill.iterdir()) == []


def test_partition_count_follows_rows_and_limit():
    assert partition_count(1000, 4 * 2**30) == 1
    rows = 50_000_000
    count = partition_count(rows, 4 * 2**30)
    # Each partition holds about twice its share of the rows; that must fit the budget.
    assert 2 * rows / count * BYTES_PER_ROW <= 4 * 2**30 - BASELINE_BYTES
    assert partition_count(rows, 4 * 2**30, held=2 * 2**30) > count
    assert partition_count(rows, 2 * 2**30) > count
    # Two partitions at once: each gets half the room, so there are about twice as many.
    assert partition_count(rows, 4 * 2**30, in_flight=2) >= 2 * count - 1
    # An input that fits whole is read whole, however many partitions would run at once.
    assert partition_count(1000, 4 * 2**30, in_flight=2) == 1
    # Held memory beyond the limit: partitions get a quarter of the limit, not a sliver of it.
    assert partition_count(200_000_000, 6 * 2**30, held=8 * 2**30) == partition_count(
        200_000_000, 6 * 2**30, held=int(4.5 * 2**30)) <= 2 * 200_000_000 * BYTES_PER_ROW // (6 * 2**30 // 4) + 1


def test_parse_size():
    assert parse_size("4GiB") == 4 * 2**30
    assert parse_size("512MB") == 512 * 10**6
    assert parse_size("3.5g") == int(3.5 * 2**30)
    assert parse_size("1000") == 1000
    for bad in ("", "lots", "-1G", "4XB"):
        with pytest.raises(ValueError):
            parse_size(bad)


def test_bad_memory_limit_is_a_usage_error(noisy_world, tmp_path, capsys):
    assert run_cli(*score_args(noisy_world, tmp_path / "out", "--memory-limit", "lots")) == 2
    assert "--memory-limit" in capsys.readouterr().err


def test_row_estimate_is_exact_for_parquet_and_close_for_csv(noisy_world, tmp_path):
    cdrs = pl.read_csv(noisy_world / "cdr" / "*.csv", infer_schema=False)
    estimate = estimate_rows([noisy_world / "cdr"])
    assert 0.8 * cdrs.height < estimate < 1.25 * cdrs.height
    cdrs.write_parquet(tmp_path / "all.parquet")
    assert estimate_rows([tmp_path / "all.parquet"]) == cdrs.height


def test_the_reports_shared_handsets_equal_in_memory(noisy_world):
    """The report's shared-IMEI table is assembled from the partitions' own callers."""
    from detector.engine.pipeline import Engine, partitioned_scores, read_inputs, score_inputs
    from detector.outputs.report import shared_imeis
    from models.model_file import SHIPPED_MODEL, load_model

    model = load_model(SHIPPED_MODEL)
    inputs = read_inputs([noisy_world / "cdr"], noisy_world / "subscribers.csv")
    whole = score_inputs(inputs, model)
    expected = shared_imeis(inputs.batch.cdrs, whole.flagged)
    assert expected.height > 3 and expected["flagged_sims"].sum() > 0
    _, result, imeis = partitioned_scores([noisy_world / "cdr"], model, Engine(), 5,
                                          subscribers=noisy_world / "subscribers.csv")
    assert_frame_equal(imeis, expected)


def test_what_the_spill_gathers_does_not_depend_on_the_batch_size(noisy_world, tmp_path):
    """The context gathered over many small batches equals one batch's, and the shared handsets
    in it are those of the whole input."""
    from concurrent.futures import ThreadPoolExecutor

    from detector.engine.partitioned import profile_registry, spill_cdrs
    from detector.engine.pipeline import read_inputs
    from detector.inputs.registry import read_registry
    from features.build import number_id

    registry = read_registry(noisy_world / "subscribers.csv").subscribers
    contexts = []
    for batch_rows in (1_000_000, 7_000):
        (tmp_path / str(batch_rows)).mkdir()
        with ThreadPoolExecutor(1) as aside:
            spilled = spill_cdrs([noisy_world / "cdr"], tmp_path / str(batch_rows), 3,
                                 profile=profile_registry(registry, None, aside), batch_rows=batch_rows)
        contexts.append(spilled.context)
    one, many = contexts
    assert (one.days, one.end) == (many.days, many.end)
    cdrs = read_inputs([noisy_world / "cdr"]).batch.cdrs
    shared = (cdrs.filter(pl.col("imei").is_not_null())
              .group_by(number_id(pl.col("imei")).alias("imei"))
              .agg(number_id(pl.col("caller")).n_unique().cast(pl.Int64).alias("sims"))
              .filter(pl.col("sims") > 1).sort("imei"))
    assert shared.height >= 3
    assert_frame_equal(one.imei_sims.sort("imei"), shared)
    assert_frame_equal(many.imei_sims.sort("imei"), shared)
    assert_frame_equal(many.registry, one.registry)


@pytest.fixture(scope="module")
def text_senders_world(noisy_world, tmp_path_factory):
    """The noisy world with some rows from callers whose number is not a plain integer
    (alphanumeric SMS senders, a short code with a leading zero), one of them on a handset
    other SIMs use too, and a handset shared by other SIMs whose IMEI has a leading zero: the
    integer rows the engine spills cannot give back their text. Some rows call such numbers too."""
    import shutil

    root = tmp_path_factory.mktemp("text_senders")
    (root / "cdr").mkdir()
    shutil.copy(noisy_world / "subscribers.csv", root / "subscribers.csv")
    shared = "359000000000017"
    for path in sorted((noisy_world / "cdr").glob("*.csv")):
        cdrs = pl.read_csv(path, infer_schema=False).with_row_index("i")
        sender = pl.col("i") % 97
        cdrs = cdrs.with_columns(
            pl.when(sender == 0).then(pl.lit("VIETTEL")).when(sender == 1).then(pl.lit("Shopee"))
            .when(sender == 2).then(pl.lit("09029")).otherwise(pl.col("caller")).alias("caller"),
            pl.when(sender <= 4).then(pl.lit(shared)).when(sender <= 8).then(pl.lit("012345678901234"))
            .otherwise(pl.col("imei")).alias("imei"),
            pl.when(sender == 3).then(pl.lit("09029")).when(sender == 5).then(pl.lit("VIETTEL"))
            .otherwise(pl.col("callee")).alias("callee"),
        )
        cdrs.drop("i").write_csv(root / "cdr" / path.name)
    return root


def test_the_registry_profile_is_made_while_streaming_only_when_memory_allows(noisy_world, tmp_path, monkeypatch):
    """Under no limit the registry's profile is computed beside the stream, on a thread of its
    own; under a tiny one before the stream, on the calling thread, so that the caller can let go
    of the registry. The context is the same."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from detector.inputs.registry import read_registry

    registry = read_registry(noisy_world / "subscribers.csv").subscribers
    threads = []
    profile = partitioned.registry_profile
    monkeypatch.setattr(partitioned, "registry_profile",
                        lambda reg: (threads.append(threading.current_thread()), profile(reg))[1])
    contexts = []
    for limit in (None, 1):
        (tmp_path / str(limit)).mkdir()
        with ThreadPoolExecutor(1) as aside:
            profiling = partitioned.profile_registry(registry, limit, aside)
            assert profiling.done() or limit is None  # aside, it may or may not have finished
            contexts.append(partitioned.spill_cdrs([noisy_world / "cdr"], tmp_path / str(limit), 3,
                                                   profile=profiling).context)
    assert threads[0] is not threading.main_thread()
    assert threads[1] is threading.main_thread()
    aside, before = contexts
    assert aside.registry.height == registry.height
    assert_frame_equal(aside.registry, before.registry, check_exact=True)
    assert aside.registry_offsets == before.registry_offsets


def test_callers_that_are_not_numbers_survive_the_spill(text_senders_world, tmp_path):
    """Their features, scores and shared handsets equal the in-memory run's, text included."""
    from detector.engine.pipeline import Engine, partitioned_scores, read_inputs, score_inputs
    from detector.outputs.report import shared_imeis
    from models.model_file import SHIPPED_MODEL, load_model

    world = text_senders_world
    args = ["features", "--cdr", world / "cdr", "--subscribers", world / "subscribers.csv"]
    assert run_cli(*args, "--out", tmp_path / "whole.parquet") == 0
    assert run_cli(*args, "--out", tmp_path / "parts.parquet", "--partitions", 4) == 0
    whole = pl.read_parquet(tmp_path / "whole.parquet")
    assert whole.filter(pl.col("msisdn").is_in(["VIETTEL", "Shopee", "09029"]))["sms_out"].min() > 10
    assert_frame_equal(pl.read_parquet(tmp_path / "parts.parquet"), whole, check_exact=True)

    model = load_model(SHIPPED_MODEL)
    inputs = read_inputs([world / "cdr"], world / "subscribers.csv")
    in_memory = score_inputs(inputs, model)
    _, result, imeis = partitioned_scores([world / "cdr"], model, Engine(), 4, subscribers=world / "subscribers.csv")
    assert_frame_equal(result.scores, in_memory.scores, check_exact=True)
    assert_frame_equal(imeis, shared_imeis(inputs.batch.cdrs, in_memory.flagged))


def test_the_spill_keeps_every_pair_of_every_shared_handset(text_senders_world, tmp_path):
    from detector.engine.partitioned import spill_cdrs
    from detector.engine.pipeline import read_inputs

    cdrs = read_inputs([text_senders_world / "cdr"]).batch.cdrs
    pairs = cdrs.select("imei", "caller").drop_nulls().unique()
    expected = pairs.filter(pl.col("caller").n_unique().over("imei") > 1)
    assert expected.filter(pl.col("imei") == "359000000000017")["caller"].is_in(["VIETTEL", "Shopee", "09029"]).sum() == 3
    assert expected.filter(pl.col("imei") == "012345678901234").height > 1
    spilled = spill_cdrs([text_senders_world / "cdr"], tmp_path, 3, batch_rows=50_000)
    assert_frame_equal(spilled.shared_imeis.sort(pl.all()), expected.sort(pl.all()))


def test_partitions_run_two_at_a_time_as_one_at_a_time(noisy_world, tmp_path):
    """Results in partition order, each reported as it is collected, and the same values
    whether the partitions run one or two at a time."""
    from detector.engine.partitioned import partition_jobs, run_locally, spill_cdrs

    spilled = spill_cdrs([noisy_world / "cdr"], tmp_path, 5)
    jobs = partition_jobs(spilled)
    done = []
    two = run_locally(jobs, done.append, in_flight=2)
    one = run_locally(jobs, in_flight=1)
    assert [r.index for r in two] == [r.index for r in one] == list(range(5))
    assert done == two
    for a, b in zip(one, two, strict=True):
        assert a.duplicates == b.duplicates
        assert_frame_equal(a.features, b.features, check_exact=True)
    # Asked to, a run removes each partition's files as soon as that partition is done.
    def files(of):
        return {path for job in of for path in (*job.files, *job.incoming_files)}

    left = []
    run_locally(jobs, lambda _r: left.append({path for path in files(jobs) if path.exists()}), remove_files=True)
    assert len(left) == 5 and files(jobs[4:]) and not left[-1]
    for r, existing in enumerate(left):
        assert not existing & files(jobs[:r + 1]) and files(jobs[r + 1:]) <= existing


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 4), st.integers(0, 2), st.integers(0, 3)), max_size=40),
       st.booleans())
def test_own_rows_come_sorted_by_caller_without_duplicates_in_one_gather(rows, hashes_collide):
    """Against dropping the duplicates first, then a stable sort; a shared hash merges nothing."""
    frame = pl.DataFrame(rows, schema={"caller_id": pl.Int64, "ts": pl.Int64, "imei": pl.Int64}, orient="row")
    hashes = pl.Series([5] * frame.height, dtype=pl.UInt64) if hashes_collide else frame.hash_rows(seed=1)
    got, duplicates = partitioned._own_by_caller(frame.with_columns(hashes.alias(partitioned._ROW_HASH)))
    distinct = frame.unique(maintain_order=True)
    assert duplicates == frame.height - distinct.height
    assert_frame_equal(got, distinct.sort("caller_id", maintain_order=True), check_exact=True)
    assert got["caller_id"].flags["SORTED_ASC"] or got.height < 2


def test_incoming_rows_repeated_count_once_and_equal_hashes_alone_do_not_merge():
    rows = pl.DataFrame({"caller_id": [1, 1, 2, 3], "callee_id": [9, 9, 9, 9], "flags": [1, 1, 1, 1],
                         "_row": [7, 7, 8, 8]}, schema_overrides={"flags": pl.Int8, "_row": pl.UInt64})
    # Rows 0 and 1 are one event spilled twice; rows 2 and 3 are different events whose hashes met.
    got = partitioned._without_duplicates(rows).sort("caller_id")
    assert got.columns == ["caller_id", "callee_id", "flags"]
    assert got["caller_id"].to_list() == [1, 2, 3]
    assert partitioned._without_duplicates(rows[2:]).height == 2
    assert partitioned._without_duplicates(rows[:0]).height == 0


def test_the_spill_gives_back_every_row_as_event_columns_gave_it(text_senders_world, tmp_path):
    """Callee keys included: spilled as null where they equal the callee's id, and filled back."""
    from detector.engine.pipeline import read_inputs
    from detector.inputs.mapping import Mapping
    from features.build import event_columns

    spilled = partitioned.spill_cdrs([text_senders_world / "cdr"], tmp_path, 3, batch_rows=50_000)
    # Exact duplicates are spilled and dropped in each partition; the in-memory input drops them on reading.
    back = pl.concat([partitioned._own_by_caller(partitioned._read_own(spilled.partition_files(i)[0]))[0]
                      for i in range(3)])
    expected = event_columns(read_inputs([text_senders_world / "cdr"]).batch.cdrs, Mapping().country_code,
                             imei_ids=True)
    # Calls to "09029" (key 9029) and "VIETTEL" (not an integer): keys that are not the callee's id.
    assert expected.filter(pl.col("callee_key") != pl.col("callee_id"))["callee_key"].n_unique() >= 2
    assert_frame_equal(back.sort(pl.all()), expected.sort(pl.all()), check_exact=True)


def test_the_days_of_a_batch_are_counted_alike_on_one_day_and_across_midnight():
    """Against the distinct dates of the same times, before 1970 too (floor, not truncation)."""
    import datetime as dt

    times = [[], [dt.datetime(2026, 11, 2, 0, 0)], [dt.datetime(2026, 11, 2, 0, 0), dt.datetime(2026, 11, 2, 23, 59)],
             [dt.datetime(2026, 11, 2, 23, 59), dt.datetime(2026, 11, 4, 0, 1), dt.datetime(2026, 11, 3, 12)],
             [dt.datetime(1969, 12, 31, 23), dt.datetime(1970, 1, 1, 1)]]
    for batch in times:
        ts = pl.Series(batch, dtype=pl.Datetime("us"))
        expected = {(d - dt.date(1970, 1, 1)).days for d in ts.dt.date().unique().to_list()}
        assert partitioned._days(ts.dt.epoch("us")) == expected


def test_what_a_partitioned_run_returns_holds_none_of_its_feature_context(noisy_world, tmp_path):
    """The context holds the registry's features (GBs for a carrier's registry): the outputs are
    written after the run returns, and must not find it still in memory."""
    import gc

    from detector.engine.pipeline import Engine, partitioned_features, partitioned_scores
    from features.build import FeatureContext
    from models.model_file import SHIPPED_MODEL, load_model

    def contexts() -> int:
        gc.collect()
        return sum(isinstance(o, FeatureContext) for o in gc.get_objects())

    before = contexts()
    scored = partitioned_scores([noisy_world / "cdr"], load_model(SHIPPED_MODEL), Engine(), 3,
                                subscribers=noisy_world / "subscribers.csv")
    featured = partitioned_features([noisy_world / "cdr"], tmp_path / "features.parquet", Engine(), 3,
                                    subscribers=noisy_world / "subscribers.csv")
    assert scored[0].partitions == featured[0].partitions == 3
    assert contexts() == before
