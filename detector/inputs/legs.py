"""The two legs of one call: an outgoing leg and an incoming leg matched into one event.

Mediation exports write a record per leg (data-contract.md, "Exports written from the served
subscriber's side"). Once an incoming leg's parties are swapped, a call between two home
subscribers is two rows with the same caller, callee, event type and duration, starting within a
few seconds of each other (each switch stamps its own time). They are one event: the outgoing leg
is kept (its start time, cell and handset are the caller's), the incoming one is matched to it.
An incoming leg with no outgoing twin (from an off-net or foreign number) is the only record of
its call and stays.

Within each group of rows sharing the key, outgoing and incoming legs are paired in time order,
each leg at most once, by two cursors (:func:`_match_sorted`): on a line, pairing each leg with
the earliest partner still free within the tolerance pairs as many legs as any matching can.
The same rows give the same pairs in whatever order they arrive, so the in-memory engine (on the
text columns) and each partition of the out-of-core engine (on integer ids) agree.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from numba import njit

_ROW = "__leg_row"


@njit(cache=True)
def _match_sorted(starts: np.ndarray, ts: np.ndarray, incoming: np.ndarray, tolerance: int) -> np.ndarray:
    """Pair legs within each group.

    ``starts``: int64 offsets of the groups (rows sharing caller, callee, kind and duration),
    ``len = groups + 1``; ``ts``: int64 start times, ascending within each group; ``incoming``:
    bool per row; ``tolerance``: the largest start-time difference of a pair, in ``ts``' unit.
    Returns int64 per row: the row it is paired with, or -1.
    """
    n = ts.shape[0]
    partner = np.full(n, -1, dtype=np.int64)
    for g in range(starts.shape[0] - 1):
        end = starts[g + 1]
        i = starts[g]  # next outgoing leg
        while i < end and incoming[i]:
            i += 1
        j = starts[g]  # next incoming leg
        while j < end and not incoming[j]:
            j += 1
        while i < end and j < end:
            if abs(ts[j] - ts[i]) <= tolerance:
                partner[i] = j
                partner[j] = i
                take_i, take_j = True, True
            elif ts[i] < ts[j]:
                take_i, take_j = True, False
            else:
                take_i, take_j = False, True
            if take_i:
                i += 1
                while i < end and incoming[i]:
                    i += 1
            if take_j:
                j += 1
                while j < end and not incoming[j]:
                    j += 1
    return partner


def match_sorted(starts: np.ndarray, ts: np.ndarray, incoming: np.ndarray, tolerance: int) -> np.ndarray:
    """:func:`_match_sorted` on arrays of any integer/bool dtype (cast at the boundary)."""
    return _match_sorted(np.ascontiguousarray(starts, dtype=np.int64), np.ascontiguousarray(ts, dtype=np.int64),
                         np.ascontiguousarray(incoming, dtype=np.bool_), int(tolerance))


def leg_pairs(frame: pl.DataFrame, keys: Sequence[str | pl.Expr], ts: pl.Expr, incoming: pl.Expr,
              tolerance: int) -> tuple[np.ndarray, np.ndarray]:
    """The incoming legs of ``frame`` that are the twin of an outgoing leg, and those outgoing legs.

    ``keys``: what two legs of one call share (caller, callee, event type, duration); ``ts``: the
    start time as an integer; ``incoming``: whether a row is an incoming leg; ``tolerance``: the
    largest start-time difference of twins, in ``ts``' unit. Returns two int64 arrays of row
    positions, pair by pair, the incoming legs ascending.
    """
    named = [pl.col(k) if isinstance(k, str) else k for k in keys]
    rows = frame.select(pl.int_range(pl.len(), dtype=pl.Int64).alias(_ROW),
                        *(k.alias(f"__k{i}") for i, k in enumerate(named)),
                        ts.cast(pl.Int64).alias("__ts"), incoming.fill_null(False).alias("__in"))
    key_names = [f"__k{i}" for i in range(len(named))]
    # Only groups holding an incoming leg can pair (in most exports a minority of all rows).
    wanted = rows.filter(pl.col("__in")).select(key_names).unique()
    if wanted.is_empty():
        none = np.zeros(0, dtype=np.int64)
        return none, none
    groups = rows.join(wanted, on=key_names, how="semi").sort([*key_names, "__ts"])
    new = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in key_names])
    first = groups.select(new.fill_null(True)).to_series().to_numpy()
    if first.size:
        first[0] = True
    starts = np.concatenate([np.flatnonzero(first), [groups.height]]).astype(np.int64)
    partner = match_sorted(starts, groups["__ts"].to_numpy(), groups["__in"].to_numpy(), tolerance)
    is_in = groups["__in"].to_numpy()
    paired = np.flatnonzero((partner >= 0) & is_in)
    position = groups[_ROW].to_numpy()
    order = np.argsort(position[paired], kind="stable")
    return position[paired][order], position[partner[paired]][order]
