"""Out-of-core runs: inputs larger than memory, split into hash partitions of the numbers on disk.

The CDR files are read in batches (:class:`detector.inputs.cdr.CdrStream`); each batch is normalised
and turned into the integer columns the features read (:func:`features.build.event_columns`), and
those rows are spilled as Arrow IPC files to the partition of their caller and, when that is
another one, to the partition of their callee (:func:`features.build.partition_of`), there only
as who called whom (:data:`~features.build.INCOMING_COLUMNS`) with a hash of the whole row. The text is
parsed, hashed and dropped once per row, not once per partition that holds a copy. On the way the
spill keeps the days and the last event, and the text of the few callers and IMEIs whose id is
not their number (the report shows the shared handsets' IMEIs: the only text the outputs show
besides the numbers). After it, the numbers that originated
events and the distinct (IMEI, caller) pairs are read back from each partition's own rows. With
the registry they make the :class:`~features.build.FeatureContext` every partition shares. Then
each partition is read back, de-duplicated, and turned into its numbers' features
(:func:`features.build.build_partition_features`) and scores, two partitions at a time here or as
Dask tasks (:mod:`detector.engine.distributed`). Why every feature stays exact across partitions is in
the docstring of :mod:`features.build`.

Exact duplicates are found on the integer rows: rows equal there are equal in every column the
features read (two different cells could only meet by a 64-bit hash collision). They
are counted in the caller's partition; the callee's drops its copies by the row hash. Both
kinds of row carry that hash, so neither partition hashes its rows again to find them.

Everything spilled lives in one temporary directory under ``tmp_dir``, removed when the run ends,
whether it succeeds or fails.
"""

from __future__ import annotations

import datetime as dt
import errno
import gzip
import math
import os
import shutil
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from detector.engine.row_hashes import row_hashes
from detector.engine.sorted_output import cut_points, range_count, write_ranges
from detector.engine.spill_files import read_ipc, write_ipc
from detector.inputs.cdr import CDR_SCHEMA, CdrStream, FileReport, drop_exact_duplicates, duplicate_rows, find_cdr_files
from detector.inputs.legs import leg_pairs
from detector.inputs.mapping import DEFAULT_LEG_TOLERANCE_S, Mapping
from features import kernels
from features.build import (
    HAS_IMEI,
    INCOMING_COLUMNS,
    INCOMING_LEG,
    VOICE,
    FeatureContext,
    Partition,
    build_partition_features,
    by_caller,
    event_columns,
    feature_context,
    number_texts,
    partition_of,
    registry_profile,
    text_names,
)

if TYPE_CHECKING:
    from detector.state.window_edges import EdgeCorrections
    from models.model_file import DetectorModel
    from models.rules import Rule
    from models.scoring import Flags

#: Peak memory per CDR row a partition holds while its features and scores are computed, in
#: bytes. Measured on the 50M-row week, one partition alone: 2.1M rows of its callers and 2.1M
#: incoming peaked 809 MiB above the memory held before it (202 bytes a row); split in 46,
#: 1.1M + 1.1M rows peaked 456 MiB above (226 bytes a row).
BYTES_PER_ROW = 250
#: Peak memory per CDR row of an input read whole (its text columns and all), in bytes:
#: 1M rows of the scale week scored in memory peaked 890 MiB (~490 bytes a row above the baseline).
WHOLE_BYTES_PER_ROW = 500
#: Memory the program needs before holding any rows (Python, Polars, numba, scikit-learn, model).
BASELINE_BYTES = 400 * 2**20
#: Memory held through a partitioned run per registry subscriber: its registry features, shared
#: by every partition, and the allocator's share around them.
BYTES_PER_SUBSCRIBER = 250
#: Partitions a local run works on at once (:func:`run_locally`). Each partition's work has
#: single-threaded stretches (Python, sorts, most kernels); a second partition fills the other
#: core meanwhile. :func:`partition_count` gives each its share of the memory, so the partitions
#: are half as large. Measured on the 50M-row week in 23 partitions: 85.4 s two at a time
#: against 91.0 s with a partition's scores beside the next one's features (one at a time).
IN_FLIGHT = 2
#: Memory per row of the feature table, in bytes (measured: 4M rows of the 56 columns of
#: ``detector features``, 454 bytes a row).
TABLE_BYTES_PER_ROW = 500
#: One caller in this many is kept as a sample of the numbers (:func:`output_cuts`).
SAMPLE_EVERY = 16
#: Batches written to the partitions at once while the next one is read. The writing side
#: (hashing, grouping, then waiting on the file threads) is the longer one; with one writer the
#: cores had idle moments (50M rows: spill 18.8-19.0 s with one, 18.2-18.4 s with two, for one
#: more batch's integer columns in memory, ~0.3 GB).
WRITERS = 2
#: Rows read per batch while spilling (memory use of one batch ~ WHOLE_BYTES_PER_ROW each).
BATCH_ROWS = 1_000_000
#: :func:`~features.build.text_names` of the callers and of the IMEIs (text whose id is not it).
_NAMES_SCHEMA = pl.Schema({"id": pl.Int64, "msisdn": pl.Utf8})
_SHARED_SCHEMA = pl.Schema({"imei": pl.Utf8, "caller": pl.Utf8})
#: Spilled files of a partition: its callers' rows, and the rows that call into it from callers
#: of other partitions (:data:`~features.build.INCOMING_COLUMNS` and :data:`_ROW_HASH` only).
_OWN_FILES, _INCOMING_FILES = "own-", "in-"
#: Column of the spilled rows, own and incoming: a hash of the whole event row. Exact duplicates
#: are dropped on every column in the caller's partition; the callee's has only who called whom,
#: and two different calls between the same numbers must both count there while a duplicate must
#: not. Rows with the same caller, callee and kind could only be confused by a 64-bit hash
#: collision.
_ROW_HASH = "_row"
#: What the incoming rows of an export with incoming legs carry besides :data:`INCOMING_COLUMNS`:
#: the two legs of a call between two home subscribers sit in the callee's partition too, and
#: are matched there as in the caller's (:func:`_without_twins`).
_LEG_COLUMNS = ("ts", "duration_s")


