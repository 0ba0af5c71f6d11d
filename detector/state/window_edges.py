"""The legs of the calls a window's edge splits, counted as a batch run over the window's files
counts them.

The state pairs the two legs of a call across every day it holds (a switch's file a night late,
a call across midnight): the outgoing leg is in ``events``, its incoming twin in ``twins``. A
batch run over a window's files pairs only the legs inside the window. The two agree but where
the window's first or last midnight falls between a call's two legs: the leg inside the window
has its twin outside, so the batch, seeing it alone, counts it, where the state holds it in
``twins`` (or the state counts it, its twin being inside); and legs paired in a chain with such
a leg may pair otherwise.

Only groups of legs (caller, callee, kind, duration) with a leg on each side of an edge, within
the leg tolerance of its midnight, can pair otherwise: elsewhere a gap longer than the tolerance
separates what lies inside the window from what lies outside, and pairing (two cursors in time
order, :func:`detector.inputs.legs.leg_pairs`) never pairs across such a gap. So
:func:`edge_corrections` pairs those groups' legs inside the window, as a batch run does, and
says which rows of the window's ``events`` the batch does not count (``drop``) and which of
``twins`` it does (``add``): a handful of rows a night.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from detector.inputs.legs import leg_pairs
from detector.inputs.mapping import DEFAULT_LEG_TOLERANCE_S
from detector.state.store import LEG_KEYS, LEG_KIND
from features.build import INCOMING_LEG
from features.kernels import US_PER_DAY

if TYPE_CHECKING:
    from detector.state.store import State


@dataclass(frozen=True)
class EdgeCorrections:
    """Rows of the state (``events``' columns, with ``day`` and ``part``) that make a window's
    ``events`` the rows a batch run over the window's files counts."""

    #: Rows of the window's ``events`` the batch pairs away as the twin of another leg.
    drop: pl.DataFrame
    #: Rows of the window's ``twins`` the batch counts.
    add: pl.DataFrame

    @property
    def empty(self) -> bool:
        return not (self.drop.height or self.add.height)

    def applied(self, rows: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame | pl.LazyFrame:
        """``rows`` (the window's ``events`` rows, or a partition's, with the corrections of the
        same numbers) without those of :attr:`drop`, with those of :attr:`add` after them; rows
        held in memory keep their order. Rows of ``events`` are distinct, so a row of ``drop``
        stands for one row. Only rows that can be in ``drop`` are compared: in memory, those of
        its callers; in a scan of the state (with ``day``), those of its days, so that the other
        days' files are read once."""
        if self.empty:
            return rows
        columns = rows.collect_schema().names()
        drop, add = self.drop.select(columns), self.add.select(columns)
        if isinstance(rows, pl.LazyFrame):
            named = pl.col("day").is_in(drop["day"].unique().implode())
            kept = rows.filter(named).join(drop.lazy(), on=columns, how="anti", nulls_equal=True, maintain_order="left")
            return pl.concat([rows.filter(~named), kept, add.lazy()])
        numbered = rows.with_row_index("__row")
        gone = (numbered.filter(pl.col("caller_id").is_in(drop["caller_id"].unique().implode()))
                .join(drop, on=columns, how="semi", nulls_equal=True)["__row"].to_numpy())
        keep = np.ones(rows.height, dtype=np.bool_)
        keep[gone] = False
        return pl.concat([rows.filter(pl.Series(keep)), add])


def edge_corrections(state: State, days: Sequence[dt.date]) -> EdgeCorrections:
    """What :class:`EdgeCorrections` makes of the window ``days`` (consecutive, oldest first)
    of ``state``: nothing unless its legs were read apart (``incoming_leg`` in ``columns``) on
    an edge day or the day beyond it, and the state holds rows on both."""
    empty = state.events([]).collect()
    none = EdgeCorrections(empty, empty)
    if not days:
        return none
    tolerance = (state.leg_tolerance_s if state.leg_tolerance_s is not None else DEFAULT_LEG_TOLERANCE_S) * 1_000_000
    first, last = days[0], days[-1]
    edges = [(first - dt.timedelta(days=1), first), (last + dt.timedelta(days=1), last)]
    held = set(state.rows_held()["day"].to_list())
    with_legs = state.days_with_legs()
    edges = [(out, inside) for out, inside in edges
             if out in held and inside in held and (out in with_legs or inside in with_legs)]
    split = [(inside, keys) for out, inside in edges if (keys := _straddling(state, out, inside, tolerance)).height]
    if not split:
        return none
    wanted = pl.concat([keys for _, keys in split]).unique()
    window = set(days)
    rows = pl.concat([_chain(state, wanted, inside, 1 if inside == first else -1, window, tolerance)
                      for inside, _ in split]).unique(maintain_order=True)
    twin = np.zeros(rows.height, dtype=np.bool_)
    twin[leg_pairs(rows.with_columns(LEG_KIND), list(LEG_KEYS), pl.col("ts"), (pl.col("flags") & INCOMING_LEG) != 0,
                   tolerance)[0]] = True
    from_twins = rows["__twins"].to_numpy()
    return EdgeCorrections(drop=rows.filter(pl.Series(twin & ~from_twins)).drop("__twins"),
                           add=rows.filter(pl.Series(~twin & from_twins)).drop("__twins"))


def _held(state: State, day: dt.date) -> pl.LazyFrame:
    """Every leg the state holds of ``day``: ``events``' and ``twins``' (marked ``__twins``)."""
    return pl.concat([state.events([day]).with_columns(pl.lit(False).alias("__twins")),
                      state.twins([day]).with_columns(pl.lit(True).alias("__twins"))])


def _midnight_us(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * US_PER_DAY


def _straddling(state: State, out: dt.date, inside: dt.date, tolerance: int) -> pl.DataFrame:
    """The keys (:data:`~detector.state.store.LEG_KEYS`) with a leg on day ``out`` and one on day ``inside`` (beside it),
    each within ``tolerance`` of the midnight between them."""
    midnight = _midnight_us(max(out, inside))
    near = (pl.col("ts") - midnight).abs() <= tolerance
    sides = [_held(state, day).filter(near).select(LEG_KIND, *(k for k in LEG_KEYS if k != "__voice")).unique()
             for day in (out, inside)]
    return sides[0].join(sides[1], on=list(LEG_KEYS), how="semi").collect()


def _chain(state: State, keys: pl.DataFrame, day: dt.date, step: int, window: set[dt.date],
           tolerance: int) -> pl.DataFrame:
    """The legs of ``keys`` inside the window from edge day ``day`` inwards (``step``: +1 from
    the first day, -1 from the last), a day at a time while one of them lies within
    ``tolerance`` of the next day's midnight: beyond a longer gap they pair alike either way."""
    taken = []
    while day in window:
        rows = (_held(state, day).with_columns(LEG_KIND).join(keys.lazy(), on=list(LEG_KEYS), how="semi")
                .drop("__voice").collect())
        taken.append(rows)
        far = _midnight_us(day + dt.timedelta(days=1)) if step > 0 else _midnight_us(day)
        if not rows.height or not rows.select(((pl.col("ts") - far).abs() <= tolerance).any()).item():
            break
        day += dt.timedelta(days=step)
    return pl.concat(taken)
