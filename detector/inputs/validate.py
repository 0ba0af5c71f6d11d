"""``detector validate``: what a set of CDR files holds, and whether the engine can use it."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

import polars as pl

from detector.inputs.cdr import CdrBatch, FileReport


@dataclass(frozen=True)
class ValidationReport:
    """Counts describing one read of the input.

    ``rows_read == rows_kept + rows_rejected + rows_dropped + duplicates + legs_matched`` always
    holds: every row is accounted for (``legs_matched``: incoming legs counted once with the
    outgoing leg of the same call).
    """

    rows_read: int
    rows_kept: int
    rows_rejected: int
    rows_dropped: int
    duplicates: int
    legs_matched: int
    rejects_by_reason: dict[str, int]
    first_event: datetime | None
    last_event: datetime | None
    days: int
    distinct_callers: int
    distinct_callees: int
    voice_events: int
    sms_events: int
    files: list[FileReport] = field(default_factory=list)

    @property
    def usable(self) -> bool:
        """The input has at least one good row."""
        return self.rows_kept > 0

    def to_dict(self) -> dict:
        """A JSON-ready dict (timestamps as ISO text)."""
        out = asdict(self)
        for key in ("first_event", "last_event"):
            out[key] = out[key].isoformat(sep=" ") if out[key] is not None else None
        out["usable"] = self.usable
        return out


def summarise(batch: CdrBatch) -> ValidationReport:
    """Summarise a :class:`~detector.inputs.cdr.CdrBatch` in one pass over its columns."""
    cdrs = batch.cdrs
    stats = cdrs.select(
        pl.col("start_time").min().alias("first"),
        pl.col("start_time").max().alias("last"),
        pl.col("start_time").dt.date().n_unique().alias("days"),
        pl.col("caller").n_unique().alias("callers"),
        pl.col("callee").n_unique().alias("callees"),
        (pl.col("event_type") == "voice").sum().alias("voice"),
        (pl.col("event_type") == "sms").sum().alias("sms"),
    ).row(0, named=True)
    by_reason = (
        batch.rejects.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
    )
    return ValidationReport(
        rows_read=batch.rows_read,
        rows_kept=cdrs.height,
        rows_rejected=batch.rejects.height,
        rows_dropped=batch.rows_dropped,
        duplicates=batch.duplicates,
        legs_matched=batch.legs_matched,
        rejects_by_reason=dict(zip(by_reason["reason"].to_list(), by_reason["len"].to_list())),
        first_event=stats["first"],
        last_event=stats["last"],
        days=stats["days"] if cdrs.height else 0,
        distinct_callers=stats["callers"] if cdrs.height else 0,
        distinct_callees=stats["callees"] if cdrs.height else 0,
        voice_events=stats["voice"] or 0,
        sms_events=stats["sms"] or 0,
        files=list(batch.files),
    )