class SpillError(RuntimeError):
    """The temporary directory could not take the spilled partitions (full disk, no permission)."""


def default_memory_limit() -> int:
    """Half of the machine's physical memory, in bytes: room for the OS, caches and other jobs."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def resident_bytes() -> int:
    """This process's resident memory now (Linux; elsewhere its peak so far)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def parse_size(text: str) -> int:
    """Bytes from ``"4GiB"``, ``"512MB"``, ``"3.5G"`` or a plain number of bytes.

    Raises ValueError for anything else.
    """
    units = {"": 1, "b": 1, "k": 2**10, "kb": 10**3, "kib": 2**10, "m": 2**20, "mb": 10**6, "mib": 2**20,
             "g": 2**30, "gb": 10**9, "gib": 2**30, "t": 2**40, "tb": 10**12, "tib": 2**40}
    t = text.strip().lower().replace(" ", "")
    number = t.rstrip("kmgtib")
    unit = t[len(number):]
    try:
        value = float(number)
    except ValueError:
        raise ValueError(f"not a size: {text!r} (use e.g. 4GiB, 512MB)") from None
    if unit not in units or value <= 0:
        raise ValueError(f"not a size: {text!r} (use e.g. 4GiB, 512MB)")
    return int(value * units[unit])


def estimate_rows(paths: Sequence[str | Path]) -> int:
    """About how many rows the CDR files hold: exact for Parquet (from the footer), from the
    length of the first lines for CSV (for gzip, of the first uncompressed lines, taking 4x the
    file size: a typical ratio for CDR text)."""
    total = 0
    for path in find_cdr_files(paths):
        with path.open("rb") as fh:
            head = fh.read(65536)
        if head[:4] == b"PAR1":
            try:
                total += pl.scan_parquet(path).select(pl.len()).collect().item()
            except (pl.exceptions.PolarsError, OSError):
                pass  # reading it properly names the problem
            continue
        size = path.stat().st_size
        if head[:2] == b"\x1f\x8b":
            try:
                with gzip.open(path, "rb") as fh:
                    head = fh.read(65536)
            except (OSError, EOFError, zlib.error):
                continue  # reading it properly names the problem
            size *= 4
        total += size * max(head.count(b"\n"), 1) // max(len(head), 1)
    return total


def memory_left(memory_limit: int, held: int) -> int:
    """The memory a run's work may take beside the ``held`` bytes it keeps throughout: what is
    left of ``memory_limit``, but at least a quarter of it (:func:`partition_count` says why)."""
    return max(memory_limit - held, memory_limit // 4)


def partition_count(rows: int, memory_limit: int, held: int = BASELINE_BYTES, in_flight: int = 1) -> int:
    """How many partitions keep the rows of ``in_flight`` partitions at once within
    ``memory_limit`` beside the ``held`` bytes the run keeps throughout; 1 means the input fits in
    memory whole (:data:`WHOLE_BYTES_PER_ROW`). A partition holds about twice its share of rows
    (its numbers' outgoing rows and the rows calling them), hence the factor 2 once the input is
    split.

    Held memory near or above the limit leaves the partitions a quarter of it: past that, more
    partitions cannot bring the peak under the limit, they only multiply the per-partition work
    (a 16M-subscriber registry once asked for 10,729 partitions of 200M rows)."""
    budget = max(memory_left(memory_limit, held), 16 * 2**20)
    if rows * WHOLE_BYTES_PER_ROW <= budget:
        return 1
    return max(2, math.ceil(2 * in_flight * rows * BYTES_PER_ROW / budget))


@dataclass
class SpilledInput:
    """CDRs spilled to hash partitions under ``directory``, with what crosses partitions."""

    directory: Path
    count: int
    context: FeatureContext
    files: list[FileReport]
    rejects: pl.DataFrame
    rows: int = 0
    #: Numbers that originated an event, and the ids of one in :data:`SAMPLE_EVERY` of them.
    callers: int = 0
    caller_sample: pl.Series = field(default_factory=lambda: pl.Series("caller_id", [], pl.Int64))
    #: ``imei`` and ``caller`` texts of every IMEI more than one caller used, one row per pair:
    #: all the report's shared-handset section needs (:func:`detector.outputs.report.shared_imeis`).
    shared_imeis: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=_SHARED_SCHEMA))
    #: How the files were written (:data:`~detector.engine.spill_files.COMPRESSIONS`); the partitions'
    #: own spilled files are written alike.
    compression: str = "none"
    #: Two legs of one call start at most this many seconds apart (the mapping's ``leg_tolerance_s``).
    leg_tolerance_s: int = DEFAULT_LEG_TOLERANCE_S
    #: The first event's start time (the last one's is the context's ``end``).
    start: dt.datetime | None = None

    def partition_files(self, index: int) -> tuple[list[Path], list[Path]]:
        """The spilled files of partition ``index``: its callers' rows, and the incoming rows."""
        return _partition_files(self.directory, index), _partition_files(self.directory, index, _INCOMING_FILES)


