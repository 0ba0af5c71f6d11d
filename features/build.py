"""``build_features``: the one entry point from canonical CDRs to one row per number.

Numbers become int64 ids first (a normalised number without a leading zero is its own id; any
other text gets a negative id from a hash), so every group-by, join and sort on the hot path is on
integers. Polars does the relational work (per-number aggregates, reciprocity and IMEI sharing as
joins); numba kernels (:mod:`features.kernels`) do the sequential work over each subscriber's
events in event order.

Splitting by subscriber (for out-of-core and Dask runs): every *outgoing* feature of a number
depends only on the rows where it is the caller, so rows can be hash-partitioned on ``caller`` and
each partition built independently. The cross-subscriber parts are exact only with global inputs:
incoming counts need the rows where the number is *callee* (partition those rows by ``callee``
too), reciprocity needs the reverse pairs (callee, caller), ``imei_max_sims`` needs per-IMEI caller
counts over all rows, ``window_days`` the global date set, and the registry features the whole
registry. Those small global tables are computed once and joined into each partition.
"""

from __future__ import annotations

import polars as pl

from features import kernels
from features.catalogue import CORE_FEATURES

_US_PER_HOUR = 3_600_000_000


def number_id(number: pl.Expr) -> pl.Expr:
    """An int64 id per normalised number: the number itself when it is a plain positive integer
    (no leading zero, so the text is recovered exactly), else a negative id hashed from its text.
    """
    as_int = number.str.to_integer(strict=False)
    plain = as_int.is_not_null() & (as_int > 0) & ~number.str.starts_with("0") & ~number.str.starts_with("+")
    hashed = pl.lit(-1, pl.Int64) - (number.hash(seed=0) // 4).cast(pl.Int64)
    return pl.when(plain).then(as_int).otherwise(hashed)


def _callee_key(number: pl.Expr) -> pl.Expr:
    """The callee as an integer for event order and sequential dialling; non-integers sort last."""
    return number.str.to_integer(strict=False).fill_null(kernels.NOT_AN_INTEGER)


def build_features(cdrs: pl.DataFrame | pl.LazyFrame, registry: pl.DataFrame | None = None) -> pl.DataFrame:
    """The feature table: one row per number that originated an event, plus one per registry
    subscriber. Column ``msisdn`` then the core features of features.md, in that order.

    Parameters
    ----------
    cdrs:
        Canonical CDRs (:data:`detector.ingest.CDR_SCHEMA`), normalised and de-duplicated.
    registry:
        Optional registry (:data:`detector.registry.REGISTRY_SCHEMA`), one row per msisdn.
    """
    events = _events(cdrs.lazy())
    window_days = events.select(pl.col("day").n_unique()).collect().item()

    outgoing = _outgoing(events)
    incoming = _incoming(events)
    reciprocity = _reciprocity(events)
    imei_sharing = _imei_max_sims(events)
    outgoing, incoming, reciprocity, imei_sharing, voice = pl.collect_all(
        [outgoing, incoming, reciprocity, imei_sharing, _voice_in_event_order(events)]
    )
    sequential = _sequential(voice)
    names = _caller_names(cdrs.lazy())

    ids = outgoing.select("id")
    reg = None
    if registry is not None and registry.height:
        reg = _registry_features(registry)
        ids = pl.concat([ids, reg.select("id")]).unique()

    table = (
        ids.join(outgoing, on="id", how="left")
        .join(incoming, on="id", how="left")
        .join(reciprocity, on="id", how="left")
        .join(imei_sharing, on="id", how="left")
        .join(sequential, on="id", how="left")
    )
    if reg is not None:
        table = table.join(reg, on="id", how="left")
        names = pl.concat([names, reg.select("id", "msisdn")]).unique("id")
    else:
        table = table.with_columns(
            pl.lit(None, pl.Int64).alias(c) for c in ("sims_per_id", "dealer_burst_1h", "msisdn_run_length")
        )
        table = table.with_columns(pl.lit(None, pl.Utf8).alias("msisdn"))
    table = table.drop("msisdn", strict=False).join(names, on="id", how="left")

    counts = ["voice_out", "voice_out_distinct", "sms_out", "sms_out_distinct", "voice_in",
              "voice_in_distinct", "sms_in", "active_hours", "distinct_cells", "distinct_imeis",
              "imei_max_sims", "n_out", "answered_n", "short_n", "night_n", "reciprocated_n"]
    table = table.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in counts)
    table = table.with_columns(
        _ratio("answered_n", "voice_out").alias("voice_answered_ratio"),
        _ratio("short_n", "answered_n").alias("voice_short_ratio"),
        _ratio("reciprocated_n", "voice_out_distinct").alias("reciprocity"),
        _ratio("night_n", "n_out").alias("night_ratio"),
        pl.lit(window_days, pl.Int64).alias("window_days"),
    )
    return table.select("msisdn", *CORE_FEATURES).sort("msisdn")


def _ratio(num: str, den: str) -> pl.Expr:
    return pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None)


