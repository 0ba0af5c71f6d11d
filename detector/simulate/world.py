"""Generate a whole synthetic carrier: the public entry point :func:`generate_world`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

from detector.simulate import noise as export_noise
from detector.simulate.behaviours import Day, Events, TargetLists, day_events
from detector.simulate.legs import TWO_LEG_COLUMNS, two_leg_rows
from detector.simulate.population import SECONDS_PER_DAY, build_population
from detector.simulate.social import build_graph
from detector.simulate.writer import (
    clear_cdr_dir,
    write_cdr_csv,
    write_cdr_parquet,
    write_manifest,
    operation_table,
    write_side_files,
)

FORMATS = ("parquet", "csv")
#: How the CDR files are written: one canonical row per event, or one mediation record per leg
#: (:mod:`detector.simulate.legs`).
EXPORTS = ("canonical", "two-legs")
# Independent random streams, so that e.g. the noise level never changes the underlying traffic.
_POPULATION, _TRAFFIC, _NOISE = 0, 1, 2


@dataclass(frozen=True)
class WorldSummary:
    """What :func:`generate_world` wrote.

    ``rows_per_file`` counts data rows exactly as written (duplicates and garbage rows included,
    header excluded); ``total_rows`` is their sum.
    """

    rows_per_file: dict[str, int]
    total_rows: int
    duplicates: int
    garbage_rows: int
    personas: dict[str, int]
    labels: dict[str, int]
    subscribers: int
    days: int


def _note_traffic(first: np.ndarray, last: np.ndarray, entities: np.ndarray, day: int) -> None:
    """Record ``day`` as a day with traffic of the home SIMs (index below ``first.size``) among
    ``entities``, the callers and callees of the day's events."""
    home = entities[entities < first.size]
    first[home] = np.where(first[home] < 0, day, first[home])
    last[home] = day


def _check(subscribers: int, days: int, fmt: str, evasion: float, noise: float, export: str) -> None:
    if subscribers < 100:
        raise ValueError(f"subscribers must be at least 100, got {subscribers}")
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if export not in EXPORTS:
        raise ValueError(f"export must be one of {', '.join(EXPORTS)}, got {export!r}")
    if not 0.0 <= evasion <= 1.0:
        raise ValueError(f"evasion must be in [0, 1], got {evasion}")
    if noise < 0.0:
        raise ValueError(f"noise must be >= 0, got {noise}")