def _partition_files(directory: Path, index: int, kind: str = _OWN_FILES) -> list[Path]:
    return sorted((directory / f"part-{index:05d}").glob(f"{kind}*.arrow"))


@contextmanager
def spill_directory(tmp_dir: str | Path | None = None) -> Iterator[Path]:
    """A new temporary directory under ``tmp_dir`` (default: the system's), removed on exit
    whether the block succeeded or not."""
    try:
        if tmp_dir is not None:
            Path(tmp_dir).mkdir(parents=True, exist_ok=True)
        directory = Path(tempfile.mkdtemp(prefix="detector-spill-", dir=tmp_dir))
    except OSError as exc:
        raise SpillError(f"cannot create a temporary directory in {tmp_dir or tempfile.gettempdir()}: "
                         f"{exc.strerror or exc}") from None
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def spill_cdrs(
    paths: Sequence[str | Path],
    directory: Path,
    count: int,
    *,
    profile: Future[pl.DataFrame] | None = None,
    mapping: Mapping | None = None,
    batch_rows: int = BATCH_ROWS,
    on_rows: Callable[[int], None] | None = None,
    compression: str = "none",
) -> SpilledInput:
    """Read the CDR files in batches and spill their rows to ``count`` hash partitions under
    ``directory`` (Arrow IPC files with ``compression``: :func:`~detector.engine.spill_files.write_ipc`);
    gather the :class:`~features.build.FeatureContext` on the way. ``profile``: the registry's
    :func:`~features.build.registry_profile` (:func:`profile_registry`), if there is a registry.

    Raises :class:`~detector.errors.InputError` for unreadable input and :class:`SpillError`
    when ``directory`` cannot take the files.
    """
    mapping = mapping or Mapping()
    stream = CdrStream(paths, mapping, batch_rows)
    days: set[int] = set()
    start = end = None
    names, imei_names = _DistinctRows(batch_rows), _DistinctRows(batch_rows)
    latest = _LatestRows(mapping.leg_tolerance_s) if mapping.has_incoming_legs else None
    rows = 0
    # Threads write batches' partitions (hashing, grouping and writing them, the longer side of
    # the spill) while this one reads the next batch; :data:`WRITERS` batches in flight at most.
    # The writers hand the files to two more threads: lz4, when asked for, compresses one file
    # on one core. Each batch has its own files, so the order they are written in is no matter.
    with ThreadPoolExecutor(WRITERS) as writer, ThreadPoolExecutor(2) as files:
        pending: list[Future] = []
        for chunk, batch in enumerate(stream):
            rows += batch.height
            events = event_columns(batch, mapping.country_code, imei_ids=True, home_prefixes=mapping.home_prefixes)
            if len(pending) == WRITERS:
                pending.pop(0).result()
            pending.append(writer.submit(_write_partitions, events, directory, count, chunk, files, compression,
                                         mapping.has_incoming_legs))
            days.update(_days(events["ts"]))
            first, last = batch["start_time"].min(), batch["start_time"].max()
            end = last if end is None or (last is not None and last > end) else end
            if latest is not None:
                latest.add(events)
            start = first if start is None or (first is not None and first < start) else start
            names.add(text_names(events["caller_id"], batch["caller"]))
            imei_names.add(text_names(events["imei"], batch["imei"]))
            if on_rows is not None:
                on_rows(batch.height)
            del batch, events
        for written in pending:
            written.result()
        callers, pairs = _own_callers(directory, count)
    if latest is not None:
        end = latest.end() or end
    context = feature_context(
        days=len(days),
        end=end,
        imei_callers=pairs,
        callers=callers,
        registry=None,
        names=names.distinct(_NAMES_SCHEMA),
        partitions=count,
        profile=profile.result() if profile is not None else None,
        absent=stream.absent,
    )
    return SpilledInput(directory=directory, count=count, context=context, files=stream.files,
                        rejects=stream.rejects, rows=rows, callers=callers.len(),
                        caller_sample=callers.gather_every(SAMPLE_EVERY),
                        shared_imeis=_shared_imei_pairs(pairs, context, imei_names.distinct(_NAMES_SCHEMA)),
                        compression=compression, leg_tolerance_s=mapping.leg_tolerance_s, start=start)


