"""Carrier-size inputs for ``make bench-scale``: tens to hundreds of millions of CDR rows.

The simulator (:mod:`detector.simulate`) writes about 8 events per subscriber a day and takes
minutes per million subscribers; a carrier's nightly export has millions of mostly quiet
subscribers. This writes such a week fast, vectorised: about 1.8 events per subscriber a day
(50M rows over ~4M subscribers), activity spread over orders of magnitude, each subscriber calling
mostly a small set of contacts, a few high-volume callers dialling strangers, SIM-box groups
sharing handsets, off-net callees, and a registry with dealers. Canonical schema, one Parquet file
per day, cached on disk like :mod:`bench.worlds`. For speed and memory, not for detection quality.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl

from bench.worlds import CACHE

#: Rows per subscriber over the week (50M rows -> ~4M subscribers).
ROWS_PER_SUBSCRIBER = 12.5
CONTACTS = 8


def scale_world(rows: int, days: int = 7, seed: int = 5, subscribers: int | None = None) -> Path:
    """The directory of a cached world of about ``rows`` CDR rows over ``days`` days, written on
    first use; ``subscribers`` fixes the number of subscribers (default: ``rows`` /
    :data:`ROWS_PER_SUBSCRIBER`, a week's traffic), so that a longer world keeps a carrier's size."""
    root = CACHE / (f"scale_{rows}x{days}_s{seed}" + (f"_n{subscribers}" if subscribers else ""))
    if (root / "registry.parquet").exists():
        return root
    (root / "cdr").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    subscribers = subscribers or int(rows / ROWS_PER_SUBSCRIBER)
    numbers = 84_300_000_000 + np.arange(subscribers, dtype=np.int64) * 37
    activity = rng.lognormal(0.0, 1.3, subscribers)
    spammer = rng.random(subscribers) < 0.003
    activity[spammer] *= 60
    cumulative = np.cumsum(activity / activity.sum())
    contacts = rng.integers(1, subscribers, (subscribers, CONTACTS), dtype=np.int64)
    imei = 350_000_000_000_000 + np.arange(subscribers, dtype=np.int64)
    simbox = np.flatnonzero(rng.random(subscribers) < 0.002)
    imei[simbox] = imei[simbox[:: 8]].repeat(8)[: simbox.size]  # eight SIMs per handset
    home_cell = rng.integers(0, 20_000, subscribers)
    start = dt.datetime(2026, 11, 2)
    for day in range(days):
        n = rows // days
        caller = np.minimum(np.searchsorted(cumulative, rng.random(n)), subscribers - 1)
        stranger = spammer[caller] | (rng.random(n) < 0.05)
        callee_idx = np.where(stranger, rng.integers(0, subscribers, n),
                              (caller + contacts[caller, rng.integers(0, CONTACTS, n)]) % subscribers)
        callee = numbers[callee_idx]
        off_net = rng.random(n) < 0.08
        callee[off_net] = 84_900_000_000 + rng.integers(0, 99_999_999, off_net.sum())
        voice = rng.random(n) < 0.7
        seconds = (rng.beta(2.5, 1.8, n) * 86_400).astype(np.int64)
        duration = np.where(voice, rng.lognormal(3.5, 1.2, n).astype(np.int64), 0)
        answered = voice & (rng.random(n) < 0.8)
        duration = np.where(voice & ~answered, 0, duration)
        cell = home_cell[caller] + rng.integers(0, 3, n)
        frame = pl.DataFrame({
            "caller": pl.Series(numbers[caller]).cast(pl.Utf8),
            "callee": pl.Series(callee).cast(pl.Utf8),
            "start_time": pl.Series(np.datetime64(start + dt.timedelta(days=day), "us")
                                    + seconds.astype("timedelta64[s]")),
            "duration_s": duration,
            "event_type": pl.Series(np.where(voice, "voice", "sms")),
            "answered": answered,
            "cell_id": pl.Series(cell).cast(pl.Utf8).str.pad_start(6, "0"),
            "imei": pl.Series(imei[caller]).cast(pl.Utf8),
        }).sort("start_time")
        frame.write_parquet(root / "cdr" / f"cdr_{(start + dt.timedelta(days=day)).date()}.parquet")
        del frame
    # Dealers of ~100 SIMs, activations spread over three years, about one SIM per ID: a
    # registry of ordinary subscribers, so the flagged list stays a short one.
    dealers = rng.integers(0, max(subscribers // 100, 1), subscribers)
    pl.DataFrame({
        "msisdn": pl.Series(numbers).cast(pl.Utf8),
        "activation_time": pl.Series(np.datetime64("2024-01-01T00:00:00", "us")
                                     + rng.integers(0, 3 * 365 * 86_400, subscribers).astype("timedelta64[s]")),
        "dealer_id": pl.Series(dealers).cast(pl.Utf8).str.pad_start(6, "D"),
        "id_number": pl.Series(rng.integers(0, 20 * subscribers, subscribers)).cast(pl.Utf8),
        "subscription_type": pl.Series(np.where(rng.random(subscribers) < 0.8, "prepaid", "postpaid")),
    }).write_parquet(root / "registry.parquet")
    return root
