"""The ``detector`` command line (spec/cli.md).

A thin layer: each command parses its options and calls library functions. Results go to stdout;
progress and errors go to stderr. Exit codes: 0 success, 1 run-time failure, 2 bad usage or bad
input, 130 interrupted (Ctrl-C or SIGTERM), each error as one line (a traceback only with
``--debug``).
"""

from __future__ import annotations

import datetime as dt
import functools
import gc
import json
import os
import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from detector.engine.partitioned import SpillError
from detector.errors import InputError, no_room

app = typer.Typer(
    name="detector",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
    # Click's own help: paragraphs re-flowed whole, \b blocks (examples) kept as written, and
    # switches without a type; rich's panels re-wrapped sentences mid-line and typed flags <bool>.
    rich_markup_mode=None,
)
# Piped into a file or another program, tables get room for their columns rather than 80 characters.
stdout = Console(soft_wrap=True, width=None if sys.stdout.isatty() else 200)
stderr = Console(stderr=True, soft_wrap=True)


#: Exit code of a run stopped by Ctrl-C or SIGTERM (128 + SIGINT, as shells report it).
INTERRUPTED = 130


class _State:
    debug = False
    quiet = False
    signalled = False  # a SIGINT or SIGTERM reached this run
    said_interrupted = False


@app.callback()
def _options(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Find voice/SMS spammers, SIM-box SIMs and pre-activated SIMs in call-detail records.

    \b
    Example:
        detector generate --out world --subscribers 10000 --days 7
        detector validate --cdr world/cdr
        detector features --cdr world/cdr --subscribers world/subscribers.csv --out features.parquet
    """
    _State.debug = debug
    _State.quiet = quiet


def _fail(message: str, code: int) -> typer.Exit:
    _State.said_interrupted |= code == INTERRUPTED
    stderr.print(f"Error: {message}", markup=False, highlight=False)
    return typer.Exit(code)


def _reports_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors into one line and exit 2, and bugs into one line and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except InputError as exc:
            if _State.debug:
                raise
            raise _fail(str(exc), 2) from None
        except SpillError as exc:  # the temporary directory is full or unwritable: a run-time failure
            if _State.debug:
                raise
            raise _fail(str(exc), 1) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", INTERRUPTED) from None
        except Exception as exc:  # a bug or an environment failure: say so in one line
            if _interrupted(exc):
                raise _fail("interrupted", INTERRUPTED) from None
            if _State.debug:
                raise
            room = no_room(exc)
            if room is not None:  # outputs and state are written whole or not at all: nothing half-kept
                raise _fail(f"no room to write ({room}): free some space and run again; what this run had not "
                            "finished writing was not kept, earlier outputs and the state are as they were", 1) from None
            raise _fail(f"{type(exc).__name__}: {exc} (run with --debug for details)", 1) from None

    return wrapper


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` is how a Ctrl-C or SIGTERM surfaced. A signal that lands inside compiled code
    (a numba kernel, a Polars thread) does not always come back as KeyboardInterrupt: numba's
    dispatcher reports it as ``SystemError: ... returned a result with an exception set`` with the
    interrupt as its cause. So: the interrupt anywhere in the chain, or a signal seen by this run."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, KeyboardInterrupt):
            return True
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return _State.signalled


def _start_up_unscanned(command: Callable[..., Any]) -> Callable[..., Any]:
    """Python's cyclic garbage collector paused while ``command`` imports its libraries and reads
    its model, up to its call of :func:`_started`; what they made is then frozen (never scanned)
    until the command ends. They make ~240k objects that live as long as the run and next to no
    garbage: the collector's full passes over them took ~0.7 s of the ~3 s before a run read any
    data, on one core, and each later one 0.15-0.4 s."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return command(*args, **kwargs)
        finally:
            if _frozen:
                gc.unfreeze()
                _frozen.clear()
            gc.enable() if enabled else gc.disable()

    return wrapper


#: Holds True while :func:`_started` has frozen the objects made before it.
_frozen: list[bool] = []


def _started() -> None:
    """The end of start-up for :func:`_start_up_unscanned`: what exists now is frozen, and the
    collector runs again."""
    if not _frozen:
        gc.freeze()
        _frozen.append(True)
    gc.enable()


@contextmanager
def _progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal; advance(n) moves it on."""
    if _State.quiet or not stderr.is_terminal:
        yield lambda n=1: None
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


@contextmanager
def _steps(description: str) -> Iterator[Callable[[str], None]]:
    """Progress of a long job in named steps (``step("fold 2 of 4")``): a spinner line on a
    terminal; elsewhere (a log, a cron job) one timestamped line per step, so that a run of
    minutes shows it is alive."""
    if _State.quiet:
        yield lambda _step: None
        return
    started = dt.datetime.now()
    if not stderr.is_terminal:
        def line(step: str) -> None:
            elapsed = (dt.datetime.now() - started).total_seconds()
            stderr.print(f"{description}: {step} ({elapsed:,.0f} s)", markup=False, highlight=False)

        yield line
        return
    with Progress(TextColumn("{task.description}"), TimeElapsedColumn(), console=stderr, transient=True) as bar:
        task = bar.add_task(description, total=None)
        yield lambda step: bar.update(task, description=f"{description}: {step}")


@contextmanager
def _run_progress() -> Iterator[Any]:
    """Progress of a partitioned run: rows read, then partitions done (cli.md)."""
    from detector.engine.pipeline import RunProgress

    if _State.quiet or not stderr.is_terminal:
        yield RunProgress()
        return
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=stderr, transient=True) as bar:
        rows = bar.add_task("rows read", total=None)
        parts = bar.add_task("partitions done", total=None)
        yield RunProgress(partitions=lambda n: bar.update(parts, total=n),
                          rows=lambda n: bar.advance(rows, n), done=lambda: bar.advance(parts, 1))


class EngineKind(str, Enum):
    local = "local"
    dask = "dask"


EngineOption = Annotated[
    EngineKind, typer.Option("--engine", help="local: this process; dask: a Dask cluster (needs the dask extra).")
]
WorkersOption = Annotated[
    int | None, typer.Option("--workers", min=1, help="Dask: start a local cluster of N worker processes.")
]
SchedulerOption = Annotated[
    str | None, typer.Option("--scheduler", help="Dask: address of a running scheduler, e.g. tcp://10.0.0.5:8786.")
]
MemoryLimitOption = Annotated[
    str | None,
    typer.Option("--memory-limit", help="Peak memory to stay within, e.g. 4GiB (default: half the machine's). "
                                        "Larger inputs are split into partitions spilled to --tmp-dir."),
]
PartitionsOption = Annotated[
    int | None,
    typer.Option("--partitions", min=1, help="Split the input into N partitions instead of as many as "
                                              "--memory-limit needs (1: read it whole)."),
]
TmpDirOption = Annotated[
    Path | None,
    typer.Option("--tmp-dir", help="Where partitions are spilled (default: the system's temporary directory); "
                                   "removed after the run."),
]


class SpillCompression(str, Enum):
    none = "none"
    lz4 = "lz4"


SpillCompressionOption = Annotated[
    SpillCompression,
    typer.Option("--spill-compression", help="none: fastest; lz4: ~40% less disk for the spill, ~4% slower "
                                             "(for a small or shared --tmp-dir)."),
]


def _engine(engine: EngineKind, workers: int | None, scheduler: str | None, memory_limit: str | None,
            tmp_dir: Path | None, partitions: int | None = None,
            spill_compression: SpillCompression = SpillCompression.none) -> Any:
    from detector.engine.partitioned import parse_size
    from detector.engine.pipeline import Engine

    if engine is EngineKind.local and (workers is not None or scheduler is not None):
        raise InputError("--workers and --scheduler need --engine dask")
    if workers is not None and scheduler is not None:
        raise InputError("give --workers (start a local cluster) or --scheduler (use a running one), not both")
    try:
        limit = parse_size(memory_limit) if memory_limit is not None else None
    except ValueError as exc:
        raise InputError(f"--memory-limit: {exc}") from None
    return Engine(kind=engine.value, memory_limit=limit, tmp_dir=tmp_dir, workers=workers, scheduler=scheduler,
                  partitions=partitions, spill_compression=spill_compression.value)


class OutputFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


class ExportKind(str, Enum):
    canonical = "canonical"
    two_legs = "two-legs"


CdrOption = Annotated[
    list[str],
    typer.Option("--cdr", metavar="<path>", help="CDR files, directories or globs (CSV, .csv.gz, Parquet); repeatable."),
]
MappingOption = Annotated[
    Path | None,
    typer.Option("--mapping", help="TOML file mapping the export's columns and codes (see README)."),
]
#: ``--cdr`` where a call graph may be given instead (``--graph``): one of the two is required.
CdrOrGraphOption = Annotated[
    list[str] | None,
    typer.Option("--cdr", metavar="<path>", help="CDR files, directories or globs (CSV, .csv.gz, Parquet); repeatable. "
                               "Or give --graph."),
]
GraphOption = Annotated[
    list[str] | None,
    typer.Option("--graph", metavar="<path>", help="Instead of --cdr: call-graph edge lists caller,callee,calls [voice_calls,sms,"
                                 "answered_calls,duration_s_total,first_time,last_time]; features the graph "
                                 "cannot give are null."),
]


FeatureTableOption = Annotated[
    Path | None,
    typer.Option("--features", help="Instead of --cdr: a ready per-number table (Parquet or CSV), an msisdn "
                                    "column and numeric columns of your choosing (a carrier's own aggregates)."),
]
#: What each input option reads, for messages.
_INPUTS = {"--cdr": "call records", "--graph": "a call graph", "--features": "a feature table"}


def _one_input(cdr: list[str] | None, graph: list[str] | None, table: Path | None = None, *,
               with_table: bool = False) -> None:
    """Exactly one of ``--cdr``, ``--graph`` and (``with_table``: train, score) ``--features`` (cli.md)."""
    options = [o for o in _INPUTS if o != "--features" or with_table]
    given = [o for o, value in zip(_INPUTS, (cdr, graph, table), strict=True) if value]
    choices = [f"{o} ({_INPUTS[o]})" for o in options]
    either = ", ".join(choices[:-1]) + f" or {choices[-1]}"
    if len(given) == 2:
        raise InputError(f"give {either}, not both {given[0]} and {given[1]}")
    if len(given) > 2:
        raise InputError(f"give {either}, not {', '.join(given[:-1])} and {given[-1]} together")
    if not given:
        paths = [f"{o} PATH ({_INPUTS[o]})" for o in options]
        raise InputError(f"no input given: use {', '.join(paths[:-1])} or {paths[-1]}")


def _in_memory_only(engine: EngineKind, partitions: int | None, option: str = "--graph") -> None:
    """A call graph is read whole: it has one row per pair of numbers, not per call; a ready
    table has one row per number."""
    if engine is not EngineKind.local or (partitions is not None and partitions > 1):
        raise InputError(f"{option} is read in memory: --engine dask and --partitions do not apply to it")


def _no_registry_with_a_table(table: Path | None, subscribers: Path | None) -> None:
    """A ready table holds whatever registry evidence it has in its own columns: a registry
    beside it would be read for nothing."""
    if table is not None and subscribers is not None:
        raise InputError("--subscribers does not apply to --features: a ready table holds its own columns")


def _listed(names: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"


def _untrained_note(model: Any) -> None:
    """Say which categories a model has no scores for (its labels named only some, cli.md)."""
    from detector.contract import CATEGORIES

    missing = [c for c in CATEGORIES if c not in model.categories]
    if missing:
        _note(f"the model was not trained for {_listed(missing)}: "
              f"{'its scores are' if len(missing) == 1 else 'their scores are'} null and "
              f"{'it flags' if len(missing) == 1 else 'they flag'} nothing")


def _read_graph_with_progress(graph: list[str], subscribers: Path | None, mapping: Path | None) -> Any:
    """Read a call graph's inputs (:func:`detector.engine.pipeline.read_graph_inputs`) with a bar over the files."""
    from detector.engine.pipeline import read_graph_inputs
    from detector.inputs.graph import find_graph_files
    from detector.inputs.mapping import load_mapping

    mapping_ = load_mapping(mapping)
    with _progress("reading", total=len(find_graph_files(graph))) as advance:
        return read_graph_inputs(graph, subscribers, mapping_, progress=lambda _p: advance(1))


def _read_either(cdr: list[str] | None, graph: list[str] | None, subscribers: Path | None,
                 mapping: Path | None, n_files: int | None = None, table: Path | None = None, *,
                 with_table: bool = False) -> Any:
    """The inputs of an in-memory run, from call records, a call graph or (``with_table``: train,
    score) a ready feature table (``n_files``: the CDR files', if counted already)."""
    from detector.engine.allocator import keep_freed_memory

    _one_input(cdr, graph, table, with_table=with_table)
    keep_freed_memory()  # the whole run is in memory: freed arrays' pages are reused, not faulted anew
    if table is not None:
        from detector.engine.pipeline import read_table_inputs
        from detector.inputs.mapping import load_mapping

        _no_registry_with_a_table(table, subscribers)
        return read_table_inputs(table, load_mapping(mapping))
    if graph:
        return _read_graph_with_progress(graph, subscribers, mapping)
    return _read_with_progress(cdr or [], subscribers, mapping, n_files)


def _what_was_read(inputs: Any) -> tuple[str, int]:
    """What a run's rows were (``CDR rows``, ``graph edges`` or ``table rows``) and how many were kept."""
    from detector.engine.pipeline import GraphInputs, TableInputs

    if isinstance(inputs, GraphInputs):
        return "graph edges", inputs.graph.edges.height
    if isinstance(inputs, TableInputs):
        return "table rows", inputs.features.table.height
    return "CDR rows", inputs.batch.cdrs.height


@app.command()
@_reports_errors
def generate(
    out: Annotated[Path, typer.Option("--out", help="Directory to write the synthetic carrier to.")],
    subscribers: Annotated[int, typer.Option(min=100, help="Home subscribers.")] = 10_000,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of traffic.")] = 7,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives identical files.")] = 0,
    format: Annotated[OutputFormat, typer.Option("--format", help="CDR file format.")] = OutputFormat.parquet,
    evasion: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="0 = textbook fraud, 1 = careful, evasive fraud.")
    ] = 0.0,
    noise: Annotated[
        float, typer.Option(min=0.0, help="Export noise (mixed number forms, duplicates, garbage); 0 = clean.")
    ] = 1.0,
    start_date: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], metavar="<YYYY-MM-DD>", help="First day of traffic.")
    ] = "2026-11-02",  # type: ignore[assignment]  # click parses it with the option's format (shown as given)
    export: Annotated[
        ExportKind,
        typer.Option("--export", help="canonical: one row per event; two-legs: a mediation export, one "
                     "record per leg (MOC/MTC, SMS_MO/SMS_MT), read with sample_data/mappings/two_legs.toml."),
    ] = ExportKind.canonical,
) -> None:
    """Write a synthetic carrier: daily CDR files, registry, labels, allowlist.

    Writes DIR/cdr/cdr_YYYY-MM-DD.{parquet,csv}, DIR/subscribers.csv, DIR/labels.csv,
    DIR/operations.csv, DIR/allowlist.csv, DIR/personas.csv and DIR/manifest.json.
    operations.csv (msisdn,operation,first_day,last_day) lists the fraud SIMs of each rig,
    SMS campaign, SIM-box farm and pre-activated batch (rig-N, campaign-N, farm-N, batch-N)
    with their first and last day with traffic: the ground truth for linking SIMs.

    \b
    Example:
        detector generate --out sample_data/demo --subscribers 10000 --days 7 --seed 1 --format csv
        detector generate --out /tmp/legs --subscribers 2000 --export two-legs
    """
    from detector.simulate import generate_world

    with _progress("generating", total=days + 1) as advance:
        summary = generate_world(
            out,
            subscribers=subscribers,
            days=days,
            seed=seed,
            fmt=format.value,
            evasion=evasion,
            noise=noise,
            start_date=start_date.date(),
            export=export.value,
            progress=lambda _msg: advance(1),
        )
    stdout.print(
        f"wrote {summary.total_rows:,} CDR rows for {subscribers:,} subscribers over {days} days to {out}",
        highlight=False,
    )


