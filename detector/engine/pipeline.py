"""The engine's stages wired together: read inputs -> features (-> model -> outputs).

The CLI calls these; so do benchmarks and tests, so that every path runs the same code. An input
that fits in memory is read whole (:func:`read_inputs`); a larger one, or any run on Dask, is
spilled to hash partitions and computed partition by partition (:func:`partitioned_features`,
:func:`partitioned_scores`; :mod:`detector.engine.partitioned`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from detector.atomic_writes import atomic_path
from detector.engine.partitioned import (
    BYTES_PER_SUBSCRIBER,
    PartitionJob,
    PartitionResult,
    SpilledInput,
    estimate_rows,
    memory_left,
    output_cuts,
    partition_count,
    partition_jobs,
    profile_registry,
    resident_bytes,
    merged_flags,
    run_locally,
    spill_cdrs,
    spill_directory,
)
from detector.engine.sorted_output import sink_ranges
from detector.inputs.cdr import CDR_SCHEMA, CdrBatch, FileReport, read_cdrs
from detector.inputs.feature_table import FeatureTable, read_feature_table
from detector.inputs.graph import GraphBatch, read_graph
from detector.inputs.mapping import Mapping
from detector.inputs.numbers import DEFAULT_COUNTRY_CODE
from detector.inputs.registry import Registry, read_registry
from features.build import build_features
from features.catalogue import CORE_FEATURES
from features.graph import graph_features

if TYPE_CHECKING:
    from models.model_file import DetectorModel
    from models.rules import Rule


@dataclass
class Inputs:
    """Everything read for one run."""

    batch: CdrBatch
    registry: Registry | None
    country_code: str = DEFAULT_COUNTRY_CODE
    #: The carrier's own number ranges (the mapping's ``home_prefixes``): on-net callees.
    home_prefixes: tuple[str, ...] = ()

    @property
    def rejects(self) -> pl.DataFrame:
        """Rejected CDR and registry rows together (file, row, reason, raw)."""
        return _all_rejects(self.batch.rejects, self.registry)

    @property
    def window(self) -> tuple[dt.datetime | None, dt.datetime | None]:
        """The first and the last event's start time."""
        times = self.batch.cdrs["start_time"]
        return times.min(), times.max()  # type: ignore[return-value]


def run_facts(*, window: tuple[dt.datetime | None, dt.datetime | None], duplicates: int, legs_matched: int,
              registry: bool, absent: frozenset[str] = frozenset()) -> dict[str, object]:
    """What the report's header says about the input beyond its row counts: the traffic window
    (every "in N days" of a reason is measured on it), what was dropped, and what the input cannot
    tell (without a registry there is no pre-activation evidence at all)."""
    first, last = window
    facts: dict[str, object] = {
        "traffic window": f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}" if first and last else "no events",
        "duplicate rows dropped": duplicates,
    }
    if legs_matched:
        facts["second legs of calls counted once"] = legs_matched
    # callee_network is the exception more than the rule: without it the numbers say (README).
    if absent - {"callee_network"}:
        facts["columns absent (what needs them is missing, not 0)"] = ", ".join(sorted(absent - {"callee_network"}))
    if not registry:
        facts["note"] = NO_REGISTRY_NOTE
    return facts


#: Said on stderr and in the report of a run without a subscriber registry.
NO_REGISTRY_NOTE = ("no subscriber registry (--subscribers): preactivated_sim lacks its evidence "
                    "(activations, dealers, IDs)")


@dataclass
class GraphInputs:
    """Everything read for a run on a call graph (cli.md, ``--graph``) instead of CDRs."""

    graph: GraphBatch
    registry: Registry | None
    country_code: str = DEFAULT_COUNTRY_CODE
    #: The carrier's own number ranges (the mapping's ``home_prefixes``): on-net callees.
    home_prefixes: tuple[str, ...] = ()

    @property
    def rejects(self) -> pl.DataFrame:
        """Rejected edge and registry rows together (file, row, reason, raw)."""
        return _all_rejects(self.graph.rejects, self.registry)


@dataclass
class TableInputs:
    """A ready per-number feature table (cli.md, ``--features``: a carrier's own aggregates)
    instead of CDRs: it is the feature table, as it is."""

    features: FeatureTable
    #: A ready table holds its registry's evidence in its own columns, if any.
    registry: None = None

    @property
    def rejects(self) -> pl.DataFrame:
        """The table's rows without a number (file, row, reason, raw)."""
        return self.features.rejects


#: Any of what an in-memory run reads.
AnyInputs = Inputs | GraphInputs | TableInputs


