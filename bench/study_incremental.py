"""Feasibility study (issue: a night's cost follows tonight's rows): can the window's features be
merged exactly from per-day summaries stored in the state?

Not part of the engine. Steps (cached under ``--work``, default /tmp/incr):

- ``prep``: each day's raw CDR file read as ``detector nightly`` reads it (read_cdrs, then
  :func:`detector.engine.nightly.compact_rows`), saved as one compact Parquet file per day;
- ``summarise``: per-day summary tables built from each day's compact rows (timed per day);
- ``check``: the window's ``_per_number`` table merged from the summaries, compared with the
  reference (``build_partition_features`` / ``_per_number`` on the window's rows), and timed,
  for windows 28 and 7;
- ``kmerge``: the caller order of the window by a k-way merge of per-day caller-sorted files
  against the full radix sort.

Run: POLARS_MAX_THREADS=2 NUMBA_NUM_THREADS=2 PYTHONPATH=. python -m bench.study_incremental all
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numba
import numpy as np
import polars as pl
from numba import njit

from detector.engine.nightly import compact_rows
from detector.inputs.cdr import read_cdrs
from detector.inputs.mapping import Mapping
from detector.state.store import EVENT_COLUMNS
from features import kernels
from features.build import (
    ABROAD, ABROAD_KNOWN, ANSWERED, CALLEE_BLOCK, DURATION_EDGES, HAS_CELL, HAS_IMEI, OFFNET, OFFNET_KNOWN, VOICE,
    Partition, _feature_rows, _per_number, build_partition_features, by_caller, feature_context, text_names,
)

US_MIN = 60_000_000
BURST_US = 10 * US_MIN
DAY_US = kernels.US_PER_DAY
NAI = kernels.NOT_AN_INTEGER


def timed(fn, *args, rounds=3, **kw):
    """(median seconds, last result) of ``rounds`` calls."""
    times, out = [], None
    for _ in range(rounds):
        t = time.perf_counter()
        out = fn(*args, **kw)
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


# ---------------------------------------------------------------------------------------- prep
def prep(world: Path, work: Path) -> None:
    out = work / "events"
    out.mkdir(parents=True, exist_ok=True)
    mapping = Mapping()
    names = []
    for f in sorted((world / "cdr").glob("cdr_*.parquet")):
        batch = read_cdrs([f], mapping)
        ev = compact_rows(batch, mapping)
        days = ev["day"].unique()
        assert days.len() == 1, (f, days)
        names.append(text_names(ev["caller_id"], batch.cdrs["caller"]))
        ev.write_parquet(out / f"{days[0]}.parquet")
        print(f.name, ev.height, "absent", sorted(batch.absent), "dups", batch.duplicates, flush=True)
    pl.concat(names).unique("id").write_parquet(work / "names.parquet")


def day_files(work: Path) -> list[Path]:
    return sorted((work / "events").glob("*.parquet"))


# ----------------------------------------------------------------------------------- summaries
@njit(cache=True, nogil=True)
def _day_sequences(starts, ts, key, width):
    """Per caller segment of one day's voice rows in (ts, key) order: sequential hits, the
    squared gaps' sum split as hi * 2**62 + lo (exact: each gap < 2**37 us, so gap**2 < 2**74), and
    the most events in ``width``."""
    n = starts.shape[0] - 1
    hits = np.zeros(n, dtype=np.int64)
    sq_hi = np.zeros(n, dtype=np.int64)
    sq_lo = np.zeros(n, dtype=np.int64)
    burst = np.zeros(n, dtype=np.int64)
    mask62 = (np.int64(1) << 62) - 1
    for s in range(n):
        lo, hi = starts[s], starts[s + 1]
        left = lo
        for i in range(lo, hi):
            while ts[i] - ts[left] >= width:
                left += 1
            burst[s] = max(burst[s], i - left + 1)
            if i > lo:
                a, b = key[i - 1], key[i]
                if a != NAI and b != NAI and a != b:
                    d = np.uint64(b) - np.uint64(a) if a < b else np.uint64(a) - np.uint64(b)
                    if d <= np.uint64(10):
                        hits[s] += 1
                g = ts[i] - ts[i - 1]
                # g < 2**37: g = gh * 2**31 + gl, g**2 = gh**2 * 2**62 + 2*gh*gl * 2**31 + gl**2
                gh, gl = g >> 31, g & ((np.int64(1) << 31) - 1)
                sq_hi[s] += gh * gh
                cross = 2 * gh * gl  # < 2**38
                sq_hi[s] += cross >> 31
                # Each addend < 2**62 and sq_lo < 2**62 before it: no overflow.
                sq_lo[s] += gl * gl
                sq_hi[s] += sq_lo[s] >> 62
                sq_lo[s] &= mask62
                sq_lo[s] += (cross & ((np.int64(1) << 31) - 1)) << 31
                sq_hi[s] += sq_lo[s] >> 62
                sq_lo[s] &= mask62
    return hits, sq_hi, sq_lo, burst


def summarise_day(ev: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The per-day summary tables of one day's compact rows (all rows of that day)."""
    day = ev["day"][0]
    f = pl.col("flags")
    voice = (f & VOICE) != 0
    ans = voice & ((f & ANSWERED) != 0)
    dur = pl.col("duration_s")
    hour = (pl.col("ts") // kernels.US_PER_HOUR) % 24
    bins = [pl.lit(0)] + [(dur >= e).cast(pl.Int8) for e in DURATION_EDGES]
    ev = ev.with_columns(
        sum(bins[1:], bins[0]).alias("bin"),
        voice.alias("voice"), ans.alias("ans"),
    )
    bin_aggs = [((pl.col("bin") == b) & pl.col("ans")).sum().cast(pl.Int32).alias(f"h{b}") for b in range(7)]
    has_cell = (f & HAS_CELL) != 0
    stats = ev.group_by("caller_id").agg(
        pl.len().cast(pl.Int32).alias("n_out"),
        pl.col("voice").sum().cast(pl.Int32).alias("voice_out"),
        pl.col("ans").sum().cast(pl.Int32).alias("answered_n"),
        dur.filter(pl.col("ans")).sum().alias("answered_seconds"),
        (pl.col("ans") & (dur < 10)).sum().cast(pl.Int32).alias("short_n"),
        (pl.col("ans") & (dur >= 1) & (dur <= 3)).sum().cast(pl.Int32).alias("very_short_n"),
        (hour < 6).sum().cast(pl.Int32).alias("night_n"),
        hour.replace_strict(list(range(24)), [1 << h for h in range(24)], return_dtype=pl.Int32).bitwise_or().alias("hours"),
        *(((f & bit) != 0).sum().cast(pl.Int32).alias(name) for name, bit in
          (("abroad_n", ABROAD), ("abroad_known_n", ABROAD_KNOWN), ("offnet_n", OFFNET),
           ("offnet_known_n", OFFNET_KNOWN))),
        *bin_aggs,
        pl.col("callee_id").filter(pl.col("voice")).n_unique().cast(pl.Int32).alias("voice_distinct"),
        pl.col("callee_id").filter(~pl.col("voice")).n_unique().cast(pl.Int32).alias("sms_distinct"),
        pl.col("ts").min().alias("first_ts"),
        pl.col("ts").max().alias("last_ts"),
        # The first row with a cell: earliest, then the smallest cell (kernels.first_event).
    ).sort("caller_id")
    # The first row with a cell: earliest, then the smallest cell (kernels.first_event).
    first_cell = (ev.filter(has_cell).select("caller_id", pl.col("ts").alias("fc_ts"), pl.col("cell").alias("fc_cell"))
                  .sort("caller_id", "fc_ts", "fc_cell").unique("caller_id", keep="first", maintain_order=True))
    stats = stats.join(first_cell, on="caller_id", how="left")
    # Voice sequences in (ts, key) order.
    v = ev.filter(pl.col("voice")).select("caller_id", "ts", "callee_key").sort("caller_id", "ts", "callee_key")
    c, ts, key = (v[x].to_numpy() for x in ("caller_id", "ts", "callee_key"))
    starts = kernels.segment_starts(c)
    hits, sq_hi, sq_lo, burst = _day_sequences(starts, ts, key, np.int64(BURST_US))
    first, last = starts[:-1], starts[1:] - 1
    seq = pl.DataFrame({
        "caller_id": c[first], "v_first_ts": ts[first], "v_first_key": key[first], "v_last_ts": ts[last],
        "v_last_key": key[last], "seq_hits": hits.astype(np.int32), "sq_hi": sq_hi, "sq_lo": sq_lo,
        "burst": burst.astype(np.int32),
    })
    stats = stats.join(seq, on="caller_id", how="left").with_columns(pl.lit(day).alias("day"))
    # Voice events within 10 minutes of either midnight: the bursts that can span days.
    tod = pl.col("ts") % DAY_US
    edges = v.filter((tod < BURST_US) | (tod >= DAY_US - BURST_US)).select("caller_id", "ts")
    pairs = (ev.group_by("caller_id", "callee_id", "voice").agg(pl.len().cast(pl.Int32).alias("n"))
             .sort("caller_id", "callee_id"))
    durs = (ev.filter(pl.col("ans")).group_by("caller_id", "duration_s").agg(pl.len().cast(pl.Int32).alias("n"))
            .sort("caller_id", "duration_s"))
    cells = ev.filter(has_cell).select("caller_id", "cell").unique().sort("caller_id")
    imeis = ev.filter((f & HAS_IMEI) != 0).select("caller_id", "imei").unique().sort("caller_id")
    return {"stats": stats, "edges": edges, "pairs": pairs, "durs": durs, "cells": cells, "imeis": imeis}


TABLES = ("stats", "edges", "pairs", "durs", "cells", "imeis")


def summarise(work: Path) -> dict:
    out = work / "summaries"
    report = {"days": []}
    for path in day_files(work):
        ev = pl.read_parquet(path)
        t_read = time.perf_counter()
        ev = pl.read_parquet(path)
        t_read = time.perf_counter() - t_read
        secs, tables = timed(summarise_day, ev)
        row = {"day": path.stem, "cdr_rows": ev.height, "compact_bytes": path.stat().st_size,
               "read_s": round(t_read, 3), "summarise_s": round(secs, 3)}
        for name, table in tables.items():
            (out / name).mkdir(parents=True, exist_ok=True)
            p = out / name / f"{path.stem}.parquet"
            table.write_parquet(p)
            row[f"{name}_rows"] = table.height
            row[f"{name}_bytes"] = p.stat().st_size
        report["days"].append(row)
        print(row, flush=True)
    return report


# --------------------------------------------------------------------------------------- merge
@njit(cache=True)
def _entropy(counts, n):
    out = np.full(counts.shape[0], np.nan)
    for s in range(counts.shape[0]):
        if n[s] == 0:
            continue
        h = 0.0
        for b in range(counts.shape[1]):
            if counts[s, b] > 0:
                p = counts[s, b] / n[s]
                h -= p * np.log2(p)
        out[s] = h
    return out


def _read(work: Path, name: str, days: list[str]) -> pl.DataFrame:
    return pl.read_parquet([work / "summaries" / name / f"{d}.parquet" for d in days])


def _lap(laps: dict, name: str) -> None:
    now = time.perf_counter()
    laps[name] = now - laps["_"]
    laps["_"] = now


def merge_window(work: Path, days: list[str], imei_sims: pl.DataFrame | None = None,
                 timings: dict | None = None) -> pl.DataFrame:
    """The ``_per_number`` table of the window ``days`` from their summaries."""
    t0 = time.perf_counter()
    tab = {name: _read(work, name, days) for name in TABLES}
    return merge_tables(tab, imei_sims, timings, t0)


def merge_tables(tab: dict[str, pl.DataFrame], imei_sims: pl.DataFrame | None = None, timings: dict | None = None,
                 t0: float | None = None) -> pl.DataFrame:
    t1 = time.perf_counter()
    t0 = t1 if t0 is None else t0
    laps = {"_": t1}
    s = tab["stats"]
    sum_cols = ["n_out", "voice_out", "answered_n", "answered_seconds", "short_n", "very_short_n", "night_n",
                "abroad_n", "abroad_known_n", "offnet_n", "offnet_known_n", *(f"h{b}" for b in range(7)),
                "voice_distinct", "sms_distinct"]
    sms_out = pl.col("n_out") - pl.col("voice_out")
    per = s.group_by("caller_id").agg(
        *(pl.col(c).cast(pl.Int64).sum() for c in sum_cols),
        pl.len().cast(pl.Int64).alias("days_active"),
        pl.col("voice_out").max().cast(pl.Int64).alias("voice_out_per_day_max"),
        sms_out.max().cast(pl.Int64).alias("sms_out_per_day_max"),
        pl.col("voice_distinct").max().cast(pl.Int64).alias("voice_out_distinct_per_day_max"),
        pl.col("hours").bitwise_or().alias("hours"),
        pl.col("first_ts").min().alias("first_out_us"),
        pl.col("last_ts").max().alias("last_out_us"),
        pl.col("fc_ts").min(),
        pl.col("fc_cell").filter(pl.col("fc_ts") == pl.col("fc_ts").min()).min(),
        pl.col("burst").max().alias("burst"),
    )
    _lap(laps, "stats")
    # Voice sequences over the window: the days' terms plus the boundary between consecutive
    # voice days (their last and first events).
    v = (s.filter(pl.col("voice_out") > 0).select("caller_id", "day", "voice_out", "v_first_ts", "v_first_key",
                                                   "v_last_ts", "v_last_key", "seq_hits", "sq_hi", "sq_lo")
         .sort("caller_id", "day"))
    same = pl.col("caller_id") == pl.col("caller_id").shift(1)
    prev_key, key = pl.col("v_last_key").shift(1), pl.col("v_first_key")
    g = (pl.col("v_first_ts") - pl.col("v_last_ts").shift(1)).cast(pl.Int128)
    v = v.with_columns(
        pl.when(same).then(g * g).otherwise(0).alias("bsq"),
        (same & (prev_key != NAI) & (key != NAI) & (prev_key != key)
         & ((key.cast(pl.Int128) - prev_key.cast(pl.Int128)).abs() <= 10)).cast(pl.Int64).alias("bhit"),
    )
    seq = v.group_by("caller_id").agg(
        pl.col("voice_out").sum().cast(pl.Int64).alias("nv"),
        pl.col("v_first_ts").min().alias("vf"), pl.col("v_last_ts").max().alias("vl"),
        (pl.col("seq_hits").sum() + pl.col("bhit").sum()).alias("hits"),
        (pl.col("sq_hi").cast(pl.Int128) * (1 << 62) + pl.col("sq_lo").cast(pl.Int128) + pl.col("bsq")).sum().alias("Q"),
    )
    n_gaps = pl.col("nv") - 1
    S = (pl.col("vl") - pl.col("vf")).cast(pl.Int128)
    seq = seq.select(
        "caller_id",
        pl.when((n_gaps >= 2) & (S > 0))
        .then((n_gaps.cast(pl.Int128) * pl.col("Q") - S * S).cast(pl.Float64).sqrt() / S.cast(pl.Float64))
        .alias("gap_cv"),
        pl.when(pl.col("nv") >= 2).then(pl.col("hits") / n_gaps).alias("seq_callee_ratio"),
    )
    _lap(laps, "seq")
    # Bursts across midnight: every voice event within 10 minutes of one, in time order.
    e = tab["edges"].sort("caller_id", "ts")
    ec = e["caller_id"].to_numpy()
    est = kernels.segment_starts(ec)
    edge_burst = pl.DataFrame({"caller_id": ec[est[:-1]],
                               "edge_burst": kernels.max_in_window(est, e["ts"].to_numpy(), BURST_US)})
    _lap(laps, "edges")
    # Durations: the median from the merged multiset.
    d = tab["durs"].group_by("caller_id", "duration_s").agg(pl.col("n").sum()).sort("caller_id", "duration_s")
    cum = pl.col("n").cum_sum().over("caller_id")
    k = pl.col("n").sum().over("caller_id")
    d = d.with_columns(cum.alias("cum"), k.alias("k"))
    lo_pos, hi_pos = (pl.col("k") - 1) // 2, pl.col("k") // 2
    med = d.group_by("caller_id").agg(
        pl.col("duration_s").filter(pl.col("cum") > lo_pos).first().alias("m_lo"),
        pl.col("duration_s").filter(pl.col("cum") > hi_pos).first().alias("m_hi"),
    ).select("caller_id", ((pl.col("m_lo") + pl.col("m_hi")) / 2.0).alias("voice_dur_median"))
    _lap(laps, "durs")
    # Pairs: distinct callees and callers, reciprocity, unrelated callees, blocks.
    p = tab["pairs"].group_by("caller_id", "callee_id", "voice").agg(pl.col("n").sum())
    rev_any = p.select(pl.col("callee_id").alias("caller_id"), pl.col("caller_id").alias("callee_id")).unique()
    rev = p.select(pl.col("callee_id").alias("caller_id"), pl.col("caller_id").alias("callee_id"), "voice")
    p = (p.join(rev.with_columns(pl.lit(True).alias("back")), on=["caller_id", "callee_id", "voice"], how="left")
         .join(rev_any.with_columns(pl.lit(True).alias("back_any")), on=["caller_id", "callee_id"], how="left"))
    vb, back, back_any = pl.col("voice"), pl.col("back").fill_null(False), pl.col("back_any").fill_null(False)
    callee = pl.col("callee_id")
    out_pairs = p.group_by("caller_id").agg(
        vb.sum().cast(pl.Int64).alias("voice_out_distinct"),
        (~vb).sum().cast(pl.Int64).alias("sms_out_distinct"),
        (vb & back).sum().cast(pl.Int64).alias("reciprocated_n"),
        (~vb & back).sum().cast(pl.Int64).alias("sms_reciprocated_n"),
        (vb & (pl.col("n") == 1) & ~back_any).sum().cast(pl.Int64).alias("unrelated_n"),
        (callee // CALLEE_BLOCK).filter(vb & (callee > 0)).n_unique().cast(pl.Int64).alias("callee_blocks_n"),
        (vb & (callee > 0)).sum().cast(pl.Int64).alias("integer_callees_n"),
    )
    incoming = p.group_by(pl.col("callee_id").alias("id")).agg(
        pl.col("n").filter(vb).sum().cast(pl.Int64).alias("voice_in"),
        vb.sum().cast(pl.Int64).alias("voice_in_distinct"),
        pl.col("n").filter(~vb).sum().cast(pl.Int64).alias("sms_in"),
    )
    _lap(laps, "pairs")
    cells = tab["cells"].unique().group_by("caller_id").agg(pl.len().cast(pl.Int64).alias("distinct_cells"))
    im = tab["imeis"].unique()
    if imei_sims is None:
        imei_sims = im.group_by("imei").agg(pl.len().cast(pl.Int64).alias("sims"))
    ims = (im.join(imei_sims, on="imei", how="left").group_by("caller_id")
           .agg(pl.len().cast(pl.Int64).alias("distinct_imeis"), pl.col("sims").max().fill_null(1).alias("imei_max_sims")))
    _lap(laps, "cells_imeis")
    t2 = time.perf_counter()
    # Assemble: the columns of _per_number.
    t = (per.join(seq, on="caller_id", how="left").join(edge_burst, on="caller_id", how="left")
         .join(med, on="caller_id", how="left").join(out_pairs, on="caller_id", how="left")
         .join(cells, on="caller_id", how="left").join(ims, on="caller_id", how="left")
         .sort("caller_id"))
    hist = np.column_stack([t[f"h{b}"].to_numpy() for b in range(7)]).astype(np.int64)
    ans_n = t["answered_n"].to_numpy()
    hours = t["hours"].to_numpy().astype(np.int64)
    active_hours = np.zeros(hours.shape[0], dtype=np.int64)
    for b in range(24):
        active_hours += (hours >> b) & 1
    zero = pl.lit(0, pl.Int64)
    table = t.select(
        pl.col("caller_id").alias("id"), "voice_out", pl.col("voice_out_distinct").fill_null(0), "answered_n",
        pl.when(pl.col("answered_n") > 0).then(pl.col("answered_seconds") / pl.col("answered_n")).alias("voice_dur_mean"),
        "voice_dur_median", "short_n", (pl.col("n_out") - pl.col("voice_out")).alias("sms_out"),
        pl.col("sms_out_distinct").fill_null(0), "n_out", "night_n",
        pl.lit(pl.Series(active_hours)).alias("active_hours"),
        pl.col("distinct_cells").fill_null(0), pl.col("distinct_imeis").fill_null(0),
        pl.col("reciprocated_n").fill_null(0), "gap_cv", "seq_callee_ratio",
        "days_active", "voice_out_per_day_max", "sms_out_per_day_max",
        pl.max_horizontal(pl.col("burst").fill_null(0), pl.col("edge_burst").fill_null(0)).cast(pl.Int64)
        .alias("voice_burst_10m_max"),
        "very_short_n", "first_out_us", "last_out_us",
        pl.col("fc_cell").fill_null(0).alias("first_cell"),
        pl.col("fc_ts").is_not_null().alias("has_first_cell"),
        pl.col("voice_distinct").alias("voice_distinct_days_n"), "voice_out_distinct_per_day_max",
        pl.col("callee_blocks_n").fill_null(0), pl.col("integer_callees_n").fill_null(0),
        "abroad_n", "abroad_known_n", "offnet_n", "offnet_known_n",
        pl.lit(pl.Series(_entropy(hist, ans_n))).fill_nan(None).alias("voice_dur_entropy"),
        pl.col("unrelated_n").fill_null(0), pl.col("sms_distinct").alias("sms_distinct_days_n"),
        pl.col("sms_reciprocated_n").fill_null(0), pl.col("imei_max_sims"),
    )
    table = pl.concat([table.join(incoming, on="id", how="left"),
                       incoming.join(table.select("id"), on="id", how="anti")], how="diagonal")
    t3 = time.perf_counter()
    if timings is not None:
        timings.update(read_s=t1 - t0, merge_s=t2 - t1, assemble_s=t3 - t2, total_s=t3 - t0,
                       **{f"merge_{k}_s": v for k, v in laps.items() if k != "_"})
    return table


# --------------------------------------------------------------------------------------- check
def window_events(work: Path, days: list[str]) -> pl.DataFrame:
    return pl.read_parquet([work / "events" / f"{d}.parquet" for d in days])


def context_of(work: Path, events: pl.DataFrame, registry: pl.DataFrame | None):
    end = events["ts"].max()
    return feature_context(
        days=events["day"].n_unique(),
        end=pl.select(pl.from_epoch(pl.lit(end), "us")).item(),
        imei_callers=events.filter((pl.col("flags") & HAS_IMEI) != 0).select("imei", "caller_id").unique(),
        callers=events["caller_id"].unique(),
        registry=registry,
        names=pl.read_parquet(work / "names.parquet"),
    )


def compare(ref: pl.DataFrame, mine: pl.DataFrame) -> dict[str, str]:
    from polars.testing import assert_series_equal
    ref, mine = ref.sort("id"), mine.sort("id")
    result = {}
    if ref["id"].to_list() != mine["id"].to_list():
        result["id"] = f"ids differ: {ref.height} vs {mine.height}"
        ids = ref.select("id").join(mine.select("id"), on="id", how="inner")
        ref, mine = ref.join(ids, on="id", how="semi"), mine.join(ids, on="id", how="semi")
    for c in ref.columns:
        if c not in mine.columns:
            result[c] = "missing"
            continue
        a, b = ref[c], mine[c]
        try:
            b = b.cast(a.dtype)
            if a.dtype.is_float():
                assert_series_equal(a, b, check_names=False)
                exact = (a.fill_null(-1.0) == b.fill_null(-1.0)).all() and (a.is_null() == b.is_null()).all()
                result[c] = "exact" if exact else "within tolerance"
            else:
                assert_series_equal(a, b, check_names=False, check_exact=True)
                result[c] = "exact"
        except AssertionError as exc:
            bad = int(((a != b) | (a.is_null() != b.is_null())).fill_null(True).sum())
            result[c] = f"DIFFERS ({bad} rows) {str(exc).splitlines()[0][:120]}"
    return result


def check(work: Path, world: Path, windows: tuple[int, ...], rounds: int) -> dict:
    from detector.inputs.registry import read_registry
    all_days = [p.stem for p in day_files(work)]
    registry = read_registry(world / "subscribers.csv").subscribers
    report = {}
    for window in windows:
        days = all_days[-window:]
        r = {}
        t_read, events = timed(window_events, work, days, rounds=rounds)
        events = events.select(*EVENT_COLUMNS, "day")
        r["events_rows"] = events.height
        r["read_events_s"] = t_read
        r["context_s"], context = timed(context_of, work, events, registry, rounds=rounds)
        ev = events.select(*EVENT_COLUMNS)
        r["by_caller_s"], sorted_ev = timed(by_caller, ev, rounds=rounds)
        r["per_number_s"], ref_table = timed(
            _per_number, sorted_ev, context.imei_sims, True, Partition(0, 1), ev.clear().select("caller_id", "callee_id", "flags"),
            rounds=rounds)
        r["build_partition_features_s"], ref = timed(build_partition_features, ev, context, Partition(0, 1), rounds=rounds)
        # Merged from the summaries.
        tims = []
        for _ in range(rounds):
            tm = {}
            mine_table = merge_window(work, days, timings=tm)
            tims.append(tm)
        r["merge"] = {k: statistics.median(t[k] for t in tims) for k in tims[0]}
        r["feature_rows_s"], mine = timed(_feature_rows, mine_table, context, Partition(0, 1), core_only=False,
                                          rounds=rounds)
        r["per_number_compare"] = compare(ref_table, mine_table)
        r["features_compare"] = compare(ref.rename({"msisdn": "id"}), mine.rename({"msisdn": "id"}))
        r["features_frame_equal"] = _frame_equal(ref, mine)
        report[f"window_{window}"] = r
        print(json.dumps(r, indent=1, default=str), flush=True)
    return report


def _frame_equal(a: pl.DataFrame, b: pl.DataFrame) -> str:
    from polars.testing import assert_frame_equal
    try:
        assert_frame_equal(a, b)
        return "equal (assert_frame_equal, default tolerance)"
    except AssertionError as exc:
        return "NOT equal: " + str(exc)[:300]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("step", choices=["prep", "summarise", "check", "kmerge", "all"])
    ap.add_argument("--world", type=Path, default=Path("/tmp/incr/world"))
    ap.add_argument("--work", type=Path, default=Path("/tmp/incr"))
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    print("threads: numba", numba.get_num_threads(), "polars", pl.thread_pool_size(), file=sys.stderr)
    if args.step in ("prep", "all"):
        prep(args.world, args.work)
    if args.step in ("summarise", "all"):
        rep = summarise(args.work)
        (args.work / "summaries.json").write_text(json.dumps(rep, indent=1))
    if args.step in ("check", "all"):
        rep = check(args.work, args.world, (28, 7), args.rounds)
        (args.work / "check.json").write_text(json.dumps(rep, indent=1, default=str))
    if args.step in ("kmerge", "all"):
        rep = kmerge(args.work, args.rounds)
        (args.work / "kmerge.json").write_text(json.dumps(rep, indent=1, default=str))


@njit(cache=True, nogil=True)
def _merge_order(keys, run_starts, union):
    """The gather order that merges runs of caller-sorted ``keys`` (run ``r`` is
    ``keys[run_starts[r]:run_starts[r + 1]]``) into caller order, equal keys in run order then in
    their order within the run: what a stable sort of the concatenated runs gives. ``union``: the
    sorted distinct keys. Counting, not comparing: one pass to count each key's rows, one to place."""
    n = keys.shape[0]
    counts = np.zeros(union.shape[0] + 1, dtype=np.int64)
    for r in range(run_starts.shape[0] - 1):
        i, hi = run_starts[r], run_starts[r + 1]
        u = 0
        while i < hi:
            j = i
            while j < hi and keys[j] == keys[i]:
                j += 1
            while union[u] < keys[i]:  # both sorted: a merge walk, no search
                u += 1
            counts[u + 1] += j - i
            i = j
    for u in range(union.shape[0]):
        counts[u + 1] += counts[u]
    order = np.empty(n, dtype=np.int64)
    for r in range(run_starts.shape[0] - 1):
        i, hi = run_starts[r], run_starts[r + 1]
        u = 0
        while i < hi:
            while union[u] < keys[i]:
                u += 1
            at = counts[u]
            while i < hi and keys[i] == union[u]:
                order[at] = i
                at += 1
                i += 1
            counts[u] = at
    return order


def merged_by_caller(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """The concatenation of caller-sorted ``frames`` in (stable) caller order, by a k-way merge."""
    events = pl.concat(frames, rechunk=True)
    keys = events["caller_id"].to_numpy()
    run_starts = np.cumsum([0] + [f.height for f in frames]).astype(np.int64)
    union = pl.Series(keys).unique().sort().to_numpy()
    order = _merge_order(keys, run_starts, union)
    return events[pl.Series(order)].with_columns(pl.col("caller_id").set_sorted())


def kmerge(work: Path, rounds: int) -> dict:
    """Caller order of the window: k-way merge of caller-sorted day files against a full sort."""
    sorted_dir = work / "events_by_caller"
    sorted_dir.mkdir(exist_ok=True)
    days = [p.stem for p in day_files(work)]
    for d in days:
        p = sorted_dir / f"{d}.parquet"
        if not p.exists():
            by_caller(pl.read_parquet(work / "events" / f"{d}.parquet").select(*EVENT_COLUMNS)).write_parquet(p)
    report = {}
    for window in (28, 7):
        wd = days[-window:]
        r = {}
        r["read_unsorted_s"], ev = timed(lambda: pl.read_parquet([work / "events" / f"{d}.parquet" for d in wd])
                                         .select(*EVENT_COLUMNS), rounds=rounds)
        r["full_sort_s"], full = timed(by_caller, ev, rounds=rounds)
        r["read_sorted_s"], frames = timed(lambda: [pl.read_parquet(sorted_dir / f"{d}.parquet") for d in wd],
                                           rounds=rounds)
        r["kmerge_s"], merged = timed(merged_by_caller, frames, rounds=rounds)
        keys = pl.concat(frames, rechunk=True)["caller_id"].to_numpy()
        run_starts = np.cumsum([0] + [f.height for f in frames]).astype(np.int64)
        union = pl.Series(keys).unique().sort().to_numpy()
        r["kmerge_order_only_s"], _ = timed(_merge_order, keys, run_starts, union, rounds=rounds)
        r["argsort_only_s"], _ = timed(kernels.stable_argsort, ev["caller_id"].to_numpy(), rounds=rounds)
        r["same_rows_same_order"] = full.equals(merged)
        report[f"window_{window}"] = r
        print(window, r, flush=True)
    return report


if __name__ == "__main__" and sys.argv[1:2] != ["fast"]:
    main()


def fast(work: Path, rounds: int) -> dict:
    """Sort-free merges (numba, caller-sorted day summaries): the (a)-class stats and the pair
    table's distinct callees, against the Polars group_by prototype; and the window's sizes."""
    days = [p.stem for p in day_files(work)]
    report = {}
    for window in (28, 7):
        wd = days[-window:]
        r = {}
        stats = [pl.read_parquet(work / "summaries" / "stats" / f"{d}.parquet") for d in wd]
        pairs = [pl.read_parquet(work / "summaries" / "pairs" / f"{d}.parquet") for d in wd]
        r["read_stats_s"], _ = timed(lambda: [pl.read_parquet(work / "summaries" / "stats" / f"{d}.parquet")
                                             for d in wd], rounds=rounds)
        r["read_pairs_s"], _ = timed(lambda: [pl.read_parquet(work / "summaries" / "pairs" / f"{d}.parquet")
                                             for d in wd], rounds=rounds)

        def stats_merge():
            m = merged_by_caller(stats)
            c = m["caller_id"].to_numpy()
            starts = kernels.segment_starts(c)
            out = {"id": c[starts[:-1]]}
            for col in ("n_out", "voice_out", "answered_n", "answered_seconds", "short_n", "very_short_n", "night_n",
                        "abroad_n", "abroad_known_n", "offnet_n", "offnet_known_n", *(f"h{b}" for b in range(7)),
                        "voice_distinct", "sms_distinct", "seq_hits"):
                out[col] = np.add.reduceat(m[col].fill_null(0).to_numpy().astype(np.int64), starts[:-1])
            for col in ("voice_out", "voice_distinct", "burst"):
                out[col + "_max"] = np.maximum.reduceat(m[col].fill_null(0).to_numpy().astype(np.int64), starts[:-1])
            out["hours"] = np.bitwise_or.reduceat(m["hours"].to_numpy().astype(np.int64), starts[:-1])
            out["first"] = np.minimum.reduceat(m["first_ts"].to_numpy(), starts[:-1])
            out["last"] = np.maximum.reduceat(m["last_ts"].to_numpy(), starts[:-1])
            return out

        r["stats_merge_numpy_s"], out = timed(stats_merge, rounds=rounds)

        def pair_distinct():
            m = merged_by_caller(pairs)
            c = m["caller_id"].to_numpy()
            starts = kernels.segment_starts(c)
            voice = m["voice"].to_numpy()
            callee = m["callee_id"].to_numpy()
            return kernels.distinct_sorted(starts, callee, voice), kernels.distinct_sorted(starts, callee, ~voice)

        r["pairs_kmerge_distinct_s"], (v, s) = timed(pair_distinct, rounds=rounds)
        r["window_pair_rows"] = sum(f.height for f in pairs)
        r["window_distinct_pairs"] = int(v[1].size + s[1].size)
        r["window_callers"] = int(out["id"].size)
        durs = pl.concat([pl.read_parquet(work / "summaries" / "durs" / f"{d}.parquet") for d in wd])
        r["window_dur_rows"] = durs.height
        r["window_distinct_caller_dur"] = durs.select("caller_id", "duration_s").n_unique()
        report[f"window_{window}"] = r
        print(window, r, flush=True)
    return report


if __name__ == "__main__" and sys.argv[1:2] == ["fast"]:
    (Path("/tmp/incr") / "fast.json").write_text(json.dumps(fast(Path("/tmp/incr"), 3), indent=1))
