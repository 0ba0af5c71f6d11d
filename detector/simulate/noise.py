"""Export noise: what a real mediation export does to clean events (domain.md, "What real exports look like").

Numbers in mixed forms (``0912…``, ``+84 912 345 678``, ``0084…``, retired 11-digit forms), exact
duplicate rows, a little disorder, missing optional fields, and garbage rows. Every rate is
multiplied by the ``noise`` level; at 0 the output is clean canonical data. Counts of what was
injected are returned so the manifest can state them exactly.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl

from detector.inputs.numbers import RETIRED_PREFIXES, national_to_retired
from detector.simulate.behaviours import Events

# Number forms, chosen per row and per column.
CANONICAL, NATIONAL, SPACED, INTL_PREFIX, RETIRED_NATIONAL, RETIRED_84 = range(6)
#: Shares of the non-canonical forms (retired forms fall back to national where none exists).
FORM_SHARES = np.array([0.45, 0.20, 0.15, 0.10, 0.10])
NON_CANONICAL_SHARE = 0.25  # at noise = 1
DUPLICATE_RATE = 0.005
LATE_RATE = 0.003  # rows written after later ones (late-arriving records)
NULL_CELL_RATE = 0.02
NULL_IMEI_RATE = 0.03
NULL_ANSWERED_RATE = 0.01
GARBAGE_PER_FILE = 4.0

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CDR_COLUMNS = ("caller", "callee", "start_time", "duration_s", "event_type", "answered", "cell_id", "imei")

#: National 3-digit prefixes with a retired 11-digit form, e.g. ``"032" -> "0162"``, derived from
#: the engine's own conversion table so the two cannot disagree.
_RETIRED_OF_NEW: dict[str, str] = {
    new: str(national_to_retired(new + "0000000"))[:-7] for new in RETIRED_PREFIXES.values()
}


@dataclass(frozen=True)
class Lookups:
    """Text of cells and handsets, indexed like the population's cell and device indices."""

    cell_names: pl.Series
    imeis: pl.Series


def _render_numbers(numbers: np.ndarray, form: np.ndarray) -> pl.Series:
    """Numbers as text, canonical unless ``form`` asks for another way of writing them."""
    text = pl.Series(numbers).cast(pl.Utf8)
    idx = np.flatnonzero(form != CANONICAL)
    if idx.size == 0:
        return text
    sub = pl.DataFrame({"n": text.gather(idx), "f": form[idx]})
    n, f = pl.col("n"), pl.col("f")
    nat = n.str.slice(2)
    national = pl.lit("0") + nat
    retired = ("0" + nat.str.slice(0, 2)).replace_strict(
        list(_RETIRED_OF_NEW), list(_RETIRED_OF_NEW.values()), default=None, return_dtype=pl.Utf8
    ) + nat.str.slice(2)
    vietnamese = n.str.starts_with("84") & (n.str.len_chars() == 11)
    rendered = (
        pl.when(~vietnamese & (f == INTL_PREFIX))
        .then(pl.lit("00") + n)
        .when(~vietnamese)
        .then(pl.lit("+") + n)
        .when(f == NATIONAL)
        .then(national)
        .when(f == SPACED)
        .then(pl.lit("+84 ") + nat.str.slice(0, 3) + pl.lit(" ") + nat.str.slice(3, 3) + pl.lit(" ") + nat.str.slice(6))
        .when(f == INTL_PREFIX)
        .then(pl.lit("0084") + nat)
        .when(f == RETIRED_NATIONAL)
        .then(pl.coalesce(retired, national))
        .otherwise(pl.coalesce(pl.lit("84") + retired.str.slice(1), national))
    )
    return text.scatter(idx, sub.select(rendered).to_series())


def _forms(rng: np.random.Generator, n: int, noise: float) -> np.ndarray:
    share = min(0.9, NON_CANONICAL_SHARE * noise)
    other = rng.random(n) < share
    form = np.zeros(n, np.int8)
    form[other] = 1 + rng.choice(FORM_SHARES.size, int(other.sum()), p=FORM_SHARES)
    return form