def _all_rejects(cdr_rejects: pl.DataFrame, registry: Registry | None) -> pl.DataFrame:
    return cdr_rejects if registry is None else pl.concat([cdr_rejects, registry.rejects])


def read_inputs(
    cdr: Sequence[str | Path],
    subscribers: str | Path | None = None,
    mapping: Mapping | None = None,
    progress: Callable[[Path, FileReport], None] | None = None,
    *,
    match_legs: bool = True,
) -> Inputs:
    """Read the CDR files and, if given, the subscriber registry (``match_legs``: :func:`read_cdrs`'s)."""
    batch = read_cdrs(cdr, mapping, progress=progress, match_legs=match_legs)
    registry = read_registry(subscribers, mapping) if subscribers is not None else None
    mapping = mapping or Mapping()
    return Inputs(batch=batch, registry=registry, country_code=mapping.country_code,
                  home_prefixes=mapping.home_prefixes)


def read_graph_inputs(
    graph: Sequence[str | Path],
    subscribers: str | Path | None = None,
    mapping: Mapping | None = None,
    progress: Callable[[Path], None] | None = None,
) -> GraphInputs:
    """Read call-graph edge lists (:mod:`detector.inputs.graph`) and, if given, the registry."""
    edges = read_graph(graph, mapping, progress=progress)
    registry = read_registry(subscribers, mapping) if subscribers is not None else None
    mapping = mapping or Mapping()
    return GraphInputs(graph=edges, registry=registry, country_code=mapping.country_code,
                       home_prefixes=mapping.home_prefixes)


def read_table_inputs(path: str | Path, mapping: Mapping | None = None) -> TableInputs:
    """Read a ready feature table (:mod:`detector.inputs.feature_table`)."""
    return TableInputs(features=read_feature_table(path, mapping))


def feature_table(inputs: AnyInputs, core_only: bool = False) -> pl.DataFrame:
    """The feature table (features.md, and unless ``core_only`` the engine's own features); of a
    call graph, with what it cannot tell null (:mod:`features.graph`); of a ready table, that
    table (``core_only`` does not apply: its columns are the user's)."""
    if isinstance(inputs, TableInputs):
        return inputs.features.table
    registry = inputs.registry.subscribers if inputs.registry is not None else None
    if isinstance(inputs, GraphInputs):
        table = graph_features(inputs.graph, registry, country_code=inputs.country_code,
                               home_prefixes=inputs.home_prefixes)
        return table.select("msisdn", *CORE_FEATURES) if core_only else table
    return build_features(inputs.batch.cdrs, registry, core_only=core_only, country_code=inputs.country_code,
                          home_prefixes=inputs.home_prefixes, absent=inputs.batch.absent)