def _days(ts: pl.Series) -> set[int]:
    """The days (since the epoch) of the event start times ``ts`` (microseconds). A batch's rows
    nearly always fall on one day, which their first and last show without a pass over all of
    them (distinct dates took ~30 ms of the reading thread's ~240 ms a batch)."""
    first, last = ts.min(), ts.max()
    if first is None:
        return set()
    if first // kernels.US_PER_DAY == last // kernels.US_PER_DAY:
        return {first // kernels.US_PER_DAY}
    return set((ts // kernels.US_PER_DAY).unique().to_list())


def profile_registry(registry: pl.DataFrame, memory_limit: int | None, aside: Executor,
                     batch_rows: int = BATCH_ROWS) -> Future[pl.DataFrame]:
    """The registry's :func:`~features.build.registry_profile` (the features that need no
    traffic), for :func:`spill_cdrs`. Computed on ``aside`` while the CDRs stream if
    ``memory_limit`` (bytes; ``None``: no limit) has room for it beside the batches in flight
    (one read whole, and :data:`WRITERS` as integer columns: about two of ``batch_rows`` read
    whole): the cores have idle moments while reading and writing (50M rows: ~1.7 of 2
    busy). Else computed now, before the batches take their memory, so that the caller can let
    go of the registry's columns the profile reads. (16M subscribers and 200M rows: computed
    after the stream, beside what it left, it peaked at 7.1 GiB, over a 6 GiB limit; aside, at
    7.5 GiB; before the stream, at 5.2-5.5 GiB.)"""
    need = resident_bytes() + 2 * batch_rows * WHOLE_BYTES_PER_ROW + registry.height * BYTES_PER_SUBSCRIBER
    if memory_limit is None or need <= memory_limit:
        return aside.submit(registry_profile, registry)
    done: Future[pl.DataFrame] = Future()
    done.set_result(registry_profile(registry))
    return done


def output_cuts(spilled: SpilledInput, budget: int) -> pl.Series:
    """``msisdn`` values that cut the feature table of ``spilled`` into ranges of at most
    ``budget`` bytes each to sort (:mod:`detector.engine.sorted_output`), from a sample of its numbers:
    the callers and the registry's subscribers."""
    registry = spilled.context.registry
    ids = [spilled.caller_sample]
    if registry is not None:
        ids.append(registry["id"].gather_every(SAMPLE_EVERY))
    rows = spilled.callers + (registry.height if registry is not None else 0)
    sample = number_texts(pl.DataFrame({"id": pl.concat(ids)}).unique(), spilled.context.names)["msisdn"]
    return cut_points(sample, range_count(rows, TABLE_BYTES_PER_ROW, budget))


def _own_callers(directory: Path, count: int) -> tuple[pl.Series, pl.DataFrame]:
    """Every number that originated an event, and the distinct (``imei``, ``caller_id``) pairs,
    from the spilled partitions. A caller's rows are all in its own partition, so each partition's
    distinct values are distinct from every other's: no merging across partitions, which is what
    gathering them batch by batch while spilling spent most of its time on.

    One pass of distinct (caller, IMEI or null) over a partition's rows gives both: its callers
    are the callers of those few rows. (Two passes, callers and pairs each over every row, took
    2.1 s of 50M rows against 1.5 s.)"""
    callers = [pl.Series("caller_id", [], pl.Int64)]
    pairs = [pl.DataFrame(schema={"imei": pl.Int64, "caller_id": pl.Int64})]
    for index in range(count):
        files = _partition_files(directory, index)
        if not files:
            continue
        imei = pl.when((pl.col("flags") & HAS_IMEI) != 0).then(pl.col("imei")).alias("imei")
        distinct = pl.scan_ipc(files).select(imei, "caller_id").unique().collect()
        callers.append(distinct["caller_id"].unique())
        pairs.append(distinct.filter(pl.col("imei").is_not_null()))
    return pl.concat(callers), pl.concat(pairs)


def _shared_imei_pairs(pairs: pl.DataFrame, context: FeatureContext, imei_names: pl.DataFrame) -> pl.DataFrame:
    """(``imei``, ``caller``) texts of the distinct (IMEI id, caller id) ``pairs`` whose IMEI more
    than one caller used (``imei_names``: :func:`~features.build.text_names` of the IMEIs)."""
    shared = pairs.join(context.imei_sims.select("imei"), on="imei", how="semi")
    imeis = number_texts(shared, imei_names if imei_names.height else None, "imei").rename({"msisdn": "text"})
    return number_texts(imeis, context.names, "caller_id").select(pl.col("text").alias("imei"),
                                                                  pl.col("msisdn").alias("caller"))


class _LatestRows:
    """The rows near the end of the input, to find its last call as the in-memory engine does:
    after the incoming leg of each call between two home subscribers is matched with its
    outgoing leg and dropped (:func:`_without_twins`). The last raw row may be such a twin, a
    second or two after the call it belongs to. Its partner starts at most one tolerance
    earlier, and that partner's other candidates one more: rows within ten tolerances of the
    latest start decide the end whatever the batches."""

    def __init__(self, tolerance_s: int) -> None:
        self.tolerance_s = tolerance_s
        self.rows: pl.DataFrame | None = None

    def add(self, events: pl.DataFrame) -> None:
        """Keep the rows of ``events`` (:func:`~features.build.event_columns`) near the latest start so far."""
        rows = events.select(*INCOMING_COLUMNS, *_LEG_COLUMNS)
        both = rows if self.rows is None else pl.concat([self.rows, rows])
        last = both["ts"].max()
        if last is not None:
            self.rows = both.filter(pl.col("ts") >= last - 10 * self.tolerance_s * 1_000_000)

    def end(self) -> dt.datetime | None:
        """The start of the last call once twins are dropped (``None``: no rows)."""
        if self.rows is None or not self.rows.height:
            return None
        last = _without_twins(self.rows, self.tolerance_s)[0]["ts"].max()
        return pl.select(pl.from_epoch(pl.lit(last), "us")).item()


class _DistinctRows:
    """Rows kept distinct as batches arrive. Batches are de-duplicated alone and merged into the
    kept rows only once they add up to as many rows as are kept already, so memory stays within
    about twice the distinct rows. Meant for rows that are few (the callers' texts): when the same
    rows come back batch after batch, every merge re-reads all kept rows (4M callers so gathered
    over 50M CDR rows cost ~27 s)."""

    def __init__(self, least: int) -> None:
        #: Pending rows are never merged before there are this many (one read batch).
        self.least = least
        self.kept: pl.DataFrame | None = None
        self.pending: list[pl.DataFrame] = []
        self.pending_rows = 0

    def add(self, frame: pl.DataFrame) -> None:
        self.pending.append(frame.unique())
        self.pending_rows += self.pending[-1].height
        if self.pending_rows >= max(self.kept.height if self.kept is not None else 0, self.least):
            self._merge()

    def distinct(self, schema: pl.Schema) -> pl.DataFrame:
        """Every distinct row added (an empty frame of ``schema`` when none was)."""
        self._merge()
        return self.kept if self.kept is not None else schema.to_frame()

    def _merge(self) -> None:
        if self.pending:
            self.kept = pl.concat([f for f in (self.kept, *self.pending) if f is not None]).unique()
            self.pending, self.pending_rows = [], 0


def _write_partitions(events: pl.DataFrame, directory: Path, count: int, chunk: int,
                      files: ThreadPoolExecutor, compression: str, legs: bool = False) -> None:
    """Append one batch to the partitions: every row to its caller's, and who called whom
    (:data:`~features.build.INCOMING_COLUMNS`, :data:`_ROW_HASH`, and with incoming ``legs``
    :data:`_LEG_COLUMNS`) to its callee's when that is another one. The files are written on
    ``files``' threads."""
    # One chunk a column (a batch has one per row group read): the gathers that group the rows
    # by partition look up a chunk per row otherwise (a batch's gathers: 180 CPU-ms against 110).
    events = events.rechunk()
    parts = events.select(partition_of(pl.col("caller_id"), count).alias("caller"),
                          partition_of(pl.col("callee_id"), count).alias("callee"))
    caller, callee = parts["caller"].to_numpy(), parts["callee"].to_numpy()
    elsewhere = np.flatnonzero(caller != callee)
    row_hash = row_hashes(events).alias(_ROW_HASH)
    incoming = events.select(*INCOMING_COLUMNS, *(_LEG_COLUMNS if legs else ())).with_columns(row_hash)
    # A callee's key is its id wherever the id is the number: spilled as null there, which LZ4
    # compresses to nothing (it took 6 of the ~35 bytes of a compressed row). :func:`_read_own` fills it.
    events = events.with_columns(pl.when(pl.col("callee_key") != pl.col("callee_id")).then(pl.col("callee_key"))
                                 .alias("callee_key"), row_hash)
    outputs = []
    for kind, frame, part, rows in ((_OWN_FILES, events, caller, None), (_INCOMING_FILES, incoming, callee, elsewhere)):
        grouped, bounds = _grouped(frame, part, count, rows)
        outputs += [(grouped.slice(bounds[i], bounds[i + 1] - bounds[i]),
                     directory / f"part-{i:05d}" / f"{kind}{chunk:06d}.arrow")
                    for i in range(count) if bounds[i + 1] > bounds[i]]
    try:
        for written in [files.submit(_write_ipc, frame, path, compression) for frame, path in outputs]:
            written.result()
    except OSError as exc:
        raise _spill_error(directory, exc) from None


def _grouped(frame: pl.DataFrame, part: np.ndarray, count: int,
             rows: np.ndarray | None = None) -> tuple[pl.DataFrame, np.ndarray]:
    """``frame``'s rows (only ``rows``, if given: one gather instead of two) grouped by their
    partition ``part`` (0 .. count-1), in their order within each, and where each partition's
    rows begin and end (``count + 1`` offsets). A stable sort of 16-bit keys is a radix sort: a
    few ms a batch, where ``partition_by`` took ~0.1 s."""
    if rows is not None:
        part = part[rows]
    order = np.argsort(part.astype(np.uint16 if count <= 2**16 else np.int64), kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(part, minlength=count))])
    return frame[pl.Series(order if rows is None else rows[order])], bounds


def _write_ipc(frame: pl.DataFrame, path: Path, compression: str) -> None:
    path.parent.mkdir(exist_ok=True)
    write_ipc(frame, path, compression)


def _spill_error(directory: Path, exc: OSError) -> SpillError:
    if exc.errno == errno.ENOSPC or "No space left" in str(exc):
        return SpillError(f"out of disk space in the temporary directory {directory.parent} while spilling "
                          f"partitions; free space there or point --tmp-dir at a larger disk")
    return SpillError(f"cannot write spilled partitions to {directory}: {exc.strerror or exc}")


def save_context(context: FeatureContext, directory: Path) -> Path:
    """Write ``context`` under ``directory`` (for workers that read it from a shared disk);
    return the path :func:`load_context` takes."""
    import json

    target = directory / "context"
    target.mkdir(exist_ok=True)
    for name in ("imei_sims", "registry", "names"):
        frame = getattr(context, name)
        if frame is not None:
            frame.write_parquet(target / f"{name}.parquet")
    window = {"days": context.days, "end": context.end.isoformat() if context.end is not None else None,
              "registry_offsets": context.registry_offsets}
    (target / "window.json").write_text(json.dumps(window))
    return target


def load_context(path: Path) -> FeatureContext:
    """The :class:`~features.build.FeatureContext` written by :func:`save_context`."""
    import datetime as dt
    import json

    window = json.loads((path / "window.json").read_text())
    frames = {name: pl.read_parquet(path / f"{name}.parquet") if (path / f"{name}.parquet").exists() else None
              for name in ("imei_sims", "registry", "names")}
    end = dt.datetime.fromisoformat(window["end"]) if window["end"] is not None else None
    offsets = window.get("registry_offsets")
    return FeatureContext(days=window["days"], end=end, registry_offsets=tuple(offsets) if offsets else None,
                          **frames)


@dataclass
class PartitionResult:
    """What one partition contributes to the run's outputs."""

    index: int
    duplicates: int
    features: pl.DataFrame | None = None
    #: Incoming legs of its callers matched with their call's outgoing leg (:func:`_without_twins`).
    legs_matched: int = 0
    scores: pl.DataFrame | None = None
    flagged: pl.DataFrame | None = None
    #: Per category, the flags its allowlisted numbers would have had.
    allowlisted: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PartitionJob:
    """Everything a partition's work needs, small enough to send to a Dask worker: the files are
    read where the work runs (so ``directory`` must be visible there at the same path)."""

    #: The partition's callers' rows.
    files: tuple[Path, ...]
    partition: Partition
    context: FeatureContext
    #: The rows calling into the partition from other partitions' callers.
    incoming_files: tuple[Path, ...] = ()
    core_only: bool = False
    #: Without a model the partition's features are the result, written under ``features_dir``
    #: when one is given, cut in ranges of ``msisdn`` at ``output_cuts``
    #: (:func:`detector.engine.sorted_output.write_ranges`), so that a run never holds the whole table.
    features_dir: Path | None = None
    output_cuts: pl.Series = field(default_factory=lambda: pl.Series("msisdn", [], pl.Utf8))
    #: How the feature ranges are written (:data:`~detector.engine.spill_files.COMPRESSIONS`).
    compression: str = "none"
    #: With a model the partition is scored: its scores and flags are the result.
    model: DetectorModel | None = None
    thresholds: dict[str, float] = field(default_factory=dict)
    rules: tuple[Rule, ...] = ()
    allowlist: pl.Series | None = None
    #: Two legs of one call start at most this many seconds apart.
    leg_tolerance_s: int = DEFAULT_LEG_TOLERANCE_S
    #: The files are a nightly state's Parquet files (:meth:`detector.state.store.State.files`),
    #: not a spill: ``files`` of ``events``, ``incoming_files`` of ``incoming``, their rows
    #: de-duplicated and their legs matched when the state took them. Never removed by a run.
    held: bool = False
    #: A held window's rows to take out and add where its edges split calls' legs
    #: (:func:`detector.state.window_edges.edge_corrections`; ``None``: none).
    edges: EdgeCorrections | None = None


def run_partition(job: PartitionJob) -> PartitionResult:
    """Read one partition's rows, de-duplicate them, and compute its numbers' features (and with
    a model, their scores and flags). The same function runs locally and on Dask workers."""
    table, duplicates, legs = partition_features(job)
    result = finish_partition(job, table, duplicates)
    result.legs_matched = legs
    return result


def partition_features(job: PartitionJob) -> tuple[pl.DataFrame, int, int]:
    """The first half of :func:`run_partition`: the partition's feature table, how many exact
    duplicates its callers' rows held, and how many of their incoming legs were matched."""
    if job.held:
        events, incoming = _read_held(job)
        return build_partition_features(events, job.context, job.partition, incoming=incoming,
                                        core_only=job.core_only), 0, 0
    events, duplicates = (_own_by_caller(_read_own(job.files)) if job.files
                          else (event_columns(CDR_SCHEMA.to_frame()), 0))
    events, legs = _without_twins(events, job.leg_tolerance_s)
    # Duplicates and twins of incoming rows were counted where their caller is; here they only
    # must not count twice.
    if job.incoming_files:
        incoming = _without_twins(_without_duplicates(read_ipc(job.incoming_files)), job.leg_tolerance_s)[0]
        incoming = incoming.select(INCOMING_COLUMNS)
    else:
        incoming = pl.DataFrame(schema={name: events.schema[name] for name in INCOMING_COLUMNS})
    return build_partition_features(events, job.context, job.partition, incoming=incoming,
                                    core_only=job.core_only), duplicates, legs


def _read_held(job: PartitionJob) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A held job's rows (:attr:`PartitionJob.held`): its callers' rows sorted by caller, and
    the rows calling into it from callers of other partitions. The state's partitions are finer
    than the job's (the job's count divides the state's), so a job holds several of them, and
    rows between two of them are its own, not incoming."""
    from detector.state.store import EVENT_COLUMNS
    from detector.state.window_edges import EdgeCorrections

    own = (pl.read_parquet(list(job.files), columns=list(EVENT_COLUMNS)) if job.files
           else pl.DataFrame(schema=EVENT_COLUMNS)).cast(EVENT_COLUMNS)
    schema = {name: EVENT_COLUMNS[name] for name in INCOMING_COLUMNS}
    incoming = (pl.read_parquet(list(job.incoming_files), columns=list(INCOMING_COLUMNS))
                .filter(~job.partition.holds(pl.col("caller_id"))) if job.incoming_files
                else pl.DataFrame(schema=schema)).cast(schema)
    if job.edges is not None:
        mine = job.partition.holds(pl.col("caller_id"))
        into = job.partition.holds(pl.col("callee_id")) & ~mine
        own = EdgeCorrections(job.edges.drop.filter(mine), job.edges.add.filter(mine)).applied(own)
        gone, come = (rows.filter(into).select(INCOMING_COLUMNS).cast(schema) for rows in (job.edges.drop, job.edges.add))
        incoming = pl.concat([_without_entries(incoming, gone), come])
    return by_caller(own), incoming


def _without_entries(rows: pl.DataFrame, entries: pl.DataFrame) -> pl.DataFrame:
    """``rows`` without one row equal to each of ``entries`` (rows of ``incoming`` stand for
    calls: equal ones are as many as the calls)."""
    if not entries.height:
        return rows
    keys = rows.columns
    gone = entries.group_by(keys).agg(pl.len().alias("__gone"))
    return (rows.with_columns(pl.int_range(pl.len()).over(keys).alias("__n"))
            .join(gone, on=keys, how="left", nulls_equal=True)
            .filter(pl.col("__n") >= pl.col("__gone").fill_null(0)).select(keys))


def _without_twins(rows: pl.DataFrame, tolerance_s: int) -> tuple[pl.DataFrame, int]:
    """``rows`` (:func:`~features.build.event_columns`, at least :data:`INCOMING_COLUMNS` and
    :data:`_LEG_COLUMNS`) without the incoming legs that are the twin of an outgoing leg there
    (:func:`~detector.inputs.legs.leg_pairs`, on ids as the in-memory engine matches on the
    numbers' text: the same pairs), in their order; and how many went."""
    leg = (pl.col("flags") & INCOMING_LEG) != 0
    if not rows.height or not rows.select(leg.any()).item():
        return rows, 0
    twins, _ = leg_pairs(rows, ["caller_id", "callee_id", pl.col("flags") & VOICE, "duration_s"], pl.col("ts"), leg,
                         tolerance_s * 1_000_000)
    if not twins.size:
        return rows, 0
    keep = np.ones(rows.height, dtype=np.bool_)
    keep[twins] = False
    return rows.filter(pl.Series(keep)), int(twins.size)


def _read_own(files: Sequence[Path]) -> pl.DataFrame:
    """A partition's own spilled rows, as :func:`~features.build.event_columns` gave them, with
    their :data:`_ROW_HASH`."""
    return read_ipc(files).with_columns(pl.col("callee_key").fill_null(pl.col("callee_id")))


def _without_duplicates(rows: pl.DataFrame) -> pl.DataFrame:
    """Spilled incoming ``rows`` without exact duplicates and without :data:`_ROW_HASH`
    (:func:`~detector.inputs.cdr.drop_exact_duplicates`, which compares rows only where their hashes
    repeat: 2.1M rows in 40 ms against 160 ms for ``unique()``). The spill's row hash spares
    hashing them again (a partition's 2M rows: 55 ms -> 18 ms). They were counted where their
    caller is."""
    return drop_exact_duplicates(rows, rows[_ROW_HASH])[0].drop(_ROW_HASH)


def _own_by_caller(rows: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """A partition's own rows (:func:`_read_own`) without exact duplicates (found by the spill's
    row hash, :func:`~detector.inputs.cdr.duplicate_rows`) and without :data:`_ROW_HASH`, sorted by
    caller (:func:`~features.build.by_caller`), and how many duplicates went: in one gather,
    where dropping them first copied every column (a partition's 2M rows: ~25 CPU-ms)."""
    duplicates = duplicate_rows(rows, rows[_ROW_HASH])
    return by_caller(rows.drop(_ROW_HASH), without=duplicates), int(duplicates.size)


def finish_partition(job: PartitionJob, table: pl.DataFrame, duplicates: int) -> PartitionResult:
    """The second half of :func:`run_partition`: the feature table written, or scored and flagged."""
    if job.model is None:
        if job.features_dir is None:
            return PartitionResult(job.partition.index, duplicates, features=table)
        write_ranges(table, "msisdn", job.output_cuts, job.features_dir, f"part-{job.partition.index:05d}",
                     job.compression)
        return PartitionResult(job.partition.index, duplicates)
    from models.scoring import flag_numbers, score_numbers

    flags = flag_numbers(score_numbers(job.model, table), table, job.thresholds, job.rules, job.allowlist)
    return PartitionResult(job.partition.index, duplicates, scores=flags.scores, flagged=flags.flagged,
                           allowlisted=flags.allowlisted)


def merged_flags(results: Sequence[PartitionResult], thresholds: dict[str, float]) -> Flags:
    """The scores, flags and allowlisted counts of scored partitions, in the order an in-memory
    run gives them (scores by ``msisdn``; flags highest score first, then by ``msisdn``)."""
    from models.scoring import FLAGGED_SCHEMA, Flags

    scores = pl.concat([r.scores for r in results if r.scores is not None]).sort("msisdn")
    flagged = pl.concat([FLAGGED_SCHEMA.to_frame(), *(r.flagged for r in results if r.flagged is not None)]).sort(
        ["score", "msisdn"], descending=[True, False])
    allowlisted = {c: sum(r.allowlisted.get(c, 0) for r in results) for c in thresholds}
    return Flags(scores=scores, flagged=flagged, allowlisted=allowlisted)


def partition_jobs(spilled: SpilledInput, **options: object) -> list[PartitionJob]:
    """One :class:`PartitionJob` per partition of ``spilled``, writing what it spills as
    ``spilled`` was written; ``options`` are the jobs' other fields."""
    jobs = []
    for i in range(spilled.count):
        own, incoming = spilled.partition_files(i)
        jobs.append(PartitionJob(files=tuple(own), incoming_files=tuple(incoming), partition=Partition(i, spilled.count),
                                 context=spilled.context, compression=spilled.compression,
                                 leg_tolerance_s=spilled.leg_tolerance_s, **options))  # type: ignore[arg-type]
    return jobs


def run_locally(jobs: Sequence[PartitionJob], on_done: Callable[[PartitionResult], None] | None = None,
                in_flight: int = IN_FLIGHT, *, remove_files: bool = False) -> list[PartitionResult]:
    """Run the partitions in this process, ``in_flight`` at a time on threads, so that one
    partition's single-threaded stretches leave the other cores to the others (peak memory:
    ``in_flight`` partitions' rows). Results in partition order; ``on_done`` is called with each
    in that order. One at a time when numba's threading layer cannot launch parallel kernels from
    several threads at once (:func:`features.kernels.threadsafe`).

    ``remove_files``: remove each partition's spilled files once it is done, while the next
    ones run; removing all of them at the end of a run took 1.3 s for the 3.9 GB of 50M rows.
    (Dask keeps them to the end: a task may be run again.)"""
    if in_flight > 1 and not kernels.threadsafe():
        in_flight = 1
    results: list[PartitionResult] = []
    pool = ThreadPoolExecutor(in_flight)
    try:
        for job, running in [(job, pool.submit(run_partition, job)) for job in jobs]:
            results.append(running.result())
            if remove_files and not job.held:
                for path in (*job.files, *job.incoming_files):
                    path.unlink(missing_ok=True)
            if on_done is not None:
                on_done(results[-1])
    finally:
        # On a failure, the partitions not yet started are not started.
        pool.shutdown(wait=True, cancel_futures=True)
    return results