def _mask(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    return rng.random(n) < min(1.0, rate)


#: Column :func:`dress` adds when asked: the index into its events of the event each row is.
EVENT_INDEX = "_event"


def dress(
    events: Events, rng: np.random.Generator, noise: float, day0: dt.date, lookups: Lookups,
    *, event_index: bool = False,
) -> tuple[pl.DataFrame, int]:
    """Turn one day of events into the rows of a CDR file; returns the frame and duplicates added.

    The frame has the canonical columns, typed (``start_time`` naive Datetime, ``duration_s``
    Int64, ``answered`` Boolean, text otherwise), rows ordered by start time except for a few
    late-arriving ones; with ``event_index``, also :data:`EVENT_INDEX` (a duplicate has its
    original's). The same random draws either way.
    """
    n = len(events)
    form_a = _forms(rng, n, noise)
    form_b = _forms(rng, n, noise)
    cell = np.where(_mask(rng, n, NULL_CELL_RATE * noise), -1, events.cell)
    device = np.where(_mask(rng, n, NULL_IMEI_RATE * noise), -1, events.device)
    answered_null = _mask(rng, n, NULL_ANSWERED_RATE * noise)

    dup = np.flatnonzero(_mask(rng, n, DUPLICATE_RATE * noise))
    key = events.t + np.where(_mask(rng, n, LATE_RATE * noise), rng.integers(30, 900, n), 0)
    rows = np.concatenate([np.arange(n), dup])
    # Duplicates sit right after their original (same key, same row index): a stable order.
    order = rows[np.lexsort((rows, key[rows]))]

    epoch_s = (day0 - dt.date(1970, 1, 1)).days * 86_400
    cell_o, device_o = cell[order], device[order]
    frame = pl.DataFrame(
        {
            "caller": _render_numbers(events.caller[order], form_a[order]),
            "callee": _render_numbers(events.callee[order], form_b[order]),
            "start_time": pl.Series((epoch_s + events.t[order]) * 1_000_000).cast(pl.Datetime("us")),
            "duration_s": pl.Series(events.duration[order], dtype=pl.Int64),
            "_sms": events.sms[order],
            "answered": events.answered[order],
            "_answered_null": answered_null[order],
            "cell_id": lookups.cell_names.gather(np.maximum(cell_o, 0)),
            "_cell_null": cell_o < 0,
            "imei": lookups.imeis.gather(np.maximum(device_o, 0)),
            "_imei_null": device_o < 0,
        }
    )
    frame = frame.select(
        "caller",
        "callee",
        "start_time",
        "duration_s",
        pl.when(pl.col("_sms")).then(pl.lit("sms")).otherwise(pl.lit("voice")).alias("event_type"),
        pl.when(pl.col("_answered_null")).then(None).otherwise(pl.col("answered")).alias("answered"),
        pl.when(pl.col("_cell_null")).then(None).otherwise(pl.col("cell_id")).alias("cell_id"),
        pl.when(pl.col("_imei_null")).then(None).otherwise(pl.col("imei")).alias("imei"),
    )
    if event_index:
        frame = frame.with_columns(pl.Series(EVENT_INDEX, order, dtype=pl.Int64))
    return frame, int(dup.size)


def garbage_count(rng: np.random.Generator, noise: float) -> int:
    """How many garbage rows one file gets (at least one whenever there is any noise)."""
    if noise <= 0:
        return 0
    return 1 + int(rng.poisson(GARBAGE_PER_FILE * noise))


def _csv_fields(row: dict[str, object]) -> list[str]:
    def text(v: object) -> str:
        if v is None:
            return ""
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, dt.datetime):
            return v.strftime(TIME_FORMAT)
        return str(v)

    return [text(row[c]) for c in CDR_COLUMNS]


def csv_garbage(frame: pl.DataFrame, k: int, rng: np.random.Generator) -> list[tuple[int, str]]:
    """``k`` broken CSV lines and the row positions they go before, sorted by position.

    Kinds: a line of stray text, a non-numeric duration, an unparseable timestamp, a row cut short,
    an empty caller.
    """
    if k == 0 or frame.height == 0:
        return []
    positions = np.sort(rng.integers(0, frame.height + 1, k))
    sources = rng.integers(0, frame.height, k)
    kinds = rng.integers(0, 5, k)
    lines = []
    for pos, src, kind in zip(positions.tolist(), sources.tolist(), kinds.tolist(), strict=True):
        fields = _csv_fields(frame.row(src, named=True))
        if kind == 0:
            words = ("MSC", "node", "restart", "ERR", "buffer", "overflow", "##", "record", "skipped", "EOF")
            line = " ".join(words[i] for i in rng.integers(0, len(words), int(rng.integers(3, 8))))
        elif kind == 1:
            fields[3] = ("N/A", "1m20s", "?", "abc")[int(rng.integers(0, 4))]
            line = ",".join(fields)
        elif kind == 2:
            fields[2] = ("2026-13-45 25:61:00", "yesterday", "00/00/0000 00:00", "--")[int(rng.integers(0, 4))]
            line = ",".join(fields)
        elif kind == 3:
            line = ",".join(fields[: int(rng.integers(1, 5))])
        else:
            fields[0] = ""
            line = ",".join(fields)
        lines.append((pos, line))
    return lines


def parquet_garbage(frame: pl.DataFrame, k: int, rng: np.random.Generator) -> pl.DataFrame:
    """``frame`` with ``k`` type-compatible garbage rows inserted: a null caller, a negative
    duration or an unknown event type, each a corrupted copy of a real row."""
    if k == 0 or frame.height == 0:
        return frame
    sources = rng.integers(0, frame.height, k)
    kinds = pl.Series(rng.integers(0, 3, k))
    bad = frame[sources].with_columns(
        pl.when(kinds == 0).then(None).otherwise(pl.col("caller")).alias("caller"),
        pl.when(kinds == 1).then(-pl.col("duration_s") - 1).otherwise(pl.col("duration_s")).alias("duration_s"),
        pl.when(kinds == 2).then(pl.lit("xx")).otherwise(pl.col("event_type")).alias("event_type"),
    )
    positions = np.sort(rng.integers(0, frame.height + 1, k))
    # Garbage row i goes just before original row positions[i].
    key = np.concatenate([np.arange(frame.height) * 2 + 1, positions * 2])
    return pl.concat([frame, bad]).gather(np.argsort(key, kind="stable"))