@dataclass
class Engine:
    """Where and in how much memory a run computes (cli.md: ``--engine``, ``--workers``,
    ``--scheduler``, ``--memory-limit``, ``--tmp-dir``)."""

    #: ``"local"`` (this process) or ``"dask"`` (a Dask cluster).
    kind: str = "local"
    #: Peak memory to stay within, in bytes; decides how many partitions an input is split into.
    memory_limit: int | None = None
    #: Where partitions are spilled (default: the system's temporary directory). On a Dask
    #: cluster it must be a directory every worker sees at the same path.
    tmp_dir: Path | None = None
    #: Dask: local worker processes to start, or the address of a running scheduler.
    workers: int | None = None
    scheduler: str | None = None
    #: Partitions to split every input into, whatever its size (1: read it whole); ``None``: as
    #: many as ``memory_limit`` needs.
    partitions: int | None = None
    #: How partitions are spilled (:data:`detector.engine.spill_files.COMPRESSIONS`): ``"lz4"`` takes
    #: ~40% less disk and more CPU.
    spill_compression: str = "none"

    def partitions_for(self, cdr: Sequence[str | Path], held: int | None = None) -> int:
        """How many partitions this engine splits the CDR files into; 1 = read them whole.
        ``held``: the memory the run keeps throughout, once known (default: an estimate)."""
        from detector.engine.partitioned import BASELINE_BYTES, IN_FLIGHT

        if self.partitions is not None:
            return self.partitions
        limit = self.limit()
        if self.kind == "local":
            return partition_count(estimate_rows(cdr), limit, held or BASELINE_BYTES, IN_FLIGHT)
        # Each worker holds a partition at a time; at least two tasks per worker keep all busy.
        workers = self.workers or 2
        return max(partition_count(estimate_rows(cdr), limit // workers), 2 * workers)

    def limit(self) -> int:
        """``memory_limit``, or by default a safe share of the machine's memory."""
        from detector.engine.partitioned import default_memory_limit

        return self.memory_limit or default_memory_limit()

    def run(self, jobs: Sequence[PartitionJob], directory: Path,
            on_done: Callable[[PartitionResult], None] | None = None) -> list[PartitionResult]:
        """Run the partitions' jobs (spilled under ``directory``) here or on Dask; results in
        partition order."""
        if self.kind == "dask":
            from detector.engine.distributed import run_on_dask

            return run_on_dask(jobs, directory, workers=self.workers, scheduler=self.scheduler, on_done=on_done)
        return run_locally(jobs, on_done, remove_files=True)


@dataclass
class RunProgress:
    """Callbacks a long run reports through (the CLI draws them as progress bars)."""

    #: Partitions the run is split into (called once, before any rows are read).
    partitions: Callable[[int], None] = lambda n: None
    #: More CDR rows read.
    rows: Callable[[int], None] = lambda n: None
    #: A partition finished.
    done: Callable[[], None] = lambda: None


@dataclass
class ScoreResult:
    """What one scoring run produces (data-contract.md, outputs of ``detector score``)."""

    #: The feature table (in-memory runs only: a partitioned run never holds it whole).
    features: pl.DataFrame | None
    scores: pl.DataFrame
    flagged: pl.DataFrame
    #: The thresholds the model flagged at, per category.
    thresholds: dict[str, float] = field(default_factory=dict)
    #: Per category, the flags the allowlist removed.
    allowlisted: dict[str, int] = field(default_factory=dict)


def score_inputs(
    inputs: AnyInputs,
    model: DetectorModel,
    *,
    rules: Sequence[Rule] = (),
    allowlist: pl.Series | None = None,
    precision: float | None = None,
) -> ScoreResult:
    """Features -> per-category scores -> the flagged list. ``precision`` re-picks every
    category's threshold from the model's stored held-out curves; ``None`` keeps the model's."""
    # scikit-learn loads only when scoring: the features path (and its benchmark) stays light.
    from models.scoring import flag_numbers, score_numbers

    table = feature_table(inputs)
    thresholds = model_thresholds(model, precision)
    flags = flag_numbers(score_numbers(model, table), table, thresholds, rules, allowlist)
    return ScoreResult(features=table, scores=flags.scores, flagged=flags.flagged, thresholds=thresholds,
                       allowlisted=flags.allowlisted)


def model_thresholds(model: DetectorModel, precision: float | None) -> dict[str, float]:
    """Per category, the model's stored threshold, or the one re-picked for ``precision``."""
    if precision is None:
        return dict(model.thresholds)
    return {c: model.threshold_for(c, precision) for c in model.thresholds}


def write_score_outputs(out: str | Path, result: ScoreResult, inputs: AnyInputs,
                        run: dict[str, object]) -> dict[str, Path]:
    """Write the outputs of an in-memory run into ``out`` (:func:`detector.outputs.files.write_run_outputs`);
    return their paths. A call graph or a ready table names no handsets: its report has no shared
    IMEIs."""
    from detector.outputs.files import write_run_outputs
    from detector.outputs.report import shared_imeis

    registry = inputs.registry.subscribers if inputs.registry is not None else None
    cdrs = inputs.batch.cdrs if isinstance(inputs, Inputs) else CDR_SCHEMA.to_frame()
    return write_run_outputs(out, flagged=result.flagged, scores=result.scores, registry=registry,
                             rejects=inputs.rejects, imeis=shared_imeis(cdrs, result.flagged), run=run,
                             thresholds=result.thresholds, allowlisted=result.allowlisted)


@dataclass
class PartitionedRun:
    """What a partitioned run read: rows, rejects and duplicates over all its partitions."""

    #: Partitions the input was split into.
    partitions: int
    #: CDR rows read and parsed (exact duplicates included), and the CDR rows rejected.
    rows: int
    cdr_rejects: pl.DataFrame
    registry: Registry | None
    duplicates: int
    #: Incoming legs matched with the outgoing leg of the same call (counted once).
    legs_matched: int = 0
    #: The first and the last event's start time.
    window: tuple[dt.datetime | None, dt.datetime | None] = (None, None)
    #: Optional columns no file had.
    absent: frozenset[str] = frozenset()

    @classmethod
    def of(cls, spilled: SpilledInput, registry: Registry | None, results: Sequence[PartitionResult]) -> PartitionedRun:
        """The run that spilled ``spilled`` and computed ``results``. Holds none of the
        :class:`~features.build.FeatureContext`: for a carrier's tens of millions of subscribers,
        the registry's features in it take GBs the outputs need once the partitions are done."""
        return cls(spilled.count, spilled.rows, spilled.rejects, registry, sum(r.duplicates for r in results),
                   sum(r.legs_matched for r in results), (spilled.start, spilled.context.end), spilled.context.absent)

    @property
    def rejects(self) -> pl.DataFrame:
        """Rejected CDR and registry rows together (file, row, reason, raw)."""
        return _all_rejects(self.cdr_rejects, self.registry)

    @property
    def events(self) -> int:
        """CDR rows kept: read and parsed, less the exact duplicates and the matched legs."""
        return self.rows - self.duplicates - self.legs_matched


def partitioned_features(
    cdr: Sequence[str | Path],
    out: str | Path,
    engine: Engine,
    count: int,
    *,
    subscribers: str | Path | None = None,
    mapping: Mapping | None = None,
    progress: RunProgress | None = None,
) -> tuple[PartitionedRun, int]:
    """The feature table of :func:`feature_table`, computed in ``count`` partitions and written
    to ``out`` (Parquet, atomically, sorted by msisdn); returns the run and the table's rows."""
    progress = progress or RunProgress()
    with spill_directory(engine.tmp_dir) as directory:
        registry, spilled = _spill(cdr, directory, count, engine, subscribers, mapping, progress)
        # The partitions' tables are cut in ranges of msisdn, sorted and written one at a time:
        # the whole table never is in memory (4M numbers took 3.5 GB to sort at once).
        limit = engine.limit()
        cuts = output_cuts(spilled, memory_left(limit, resident_bytes()))
        features_dir = directory / "features"
        results = engine.run(partition_jobs(spilled, features_dir=features_dir, output_cuts=cuts), directory,
                             lambda _r: progress.done())
        run = PartitionedRun.of(spilled, registry, results)
        del spilled  # its context: the partitions are done with it (PartitionedRun.of says why)
        with atomic_path(out) as tmp:
            sink_ranges(features_dir, "msisdn", tmp)
        rows = pl.scan_parquet(out).select(pl.len()).collect().item()
    return run, rows


def partitioned_scores(
    cdr: Sequence[str | Path],
    model: DetectorModel,
    engine: Engine,
    count: int,
    *,
    subscribers: str | Path | None = None,
    mapping: Mapping | None = None,
    rules: Sequence[Rule] = (),
    allowlist: pl.Series | None = None,
    precision: float | None = None,
    progress: RunProgress | None = None,
) -> tuple[PartitionedRun, ScoreResult, pl.DataFrame]:
    """:func:`score_inputs` computed in ``count`` partitions; also returns the shared-IMEI table
    of the report."""
    from detector.outputs.report import shared_imeis

    progress = progress or RunProgress()
    thresholds = model_thresholds(model, precision)
    with spill_directory(engine.tmp_dir) as directory:
        registry, spilled = _spill(cdr, directory, count, engine, subscribers, mapping, progress)
        results = engine.run(partition_jobs(spilled, model=model, thresholds=thresholds, rules=tuple(rules),
                                            allowlist=allowlist), directory, lambda _r: progress.done())
    run, handsets = PartitionedRun.of(spilled, registry, results), spilled.shared_imeis
    del spilled  # its context: the partitions are done with it (PartitionedRun.of says why)
    flags = merged_flags(results, thresholds)
    result = ScoreResult(features=None, scores=flags.scores, flagged=flags.flagged, thresholds=thresholds,
                         allowlisted=flags.allowlisted)
    return run, result, shared_imeis(handsets, flags.flagged)


def _spill(cdr: Sequence[str | Path], directory: Path, count: int, engine: Engine, subscribers: str | Path | None,
           mapping: Mapping | None, progress: RunProgress) -> tuple[Registry | None, SpilledInput]:
    registry = read_registry(subscribers, mapping) if subscribers is not None else None
    # Now the memory kept through the run is known better: what is held already, plus the
    # registry features every partition shares. More partitions if it leaves less room.
    held = resident_bytes() + (registry.subscribers.height * BYTES_PER_SUBSCRIBER if registry is not None else 0)
    count = max(count, engine.partitions_for(cdr, held))
    progress.partitions(count)
    with ThreadPoolExecutor(1) as aside:
        profile = None
        if registry is not None:
            if registry.subscribers.height:
                profile = profile_registry(registry.subscribers, engine.limit(), aside)
            # The profile has what the features read of the registry (or holds it until it has):
            # the report's dealer section is all that reads the registry itself from now on, and
            # a carrier's registry has tens of millions of rows.
            registry = replace(registry, subscribers=registry.subscribers.select("msisdn", "dealer_id"))
        spilled = spill_cdrs(cdr, directory, count, profile=profile, mapping=mapping, on_rows=progress.rows,
                             compression=engine.spill_compression)
    return registry, spilled