@app.command()
@_reports_errors
def validate(
    cdr: CdrOption,
    mapping: MappingOption = None,
    rejects: Annotated[
        Path, typer.Option("--rejects", help="Where to write the rows that could not be parsed.")
    ] = Path("rejects.csv"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Read CDR files and report whether the engine can use them.

    Prints rows read and kept, rejects by reason, duplicates, date range, distinct numbers and
    per-file counts. Unparseable rows are written to --rejects with file, row, reason and raw text.
    Exits 0 when the input has usable rows, 2 when it has none or cannot be read.

    \b
    Example:
        detector validate --cdr exports/2026-11-02/ --mapping sample_data/mappings/mediation_moc_mtc.toml
    """
    from detector.atomic_writes import write_csv
    from detector.inputs.cdr import read_cdrs
    from detector.inputs.mapping import load_mapping
    from detector.inputs.validate import summarise

    mapping_ = load_mapping(mapping)
    n_files = _cdr_file_count(cdr)
    with _progress("reading", total=n_files) as advance:
        batch = read_cdrs(cdr, mapping_, progress=lambda _p, _r: advance(1))
    write_csv(batch.rejects, rejects)
    report = summarise(batch)
    if as_json:
        stdout.print_json(json.dumps(report.to_dict() | {"rejects_file": str(rejects)}))
    else:
        _print_validation(report, rejects)
    if not report.usable:
        raise _fail("no usable CDR rows: every row was rejected or dropped (see the rejects file)", 2)


@app.command()
@_reports_errors
def features(
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write the feature table to.")],
    cdr: CdrOrGraphOption = None,
    graph: GraphOption = None,
    subscribers: Annotated[
        Path | None, typer.Option("--subscribers", help="Subscriber registry (CSV or Parquet).")
    ] = None,
    mapping: MappingOption = None,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Where to write unparseable rows (default: rejects.csv beside --out)."),
    ] = None,
    engine: EngineOption = EngineKind.local,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    memory_limit: MemoryLimitOption = None,
    partitions: PartitionsOption = None,
    tmp_dir: TmpDirOption = None,
    spill_compression: SpillCompressionOption = SpillCompression.none,
) -> None:
    """Compute the feature table: one row per number, the core features of features.md and more.

    \b
    Example:
        detector features --cdr sample_data/demo/cdr --subscribers sample_data/demo/subscribers.csv --out features.parquet
        detector features --cdr exports/ --out features.parquet --memory-limit 4GiB --tmp-dir /scratch
        detector features --graph honeypot/edges.csv --out features.parquet
    """
    from detector.atomic_writes import write_csv, write_parquet
    from detector.engine.pipeline import feature_table, partitioned_features

    _one_input(cdr, graph)
    engine_ = _engine(engine, workers, scheduler, memory_limit, tmp_dir, partitions, spill_compression)
    rejects_path = rejects if rejects is not None else out.parent / "rejects.csv"
    if graph:
        _in_memory_only(engine, partitions)
    n_files = 0 if graph else _cdr_file_count(cdr)
    count = 1 if graph else engine_.partitions_for(cdr)
    rows_are = "events"
    if count > 1:
        from detector.inputs.mapping import load_mapping

        with _run_progress() as progress:
            run, rows = partitioned_features(cdr, out, engine_, count, subscribers=subscribers,
                                             mapping=load_mapping(mapping), progress=progress)
        write_csv(run.rejects, rejects_path)
        count = run.partitions
        events, rejected, numbers = run.events, run.rejects.height, rows
    else:
        inputs = _read_either(cdr, graph, subscribers, mapping, n_files)
        table = feature_table(inputs)
        write_parquet(table, out)
        write_csv(inputs.rejects, rejects_path)
        what, events = _what_was_read(inputs)
        rows_are = "events" if what == "CDR rows" else "edges"
        rejected, numbers = inputs.rejects.height, table.height
    from features.catalogue import FEATURES

    stdout.print(
        f"wrote {numbers:,} numbers x {len(FEATURES)} features to {out} "
        f"({events:,} {rows_are}; {rejected:,} rejected rows in {rejects_path})"
        + (f"; {count} partitions" if count > 1 else ""),
        highlight=False,
    )


SubscribersOption = Annotated[
    Path | None, typer.Option("--subscribers", help="Subscriber registry (CSV or Parquet).")
]
AllowlistOption = Annotated[
    Path | None, typer.Option("--allowlist", help="CSV with a msisdn column: numbers never flagged.")
]
#: The model a scoring run reads (train's --model is the file it writes).
ScoringModelOption = Annotated[
    Path | None, typer.Option("--model", help="Model file (default: the model shipped in the package).")
]
RulesOption = Annotated[
    Path | None, typer.Option("--rules", help="Rules TOML (default: the shipped models/rules.toml).")
]
TopOption = Annotated[int, typer.Option("--top", min=0, help="Flagged rows to print.")]
PrecisionOption = Annotated[
    float | None,
    typer.Option("--precision", min=0.01, max=1.0,
                 help="Target precision per category; thresholds are re-picked from the model's held-out curves."),
]


def _note(message: str) -> None:
    """One line on stderr about what the run could not do, even with --quiet (it is not progress)."""
    stderr.print(f"Note: {message}", markup=False, highlight=False)


def _cdr_file_count(cdr: list[str]) -> int:
    """How many CDR files ``--cdr`` names, after saying on stderr which files it skipped."""
    from detector.inputs.cdr import find_cdr_files

    skipped: list[Path] = []
    files = find_cdr_files(cdr, skipped)
    if skipped:
        names = ", ".join(str(p) for p in skipped[:3]) + (f" and {len(skipped) - 3:,} more" if len(skipped) > 3 else "")
        _note(f"skipped {len(skipped):,} file{'s' * (len(skipped) > 1)} that "
              f"{'are' if len(skipped) > 1 else 'is'} not CSV (.csv, .csv.gz) or Parquet: {names}")
    return len(files)


def _read_with_progress(cdr: list[str], subscribers: Path | None, mapping: Path | None,
                        n_files: int | None = None, *, match_legs: bool = True) -> Any:
    """Read the inputs of a run (:func:`detector.engine.pipeline.read_inputs`) with a bar over the files."""
    from detector.engine.pipeline import read_inputs
    from detector.inputs.mapping import load_mapping

    mapping_ = load_mapping(mapping)
    n_files = _cdr_file_count(cdr) if n_files is None else n_files
    with _progress("reading", total=n_files) as advance:
        return read_inputs(cdr, subscribers, mapping_, progress=lambda _p, _r: advance(1), match_legs=match_legs)


@app.command()
@_reports_errors
def train(
    labels: Annotated[Path, typer.Option("--labels", help="CSV msisdn,label (one row per number and label).")],
    model: Annotated[Path, typer.Option("--model", help="Model file to write (skops).")],
    cdr: CdrOrGraphOption = None,
    graph: GraphOption = None,
    table: FeatureTableOption = None,
    subscribers: SubscribersOption = None,
    mapping: MappingOption = None,
    precision: Annotated[
        float, typer.Option("--precision", min=0.01, max=1.0, help="Target precision the thresholds are picked for.")
    ] = 0.95,
    max_iter: Annotated[int, typer.Option("--max-iter", min=10, help="Boosting rounds per category.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed of the folds and trees.")] = 0,
) -> None:
    """Fit the classifier and its per-category thresholds; save a model file that loads without
    executing code.

    Labels may name only some categories: the others are not trained (a note says which), and
    the model scores only those.

    \b
    Example:
        detector train --cdr world/cdr --subscribers world/subscribers.csv --labels world/labels.csv --model my.skops
        detector train --graph honeypot/edges.parquet --labels honeypot/labels.csv --model graph.skops
        detector train --features aggregates.parquet --labels labels.csv --model own.skops
    """
    from detector.engine.pipeline import feature_table
    from detector.inputs.labels import read_labels
    from models.model_file import save_model
    from models.training import train_model

    from detector.engine.pipeline import TableInputs

    inputs = _read_either(cdr, graph, subscribers, mapping, table=table, with_table=True)
    features_ = feature_table(inputs)
    # A ready table's columns are the user's: the model reads all of them (models.training).
    columns = inputs.features.columns if isinstance(inputs, TableInputs) else None
    known = read_labels(labels)
    what, rows = _what_was_read(inputs)
    folds = 4
    with _steps("training") as step:
        try:
            fitted = train_model(features_, known, precision=precision, folds=folds, params={"max_iter": max_iter},
                                 random_state=seed, summary={what.replace(" ", "_").lower(): rows},
                                 progress=step, columns=columns)
        except ValueError as exc:
            raise InputError(f"cannot train on {labels}: {exc}") from None
    save_model(fitted, model)
    _not_trained_note(fitted, folds)
    auc = ", ".join(f"{c} {v:.3f}" for c, v in fitted.summary["held_out_pr_auc"].items())
    stdout.print(f"wrote {model}: {features_.height:,} numbers; held-out PR-AUC {auc}", highlight=False)


def _not_trained_note(model: Any, folds: int) -> None:
    """After training: the categories the labels did not give enough of, in one line."""
    from detector.contract import CATEGORIES

    positives = model.summary["positives"]
    why = [f"no {c} labels" if not positives[c] else f"too few {c} labels ({positives[c]}; need at least {folds})"
           for c in CATEGORIES if c not in model.categories]
    if why:
        _note(f"{'; '.join(why)}: {'that category is' if len(why) == 1 else 'those categories are'} not trained")


@app.command()
@_reports_errors
@_start_up_unscanned
def score(
    out: Annotated[Path, typer.Option("--out", help="Directory for flagged.csv, scores.parquet, report.html, rejects.csv.")],
    cdr: CdrOrGraphOption = None,
    graph: GraphOption = None,
    table: FeatureTableOption = None,
    subscribers: SubscribersOption = None,
    allowlist: AllowlistOption = None,
    mapping: MappingOption = None,
    model: ScoringModelOption = None,
    rules: RulesOption = None,
    precision: PrecisionOption = None,
    top: TopOption = 10,
    engine: EngineOption = EngineKind.local,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    memory_limit: MemoryLimitOption = None,
    partitions: PartitionsOption = None,
    tmp_dir: TmpDirOption = None,
    spill_compression: SpillCompressionOption = SpillCompression.none,
) -> None:
    """Score every number and write the flagged list, scores, the analyst report and rejects.

    \b
    Example:
        detector score --cdr world/cdr --subscribers world/subscribers.csv --allowlist world/allowlist.csv --out run
        detector score --cdr exports/ --out run --engine dask --scheduler tcp://10.0.0.5:8786 --tmp-dir /shared/spill
        detector score --graph honeypot/edges.csv --out run
        detector score --features aggregates.parquet --model own.skops --out run
    """
    from detector.engine.pipeline import NO_REGISTRY_NOTE, partitioned_scores, run_facts, score_inputs, write_score_outputs
    from detector.inputs.labels import read_allowlist
    from detector.outputs.files import write_run_outputs
    from models.model_file import SHIPPED_MODEL, load_model
    from models.rules import load_rules

    _one_input(cdr, graph, table, with_table=True)
    engine_ = _engine(engine, workers, scheduler, memory_limit, tmp_dir, partitions, spill_compression)
    if graph:
        _in_memory_only(engine, partitions)
    if table is not None:
        _in_memory_only(engine, partitions, "--features")
        _no_registry_with_a_table(table, subscribers)
    in_memory = bool(graph) or table is not None
    model_path = model if model is not None else SHIPPED_MODEL
    detector_model = load_model(model_path)
    rule_set = load_rules(rules)
    allowed = read_allowlist(allowlist) if allowlist is not None else None
    _started()
    run = {
        "generated": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "CDR rows": 0,
        "rejected rows": 0,
        "numbers scored": 0,
        "model": "shipped default" if model is None else str(model),
        "target precision": precision if precision is not None else detector_model.precision,
    }
    _untrained_note(detector_model)
    n_files = 0 if in_memory else _cdr_file_count(cdr)
    count = 1 if in_memory else engine_.partitions_for(cdr)
    if count > 1:
        from detector.inputs.mapping import load_mapping

        with _run_progress() as progress:
            done, result, imeis = partitioned_scores(
                cdr, detector_model, engine_, count, subscribers=subscribers, mapping=load_mapping(mapping),
                rules=rule_set, allowlist=allowed, precision=precision, progress=progress)
        registry = done.registry.subscribers if done.registry is not None else None
        count = done.partitions
        run |= {"CDR rows": done.events, "rejected rows": done.rejects.height,
                "numbers scored": result.scores.height, "partitions": count}
        run |= run_facts(window=done.window, duplicates=done.duplicates, legs_matched=done.legs_matched,
                         registry=subscribers is not None, absent=done.absent)
        paths = write_run_outputs(out, flagged=result.flagged, scores=result.scores, registry=registry,
                                  rejects=done.rejects, imeis=imeis, run=run, thresholds=result.thresholds,
                                  allowlisted=result.allowlisted)
    else:
        inputs = _read_either(cdr, graph, subscribers, mapping, n_files, table=table, with_table=True)
        result = score_inputs(inputs, detector_model, rules=rule_set, allowlist=allowed, precision=precision)
        what, rows = _what_was_read(inputs)
        run = {what if k == "CDR rows" else k: v for k, v in run.items()}
        run |= {what: rows, "rejected rows": inputs.rejects.height, "numbers scored": result.scores.height}
        if not in_memory:
            run |= run_facts(window=inputs.window, duplicates=inputs.batch.duplicates,
                             legs_matched=inputs.batch.legs_matched, registry=subscribers is not None,
                             absent=inputs.batch.absent)
        elif graph and subscribers is None:
            run["note"] = NO_REGISTRY_NOTE
        paths = write_score_outputs(out, result, inputs, run)
    _print_flagged(result.flagged, top)
    if subscribers is None and table is None:  # a ready table has what evidence it has
        _note(NO_REGISTRY_NOTE)
    per = result.flagged.group_by("category").len().sort("category").iter_rows()
    counts = ", ".join(f"{c} {n:,}" for c, n in per) or "none"
    split = f" in {count} partitions" if count > 1 else ""
    flags = result.flagged.height
    stdout.print(f"flagged {result.flagged['msisdn'].n_unique():,} of {result.scores.height:,} numbers{split} "
                 f"({flags:,} flag{'s' * (flags != 1)}: {counts}); report: {paths['report.html']}", highlight=False)


def _print_flagged(flagged: Any, top: int) -> None:
    if not top or flagged.is_empty():
        return
    # Flags, not numbers: a number flagged in two categories is two rows (the summary line after
    # the table counts both).
    numbers = flagged["msisdn"].n_unique()
    table = Table(title=f"Top {min(top, flagged.height)} of {flagged.height:,} flags "
                        f"({numbers:,} number{'s' * (numbers != 1)})", title_justify="left")
    for col in ("msisdn", "category", "score", "source", "reasons"):
        table.add_column(col, justify="right" if col == "score" else "left")
    for row in flagged.head(top).iter_rows(named=True):
        table.add_row(row["msisdn"], row["category"], f"{row['score']:.3f}", row["source"], row["reasons"])
    stdout.print(table)


StateOption = Annotated[
    Path, typer.Option("--state", help="The state directory nightly runs keep (created by the first nightly run).")
]


@app.command()
@_reports_errors
@_start_up_unscanned
def nightly(
    cdr: CdrOption,
    state: StateOption,
    out: Annotated[Path, typer.Option("--out", help="Directory for tonight's outputs (score's, verify.csv, changes.csv).")],
    subscribers: SubscribersOption = None,
    allowlist: AllowlistOption = None,
    mapping: MappingOption = None,
    model: ScoringModelOption = None,
    rules: RulesOption = None,
    window: Annotated[int, typer.Option("--window", min=1, help="Days scored, ending on --as-of.")] = 7,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option("--as-of", formats=["%Y-%m-%d"], metavar="<YYYY-MM-DD>",
                     help="Last day of the window (default: the latest day the state holds)."),
    ] = None,
    precision: PrecisionOption = None,
    verify_callees: Annotated[
        int, typer.Option("--verify-callees", min=0, help="Callees listed in verify.csv per voice or SMS case "
                          "opened tonight (50: about 3 replies at the 5-7% who answer).")] = 50,
    keep_days: Annotated[
        int | None, typer.Option("--keep-days", min=1, help="Forget days older than the latest minus N "
                                 "(default: the window + 30).")] = None,
    engine: EngineOption = EngineKind.local,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    memory_limit: MemoryLimitOption = None,
    partitions: PartitionsOption = None,
    tmp_dir: TmpDirOption = None,
    top: TopOption = 10,
) -> None:
    """Add tonight's files to the state and score every number active in the window.

    Earlier nights' rows come from the state: tonight's files are the only ones parsed. Writes
    what score writes (over the window; flagged.csv with each flag's case: first_flagged,
    nights_flagged, status), verify.csv (the callees to survey before barring) and changes.csv
    (cases opened, reopened or closed tonight).

    \b
    Example:
        detector nightly --cdr exports/2026-11-08 --state state/ --subscribers registry.csv --out night/2026-11-08
    """
    import polars as pl

    from detector.atomic_writes import write_csv
    from detector.engine.nightly import run_night
    from detector.engine.pipeline import NO_REGISTRY_NOTE, run_facts
    from detector.inputs.labels import read_allowlist
    from detector.inputs.mapping import load_mapping
    from detector.inputs.registry import read_registry
    from detector.outputs.files import write_run_outputs
    from detector.outputs.report import shared_imeis
    from models.model_file import SHIPPED_MODEL, load_model
    from models.rules import load_rules

    mapping_ = load_mapping(mapping)
    detector_model = load_model(model if model is not None else SHIPPED_MODEL)
    rule_set = load_rules(rules)
    allowed = read_allowlist(allowlist) if allowlist is not None else None
    run_engine = _engine(engine, workers, scheduler, memory_limit, tmp_dir, partitions)
    _started()
    _untrained_note(detector_model)
    # Legs are paired by the state, with those of earlier nights (a late switch's file).
    batch = _read_with_progress(cdr, None, mapping, match_legs=False).batch
    registry = read_registry(subscribers, mapping_) if subscribers is not None else None
    night = run_night(state, batch, mapping_, detector_model,
                      registry=registry.subscribers if registry is not None else None, rules=rule_set,
                      allowlist=allowed, precision=precision, window=window,
                      as_of=as_of.date() if as_of is not None else None, keep_days=keep_days,
                      verify_callees=verify_callees, engine=run_engine)
    held = night.state.rows_held(night.days)
    rejects = batch.rejects if registry is None else pl.concat([batch.rejects, registry.rejects])
    run = {
        "generated": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "window": f"{night.days[0]} to {night.as_of} ({window} days, {held.height} held)",
        "CDR rows": int(held["rows"].sum()),
        "tonight's rows": f"{night.added.rows:,} added, {night.added.duplicates:,} already held",
        "rejected rows": rejects.height,
        "numbers scored": night.scores.height,
        "model": "shipped default" if model is None else str(model),
        "target precision": precision if precision is not None else detector_model.precision,
    }
    run |= run_facts(window=night.traffic, duplicates=batch.duplicates + night.added.duplicates,
                     legs_matched=night.added.legs, registry=subscribers is not None, absent=night.absent)
    paths = write_run_outputs(out, flagged=night.flagged, scores=night.scores,
                              registry=registry.subscribers if registry is not None else None, rejects=rejects,
                              imeis=shared_imeis(night.handsets, night.flagged), run=run,
                              thresholds=night.thresholds, allowlisted=night.allowlisted, history=night.history,
                              cases=night.cases)
    write_csv(night.verify, out / "verify.csv")
    write_csv(night.changes, out / "changes.csv")
    _print_flagged(night.flagged, top)
    if subscribers is None:
        _note(NO_REGISTRY_NOTE)
    flags = night.flagged.height
    stdout.print(f"night {night.as_of}: {night.added.rows:,} rows added ({night.added.duplicates:,} already held); "
                 f"flagged {night.flagged['msisdn'].n_unique():,} of {night.scores.height:,} numbers active in "
                 f"{window} days ({flags:,} flag{'s' * (flags != 1)}"
                 f"{f'; in {night.partitions} partitions' if night.partitions > 1 else ''}); "
                 f"cases: {_case_counts(night.changes)}; "
                 f"report: {paths['report.html']}", highlight=False)


def _case_counts(changes: Any) -> str:
    """``3 opened, 1 closed``: tonight's changes to the case ledger, or ``no change``."""
    counts = changes.group_by("change").len().sort("change").iter_rows()
    return ", ".join(f"{n:,} {change}" for change, n in counts) or "no change"


@app.command()
@_reports_errors
def cases(
    state: StateOption,
    msisdn: Annotated[str | None, typer.Option("--msisdn", help="Only this number's cases (any written form).")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only cases of this status (open, closed, ...).")] = None,
    category: Annotated[str | None, typer.Option("--category", help="Only cases of this category.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Write the cases to this CSV instead of printing them.")] = None,
) -> None:
    """List the case ledger: one row per (number, category) ever flagged by a nightly run.

    \b
    Example:
        detector cases --state state/ --status open --category voice_spam
        detector cases --state state/ --msisdn 0912345678 --out case.csv
    """
    import polars as pl

    from detector.atomic_writes import write_csv
    from detector.inputs.numbers import normalise_series
    from detector.state.store import State

    held = State.open(state)
    ledger = held.cases()
    if msisdn is not None:
        number = normalise_series(pl.Series([msisdn]), held.country_code)[0]
        ledger = ledger.filter(pl.col("msisdn") == number)
    for column, value in (("status", status), ("category", category)):
        if value is not None:
            ledger = ledger.filter(pl.col(column) == value)
    if out is not None:
        write_csv(ledger, out)
        stdout.print(f"wrote {ledger.height:,} cases to {out}", highlight=False)
        return
    if ledger.is_empty():
        stdout.print("no cases", highlight=False)
        return
    with pl.Config(tbl_rows=50, tbl_cols=-1, tbl_width_chars=200, fmt_str_lengths=80, tbl_hide_dataframe_shape=True):
        stdout.print(ledger.select("msisdn", "category", "status", "first_flagged", "last_flagged", "nights_flagged",
                                   "highest_score", "source", "reasons"), highlight=False)
    stdout.print(f"{ledger.height:,} case{'s' * (ledger.height != 1)}"
                 + (" (first 50 shown; --out for all)" if ledger.height > 50 else ""),
                 highlight=False)


@app.command(name="state")
@_reports_errors
def state_command(
    state: StateOption,
    keep_days: Annotated[
        int | None, typer.Option("--keep-days", min=0, help="Forget the days older than the latest day minus N.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Show what the state holds (days, rows and numbers per day, nights run, cases by status,
    size on disk), or forget old days.

    \b
    Example:
        detector state --state state/
        detector state --state state/ --keep-days 37
    """
    import polars as pl

    from detector.engine.nightly import latest_day
    from detector.state.store import State, writing

    held = State.open(state)
    if keep_days is not None:
        latest = latest_day(held)
        if latest is not None:
            with writing(state) as night:
                gone = night.forget_before(latest - dt.timedelta(days=keep_days))
                held = night.commit(None)
            stdout.print(f"forgot {gone:,} rows of days before {latest - dt.timedelta(days=keep_days)}", highlight=False)
    days = held.days()
    nights = held.nights().filter(pl.col("night") > 0)
    size = sum(f.stat().st_size for f in Path(state).rglob("*") if f.is_file())
    summary = {
        "state": str(state),
        "days": [{"day": str(r["day"]), "rows": r["rows"], "numbers": r["numbers"]} for r in days.iter_rows(named=True)],
        "nights": nights.height,
        "last_night": None if nights.is_empty() else {
            "as_of": str(nights["as_of"][-1]) if nights["as_of"][-1] is not None else None,
            "committed_at": nights["committed_at"][-1].isoformat(timespec="seconds"),
            "rows_added": nights["rows_added"][-1], "duplicates": nights["duplicates"][-1]},
        "cases": dict(held.cases().group_by("status").len().sort("status").iter_rows()),
        "bytes": size,
    }
    if as_json:
        stdout.print_json(json.dumps(summary))
        return
    stdout.print(f"{state}: {len(summary['days'])} days, {int(days['rows'].sum()) if days.height else 0:,} rows, "
                 f"{nights.height} nights, {size / 2**20:,.1f} MiB", highlight=False)
    for r in summary["days"]:
        stdout.print(f"  {r['day']}  {r['rows']:>12,} rows  {r['numbers']:>10,} numbers", highlight=False)
    stdout.print("cases: " + (", ".join(f"{n:,} {status}" for status, n in summary["cases"].items()) or "none"),
                 highlight=False)
    if summary["last_night"]:
        last = summary["last_night"]
        stdout.print(f"last night: as of {last['as_of']}, committed {last['committed_at']}, "
                     f"{last['rows_added']:,} rows added, {last['duplicates']:,} already held", highlight=False)


@app.command()
@_reports_errors
def evaluate(
    scores: Annotated[Path, typer.Option("--scores", help="scores.parquet written by detector score.")],
    labels: Annotated[Path, typer.Option("--labels", help="CSV msisdn,label.")],
    flagged: Annotated[
        Path | None, typer.Option("--flagged", help="flagged.csv (default: the one beside --scores, if any).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Per-category precision, recall, PR-AUC and recall at 1% and 0.1% false-positive rate.

    \b
    Example:
        detector evaluate --scores run/scores.parquet --labels world/labels.csv
    """
    import polars as pl

    from detector.inputs.labels import read_labels
    from models.evaluation import evaluate as evaluate_scores
    from models.evaluation import flagged_list_precision, unscored_categories

    try:
        score_table = pl.read_parquet(scores)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise InputError(f"cannot read scores {scores}: {str(exc).splitlines()[0]}") from None
    missing = [c for c in ("msisdn", "score_voice_spam", "score_sms_spam", "score_simbox", "score_preactivated_sim")
               if c not in score_table.columns]
    if missing:
        raise InputError(f"scores {scores}: required column {missing[0]!r} is missing")
    known = read_labels(labels)
    flagged_path = flagged if flagged is not None else scores.parent / "flagged.csv"
    flagged_table = None
    if flagged is not None or flagged_path.exists():
        try:
            flagged_table = pl.read_csv(flagged_path, schema_overrides={"msisdn": pl.Utf8})
        except (OSError, pl.exceptions.PolarsError) as exc:
            raise InputError(f"cannot read flagged list {flagged_path}: {str(exc).splitlines()[0]}") from None
    metrics = evaluate_scores(score_table, known, flagged_table)
    unscored = unscored_categories(score_table)
    if unscored:
        one = len(unscored) == 1
        _note(f"{_listed(unscored)} {'has' if one else 'have'} no scores (the model was not trained for "
              f"{'it' if one else 'them'}): no metrics")
    overall = flagged_list_precision(flagged_table, known) if flagged_table is not None else None
    if as_json:
        stdout.print_json(json.dumps({"categories": metrics.to_dicts(), "flagged_list_precision": overall}))
        return
    short = {"positives": "pos", "numbers": "numbers", "pr_auc": "PR-AUC", "recall_at_fpr_0.01": "R@1%FPR",
             "recall_at_fpr_0.001": "R@0.1%FPR", "flagged": "flagged", "flagged_precision": "precision",
             "flagged_recall": "recall"}
    table = Table(title="Evaluation", title_justify="left")
    for col in metrics.columns:
        table.add_column(short.get(col, col), justify="left" if col == "category" else "right")
    for row in metrics.iter_rows():
        table.add_row(*[f"{v:.4f}" if isinstance(v, float) else ("" if v is None else f"{v}") for v in row])
    stdout.print(table)
    if overall is not None:
        stdout.print(f"flagged-list precision: {overall:.4f} ({flagged_table.height:,} flagged rows)", highlight=False)


def _print_validation(report: Any, rejects: Path) -> None:
    summary = Table(title="CDR input", show_header=False, title_justify="left")
    summary.add_column("what")
    summary.add_column("value", justify="right")
    rows = [
        ("rows read", f"{report.rows_read:,}"),
        ("rows kept", f"{report.rows_kept:,}"),
        ("rows rejected", f"{report.rows_rejected:,}"),
        ("duplicate rows dropped", f"{report.duplicates:,}"),
        ("two legs of one call counted once", f"{report.legs_matched:,}"),
        ("rows dropped by mapping", f"{report.rows_dropped:,}"),
        ("voice / sms events", f"{report.voice_events:,} / {report.sms_events:,}"),
        ("first event", str(report.first_event)),
        ("last event", str(report.last_event)),
        ("days", f"{report.days}"),
        ("distinct callers", f"{report.distinct_callers:,}"),
        ("distinct callees", f"{report.distinct_callees:,}"),
    ]
    for what, value in rows:
        summary.add_row(what, value)
    stdout.print(summary)
    if report.rejects_by_reason:
        reasons = Table(title=f"Rejects by reason (rows in {rejects})", title_justify="left")
        reasons.add_column("reason")
        reasons.add_column("rows", justify="right")
        for reason, n in report.rejects_by_reason.items():
            reasons.add_row(reason, f"{n:,}")
        stdout.print(reasons)
    files = Table(title="Files", title_justify="left")
    for col in ("file", "read", "parsed", "rejected", "dropped"):
        files.add_column(col, justify="left" if col == "file" else "right")
    for f in report.files:
        files.add_row(f.path, f"{f.rows_read:,}", f"{f.rows_parsed:,}", f"{f.rows_rejected:,}",
                      f"{f.rows_dropped:,}")
    stdout.print(files)


def _terminated(signum: int, frame: object) -> None:
    # A run stopped by Ctrl-C or SIGTERM (a scheduler's kill, a timeout) unwinds the same way:
    # temporary files are removed, no output is half-written, and the run ends "interrupted", 130,
    # whatever exception the signal turned into on its way out (see _interrupted).
    _State.signalled = True
    raise KeyboardInterrupt


#: Options of the ``detector`` group itself, accepted after the command name too (cli.md).
GLOBAL_FLAGS = frozenset({"--quiet", "-q", "--debug"})


def global_flags_first(argv: list[str]) -> list[str]:
    """``argv`` with the global flags moved before the command name, where Click parses them:
    ``features … -q`` is ``-q features …``. Nothing after a ``--`` is moved (it is an argument)."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in GLOBAL_FLAGS]
    return [*flags, *(a for a in argv[:end] if a not in GLOBAL_FLAGS), *argv[end:]]


def main(argv: list[str] | None = None) -> None:
    """Run the CLI on ``argv`` (default: the command line) and exit with its code."""
    signal.signal(signal.SIGTERM, _terminated)
    signal.signal(signal.SIGINT, _terminated)
    try:
        app(args=global_flags_first(sys.argv[1:] if argv is None else list(argv)), prog_name="detector")
        code: int | str | None = 0
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:  # outside a command: while Click parsed the options
        code = INTERRUPTED
    if _State.signalled:
        # Wherever the signal landed (parsing, a command, its clean-up), the run says so once,
        # and a second Ctrl-C cannot turn the exit into a traceback.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if not _State.said_interrupted:
            _fail("interrupted", INTERRUPTED)
        exit_interrupted()
    sys.exit(code)


def exit_interrupted() -> NoReturn:
    """End the process with :data:`INTERRUPTED` now. The run has unwound (its spill removed, its
    outputs whole or absent); skipping the interpreter's finalisation keeps a KeyboardInterrupt
    still pending in it (numba and Polars let one surface late) from ending the process by
    SIGINT instead (exit -2, a traceback)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(INTERRUPTED)
