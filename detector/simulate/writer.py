"""Files of a synthetic world: daily CDR files, registry, labels, operations, allowlist, personas,
manifest.

Everything is written with Polars; nothing here draws random numbers except where a garbage line
is placed, which the caller decides.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from detector.contract import CATEGORIES
from detector.simulate.noise import TIME_FORMAT
from detector.simulate.personas import (
    PERSONA_LABELS,
    PERSONA_NAMES,
    Persona,
)
from detector.simulate.population import SUB_TYPES, Population

CDR_PATTERNS = ("cdr_????-??-??.csv", "cdr_????-??-??.parquet")


def clear_cdr_dir(cdr_dir: Path) -> None:
    """Remove CDR files of an earlier world from ``cdr_dir`` so that the directory holds one world."""
    cdr_dir.mkdir(parents=True, exist_ok=True)
    for pattern in CDR_PATTERNS:
        for old in cdr_dir.glob(pattern):
            old.unlink()


def write_cdr_csv(path: Path, frame: pl.DataFrame, garbage: list[tuple[int, str]]) -> int:
    """Write ``frame`` as CSV with ``garbage`` lines inserted before the given row positions.

    Returns the data rows written (rows plus garbage lines, header excluded).
    """
    with path.open("wb") as fh:
        frame.head(0).write_csv(fh)
        start = 0
        for pos, line in [*garbage, (frame.height, None)]:
            if pos > start:
                frame.slice(start, pos - start).write_csv(fh, include_header=False, datetime_format=TIME_FORMAT)
                start = pos
            if line is not None:
                fh.write(line.encode() + b"\n")
    return frame.height + len(garbage)


def write_cdr_parquet(path: Path, frame: pl.DataFrame) -> int:
    """Write ``frame`` as Parquet; returns the rows written."""
    frame.write_parquet(path)
    return frame.height


def _hex(values: np.ndarray) -> np.ndarray:
    """uint64 values as 16 lower-case hex digits (hashed-looking identity numbers)."""
    shifts = np.arange(60, -4, -4, dtype=np.uint64)
    nibbles = ((values[:, None] >> shifts) & np.uint64(15)).astype(np.intp)
    chars = np.frombuffer(b"0123456789abcdef", np.uint8)[nibbles]
    return np.ascontiguousarray(chars).view("S16").ravel().astype("U16")


def _timestamps(seconds: np.ndarray, epoch_s: int) -> pl.Series:
    return pl.Series((epoch_s + seconds) * 1_000_000).cast(pl.Datetime("us")).dt.strftime(TIME_FORMAT)


def write_registry(path: Path, pop: Population, epoch_s: int, cell_names: pl.Series) -> None:
    """``subscribers.csv``: one row per home subscriber, sorted by msisdn."""
    reg = pop.registry
    n = pop.n_home
    frame = pl.DataFrame(
        {
            "msisdn": pl.Series(pop.numbers[:n]).cast(pl.Utf8),
            "activation_time": _timestamps(reg.activation_s, epoch_s),
            "dealer_id": pl.Series(reg.dealer).cast(pl.Utf8).str.zfill(5),
            "id_number": _hex(reg.identity_hash[reg.identity]),
            "subscription_type": pl.Series(np.asarray(SUB_TYPES)[reg.sub_type]),
            "iccid": pl.Series(reg.iccid).cast(pl.Utf8).str.zfill(13),
            "imsi": pl.Series(reg.imsi).cast(pl.Utf8).str.zfill(10),
            "activation_cell": cell_names.gather(reg.activation_cell),
        }
    ).with_columns(
        ("DL" + pl.col("dealer_id")).alias("dealer_id"),
        ("898404" + pl.col("iccid")).alias("iccid"),
        ("45204" + pl.col("imsi")).alias("imsi"),
    )
    frame.sort("msisdn").write_csv(path)


def label_table(pop: Population) -> pl.DataFrame:
    """``msisdn,label`` rows of every home subscriber with a fraud label, sorted."""
    n = pop.n_home
    persona = pop.persona[:n]
    parts = []
    for p, labels in PERSONA_LABELS.items():
        for label in labels:
            parts.append((np.flatnonzero(persona == p), label))
    parts.append((np.flatnonzero(pop.preactivated[:n]), "preactivated_sim"))
    frame = pl.DataFrame(
        {
            "msisdn": pl.Series(np.concatenate([pop.numbers[i] for i, _ in parts])).cast(pl.Utf8),
            "label": np.concatenate([np.full(i.size, label) for i, label in parts]).astype(str),
        }
    )
    return frame.unique().sort("msisdn", "label")


#: The operations whose SIMs share a group id, by the persona of their SIMs.
OPERATION_KINDS = {Persona.VOICE_SPAM_BULK: "rig", Persona.SMS_SPAM_SPREAD: "campaign", Persona.SIMBOX: "farm"}


def operation_table(pop: Population, first_day: np.ndarray, last_day: np.ndarray, start: dt.date) -> pl.DataFrame:
    """``msisdn,operation,first_day,last_day`` of every fraud SIM that belongs to an operation,
    sorted: a voice spam rig's successive SIMs (``rig-N``), an SMS campaign's SIMs
    (``campaign-N``), a SIM-box farm's (``farm-N``) and a pre-activated dealer batch's
    (``batch-N``; a rig's SIM bought from a batch is in both). ``first_day`` and ``last_day``
    (home entity day indices, -1 = none) become the ISO dates of its first and last day with
    traffic in the window, empty for a SIM with none (a dormant one): the ground truth for linking
    SIMs into operations (domain.md: a fraud team thinks in operations, not only numbers).
    """
    n = pop.n_home
    parts = [(np.flatnonzero(pop.batch[:n] >= 0), "batch", pop.batch[:n])]
    for persona, kind in OPERATION_KINDS.items():
        sims = np.flatnonzero((pop.persona[:n] == persona) & (pop.group[:n] >= 0))
        ordinal = np.zeros(n, np.int64)
        ordinal[sims] = np.unique(pop.group[sims], return_inverse=True)[1]  # numbered 1.. in group order
        parts.append((sims, kind, ordinal))
    sims = np.concatenate([sims for sims, _, _ in parts])

    def day(index: np.ndarray) -> pl.Expr:
        days = pl.lit(pl.Series(index, dtype=pl.Int64))
        return pl.when(days >= 0).then(pl.lit(start) + pl.duration(days=days)).cast(pl.Utf8)

    frame = pl.DataFrame(
        {
            "msisdn": pl.Series(pop.numbers[sims]).cast(pl.Utf8),
            "operation": np.concatenate([np.char.add(f"{kind}-", (number[s] + 1).astype(str)) for s, kind, number in parts]),
        }
    ).with_columns(day(first_day[sims]).alias("first_day"), day(last_day[sims]).alias("last_day"))
    return frame.sort("msisdn", "operation")


def persona_table(pop: Population) -> pl.DataFrame:
    """``msisdn,persona`` for every generated number, sorted by msisdn."""
    return pl.DataFrame(
        {
            "msisdn": pl.Series(pop.numbers).cast(pl.Utf8),
            "persona": np.asarray(PERSONA_NAMES)[pop.persona],
        }
    ).sort("msisdn")


def write_side_files(
    out: Path, pop: Population, epoch_s: int, cell_names: pl.Series
) -> tuple[dict[str, int], dict[str, int]]:
    """Registry, labels, allowlist and personas; returns the counts per persona and per label."""
    write_registry(out / "subscribers.csv", pop, epoch_s, cell_names)
    labels = label_table(pop)
    labels.write_csv(out / "labels.csv")
    centres = pop.numbers[: pop.n_home][pop.persona[: pop.n_home] == Persona.CALL_CENTRE]
    pl.DataFrame({"msisdn": pl.Series(np.sort(centres)).cast(pl.Utf8)}).write_csv(out / "allowlist.csv")
    personas = persona_table(pop)
    personas.write_csv(out / "personas.csv")
    per_persona = dict(zip(PERSONA_NAMES, np.bincount(pop.persona, minlength=len(PERSONA_NAMES)).tolist(), strict=True))
    counts = labels["label"].value_counts()
    counted = dict(zip(counts["label"].to_list(), counts["count"].to_list(), strict=True))
    per_label = {c: int(counted.get(c, 0)) for c in CATEGORIES}
    return per_persona, per_label


def write_manifest(path: Path, parameters: Mapping[str, Any], summary: Mapping[str, Any]) -> None:
    """``manifest.json``: the generation parameters and what was written."""
    path.write_text(
        json.dumps({"parameters": dict(parameters), "summary": dict(summary)}, indent=2, sort_keys=True) + "\n"
    )