def _events(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The columns the features need, numbers as int64 ids."""
    return lf.select(
        number_id(pl.col("caller")).alias("caller_id"),
        number_id(pl.col("callee")).alias("callee_id"),
        _callee_key(pl.col("callee")).alias("callee_key"),
        pl.col("start_time").dt.epoch("us").alias("ts"),
        pl.col("start_time").dt.date().alias("day"),
        pl.col("start_time").dt.hour().alias("hour"),
        pl.col("duration_s"),
        pl.col("answered"),
        (pl.col("event_type") == "voice").alias("voice"),
        pl.col("cell_id"),
        pl.col("imei"),
    )


def _caller_names(lf: pl.LazyFrame) -> pl.DataFrame:
    """id -> msisdn text for every caller (ids of plain numbers decode by formatting)."""
    ids = lf.select(pl.col("caller").unique()).select(
        number_id(pl.col("caller")).alias("id"), pl.col("caller").alias("msisdn")
    )
    return ids.collect()


def _outgoing(events: pl.LazyFrame) -> pl.LazyFrame:
    voice = pl.col("voice")
    answered_voice = voice & pl.col("answered")
    sms = ~voice
    return events.group_by("caller_id").agg(
        voice.sum().alias("voice_out"),
        pl.col("callee_id").filter(voice).n_unique().alias("voice_out_distinct"),
        answered_voice.sum().alias("answered_n"),
        pl.col("duration_s").filter(answered_voice).mean().alias("voice_dur_mean"),
        pl.col("duration_s").filter(answered_voice).median().alias("voice_dur_median"),
        (answered_voice & (pl.col("duration_s") < 10)).sum().alias("short_n"),
        sms.sum().alias("sms_out"),
        pl.col("callee_id").filter(sms).n_unique().alias("sms_out_distinct"),
        pl.len().alias("n_out"),
        (pl.col("hour") < 6).sum().alias("night_n"),
        pl.col("hour").n_unique().alias("active_hours"),
        pl.col("cell_id").drop_nulls().n_unique().alias("distinct_cells"),
        pl.col("imei").drop_nulls().n_unique().alias("distinct_imeis"),
    ).rename({"caller_id": "id"})


def _incoming(events: pl.LazyFrame) -> pl.LazyFrame:
    voice = pl.col("voice")
    return events.group_by("callee_id").agg(
        voice.sum().alias("voice_in"),
        pl.col("caller_id").filter(voice).n_unique().alias("voice_in_distinct"),
        (~voice).sum().alias("sms_in"),
    ).rename({"callee_id": "id"})


def _reciprocity(events: pl.LazyFrame) -> pl.LazyFrame:
    """Per caller, how many of its distinct voice callees called it back (by voice)."""
    pairs = events.filter(pl.col("voice")).select("caller_id", "callee_id").unique()
    back = pairs.select(pl.col("callee_id").alias("caller_id"), pl.col("caller_id").alias("callee_id"))
    return (
        pairs.join(back, on=["caller_id", "callee_id"], how="semi")
        .group_by("caller_id")
        .agg(pl.len().alias("reciprocated_n"))
        .rename({"caller_id": "id"})
    )


def _imei_max_sims(events: pl.LazyFrame) -> pl.LazyFrame:
    """Per caller, the most distinct callers seen on any IMEI it used."""
    pairs = events.filter(pl.col("imei").is_not_null()).select("caller_id", "imei").unique()
    per_imei = pairs.group_by("imei").agg(pl.len().alias("sims"))
    return (
        pairs.join(per_imei, on="imei")
        .group_by("caller_id")
        .agg(pl.col("sims").max().alias("imei_max_sims"))
        .rename({"caller_id": "id"})
    )


def _voice_in_event_order(events: pl.LazyFrame) -> pl.LazyFrame:
    return (
        events.filter(pl.col("voice"))
        .select("caller_id", "ts", "callee_key")
        .sort("caller_id", "ts", "callee_key")
    )


def _sequential(voice: pl.DataFrame) -> pl.DataFrame:
    """gap_cv and seq_callee_ratio from the voice events in event order (numba kernels)."""
    caller = voice["caller_id"].to_numpy()
    starts = kernels.segment_starts(caller)
    return pl.DataFrame(
        {
            "id": caller[starts[:-1]],
            "gap_cv": kernels.gap_cv(starts, voice["ts"].to_numpy()),
            "seq_callee_ratio": kernels.seq_callee_ratio(starts, voice["callee_key"].to_numpy()),
        },
        schema={"id": pl.Int64, "gap_cv": pl.Float64, "seq_callee_ratio": pl.Float64},
    ).with_columns(pl.col("gap_cv", "seq_callee_ratio").fill_nan(None))


def _registry_features(registry: pl.DataFrame) -> pl.DataFrame:
    """sims_per_id, dealer_burst_1h, msisdn_run_length for every registry subscriber."""
    reg = registry.select(
        number_id(pl.col("msisdn")).alias("id"),
        pl.col("msisdn"),
        pl.col("msisdn").str.to_integer(strict=False).alias("msisdn_int"),
        pl.col("activation_time").dt.epoch("us").alias("activated"),
        pl.col("dealer_id"),
        pl.col("id_number"),
    ).with_columns(
        pl.when(pl.col("id_number").is_not_null())
        .then(pl.len().over("id_number"))
        .cast(pl.Int64)
        .alias("sims_per_id")
    )

    burst = reg.filter(pl.col("dealer_id").is_not_null() & pl.col("activated").is_not_null()).sort(
        "dealer_id", "activated"
    )
    starts = kernels.segment_starts(burst["dealer_id"].rle_id().to_numpy())
    burst = burst.select("id").with_columns(
        pl.Series("dealer_burst_1h", kernels.window_count(starts, burst["activated"].to_numpy(), _US_PER_HOUR))
    )

    runs = reg.filter(pl.col("dealer_id").is_not_null() & pl.col("msisdn_int").is_not_null()).sort(
        "dealer_id", "msisdn_int"
    )
    starts = kernels.segment_starts(runs["dealer_id"].rle_id().to_numpy())
    runs = runs.select("id").with_columns(
        pl.Series("msisdn_run_length", kernels.run_length(starts, runs["msisdn_int"].to_numpy()))
    )
    return (
        reg.select("id", "msisdn", "sims_per_id")
        .join(burst, on="id", how="left")
        .join(runs, on="id", how="left")
    )