def generate_world(
    out: Path,
    *,
    subscribers: int = 10_000,
    days: int = 7,
    seed: int = 0,
    fmt: str = "parquet",
    evasion: float = 0.0,
    noise: float = 1.0,
    start_date: dt.date = dt.date(2026, 11, 2),
    export: str = "canonical",
    progress: Callable[[str], None] | None = None,
) -> WorldSummary:
    """Write a synthetic carrier with ground truth to ``out``.

    Parameters
    ----------
    out:
        Directory to write to (created). Writes ``cdr/cdr_YYYY-MM-DD.{parquet,csv}`` (one file per
        day; earlier CDR files there are removed), ``subscribers.csv``, ``labels.csv``,
        ``operations.csv``, ``allowlist.csv``, ``personas.csv`` and ``manifest.json``.
        ``operations.csv`` (``msisdn,operation,first_day,last_day``) lists the fraud SIMs that
        belong to an operation: ``rig-N`` (a voice spam rig's successive SIMs), ``campaign-N``
        (an SMS campaign), ``farm-N`` (a SIM-box farm), ``batch-N`` (a pre-activated dealer
        batch); first and last day are the ISO dates of the SIM's first and last day with traffic
        in the window (made or received), empty when it has none.
    subscribers:
        Home subscribers (this carrier's SIMs), at least 100. Fraud is a few percent of them.
    days:
        Days of traffic, starting at ``start_date`` (local time, Asia/Ho_Chi_Minh).
    seed:
        The same seed and parameters give byte-identical files.
    fmt:
        ``"parquet"`` or ``"csv"`` for the CDR files.
    evasion:
        0 = textbook fraud, 1 = careful fraud (lower volumes, cover traffic, random targets, dealers
        under the ID cap); values between interpolate every fraud parameter.
    noise:
        Multiplier on export-noise rates (number forms, duplicates, disorder, nulls, garbage rows);
        0 gives clean canonical output. The traffic itself does not depend on it.
    export:
        ``"canonical"`` (one row per event, canonical columns) or ``"two-legs"`` (a mediation
        export of outgoing and incoming legs, :mod:`detector.simulate.legs`; read it with
        ``sample_data/mappings/two_legs.toml``). The same world and noise either way.
    progress:
        Called with a short message once after the population is written and once per day.

    Returns
    -------
    WorldSummary
        Rows per file, duplicates and garbage rows injected, counts per persona and per label.
    """
    _check(subscribers, days, fmt, evasion, noise, export)
    report = progress or (lambda _msg: None)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cdr_dir = out / "cdr"
    clear_cdr_dir(cdr_dir)
    epoch_s = (start_date - dt.date(1970, 1, 1)).days * SECONDS_PER_DAY

    rng = np.random.default_rng([seed, _POPULATION])
    pop = build_population(subscribers, days, evasion, rng)
    graph = build_graph(pop, rng)
    lookups = export_noise.Lookups(
        cell_names=pl.Series(pop.cells.names(), dtype=pl.Utf8),
        imeis=pl.Series(pop.imei_values).cast(pl.Utf8),
    )
    per_persona, per_label = write_side_files(out, pop, epoch_s, lookups.cell_names)
    report(f"population: {subscribers:,} subscribers, {pop.numbers.size - subscribers:,} off-net numbers")

    rows_per_file: dict[str, int] = {}
    duplicates = garbage = 0
    carry = Events.empty()
    lists = TargetLists.start(pop)
    first_day = np.full(subscribers, -1, np.int64)
    last_day = np.full(subscribers, -1, np.int64)
    for d in range(days):
        date = start_date + dt.timedelta(days=d)
        day = Day(
            pop=pop,
            graph=graph,
            day=d,
            weekday=date.weekday(),
            rng=np.random.default_rng([seed, _TRAFFIC, d]),
            alive=pop.alive(d),
            lists=lists,
        )
        events = Events.concat([carry, day_events(day)])
        # Responses can fall after midnight: they belong to the next day's file (or past the window).
        today = events.t < (d + 1) * SECONDS_PER_DAY
        carry = events.take(~today & (events.t < days * SECONDS_PER_DAY))
        noise_rng = np.random.default_rng([seed, _NOISE, d])
        today_events = events.take(today)
        caller, callee = pop.entity_of(today_events.caller), pop.entity_of(today_events.callee)
        _note_traffic(first_day, last_day, np.concatenate([caller, callee]), d)
        legs = export == "two-legs"
        frame, dups = export_noise.dress(today_events, noise_rng, noise, start_date, lookups, event_index=legs)
        if legs:
            frame = two_leg_rows(frame, caller, callee, pop, d, lookups)
        k = export_noise.garbage_count(noise_rng, noise)
        name = f"cdr_{date.isoformat()}.{fmt}"
        columns = TWO_LEG_COLUMNS if legs else {}
        if fmt == "csv":
            garbage_lines = export_noise.csv_garbage(frame, k, noise_rng)
            rows = write_cdr_csv(cdr_dir / name, frame.rename(columns), garbage_lines)
        else:
            rows = write_cdr_parquet(cdr_dir / name, export_noise.parquet_garbage(frame, k, noise_rng).rename(columns))
        k = rows - frame.height
        rows_per_file[f"cdr/{name}"] = rows
        duplicates += dups
        garbage += k
        report(f"{name}: {rows:,} rows")

    operation_table(pop, first_day, last_day, start_date).write_csv(out / "operations.csv")
    summary = WorldSummary(
        rows_per_file=rows_per_file,
        total_rows=sum(rows_per_file.values()),
        duplicates=duplicates,
        garbage_rows=garbage,
        personas=per_persona,
        labels=per_label,
        subscribers=subscribers,
        days=days,
    )
    parameters = {
        "subscribers": subscribers,
        "days": days,
        "seed": seed,
        "fmt": fmt,
        "evasion": evasion,
        "noise": noise,
        "start_date": start_date.isoformat(),
        "timezone": "Asia/Ho_Chi_Minh",
    }
    if export != "canonical":  # the canonical world's manifest stays as it was
        parameters["export"] = export
    write_manifest(out / "manifest.json", parameters, asdict(summary))
    return summary
