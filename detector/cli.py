"""The ``detector`` command line (spec/cli.md).

A thin layer: each command parses its options and calls library functions. Results go to stdout;
progress and errors go to stderr. Exit codes: 0 success, 1 run-time failure, 2 bad usage or bad
input, each error as one line (a traceback only with ``--debug``).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from detector.errors import InputError

app = typer.Typer(
    name="detector",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


class _State:
    debug = False
    quiet = False


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
        except KeyboardInterrupt:
            raise _fail("interrupted", 130) from None
        except Exception as exc:  # a bug or an environment failure: say so in one line
            if _State.debug:
                raise
            raise _fail(f"{type(exc).__name__}: {exc} (run with --debug for details)", 1) from None

    return wrapper


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


class OutputFormat(str, Enum):
    parquet = "parquet"
    csv = "csv"


CdrOption = Annotated[
    list[str],
    typer.Option("--cdr", help="CDR files, directories or globs (CSV, .csv.gz, Parquet); repeatable."),
]
MappingOption = Annotated[
    Path | None,
    typer.Option("--mapping", help="TOML file mapping the export's columns and codes (see README)."),
]


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
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="First day of traffic.")
    ] = dt.datetime(2026, 11, 2),
) -> None:
    """Write a synthetic carrier: daily CDR files, registry, labels, allowlist.

    Writes DIR/cdr/cdr_YYYY-MM-DD.{parquet,csv}, DIR/subscribers.csv, DIR/labels.csv,
    DIR/allowlist.csv, DIR/personas.csv and DIR/manifest.json.

    \b
    Example:
        detector generate --out sample_data/demo --subscribers 10000 --days 7 --seed 1 --format csv
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
    from detector.ingest import find_cdr_files, read_cdrs
    from detector.mapping import load_mapping
    from detector.outputs import write_csv
    from detector.validate import summarise

    mapping_ = load_mapping(mapping)
    n_files = len(find_cdr_files(cdr))
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
    cdr: CdrOption,
    out: Annotated[Path, typer.Option("--out", help="Parquet file to write the feature table to.")],
    subscribers: Annotated[
        Path | None, typer.Option("--subscribers", help="Subscriber registry (CSV or Parquet).")
    ] = None,
    mapping: MappingOption = None,
    rejects: Annotated[
        Path | None,
        typer.Option("--rejects", help="Where to write unparseable rows (default: rejects.csv beside --out)."),
    ] = None,
) -> None:
    """Compute the feature table: one row per number, the core features of features.md and more.

    \b
    Example:
        detector features --cdr sample_data/demo/cdr --subscribers sample_data/demo/subscribers.csv --out features.parquet
    """
    from detector.ingest import find_cdr_files
    from detector.mapping import load_mapping
    from detector.outputs import write_csv, write_parquet
    from detector.pipeline import feature_table, read_inputs

    mapping_ = load_mapping(mapping)
    n_files = len(find_cdr_files(cdr))
    with _progress("reading", total=n_files) as advance:
        inputs = read_inputs(cdr, subscribers, mapping_, progress=lambda _p, _r: advance(1))
    table = feature_table(inputs)
    write_parquet(table, out)
    rejects_path = rejects if rejects is not None else out.parent / "rejects.csv"
    write_csv(inputs.rejects, rejects_path)
    stdout.print(
        f"wrote {table.height:,} numbers x {table.width - 1} features to {out} "
        f"({inputs.batch.cdrs.height:,} events; {inputs.rejects.height:,} rejected rows in {rejects_path})",
        highlight=False,
    )


def _print_validation(report: Any, rejects: Path) -> None:
    summary = Table(title="CDR input", show_header=False, title_justify="left")
    summary.add_column("what")
    summary.add_column("value", justify="right")
    rows = [
        ("rows read", f"{report.rows_read:,}"),
        ("rows kept", f"{report.rows_kept:,}"),
        ("rows rejected", f"{report.rows_rejected:,}"),
        ("duplicate rows dropped", f"{report.duplicates:,}"),
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


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    try:
        app(args=argv, prog_name="detector")
    except SystemExit as exc:
        sys.exit(exc.code)
