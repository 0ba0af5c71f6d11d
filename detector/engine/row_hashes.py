"""``row_hashes``: a 64-bit hash of each row of a frame of integer columns, to find exact
duplicates among spilled rows.

Polars' ``hash_rows`` costs 37 CPU-ms (75 with its threads' waits) for a spilled batch of 1M rows
of 8 integer columns: ~2 CPU-seconds of the 50M-row spill. Here each value is mixed on its own by
SplitMix64's finalizer, seeded per column, and a row's hash is the sum of its mixed values:
column by column, loops the compiler vectorises (~14 ms a batch). The mixing must not be left out:
a plain weighted sum of the values is linear, and two different calls between the same numbers
(their rows differ in time and duration only) would meet whenever their differences cancel, which
some fixed weights allow for a whole family of pairs. Mixed, two different rows meet with odds
of about 2^-64, as with any 64-bit hash.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from numba import njit

#: A seed per column, so that equal values in two columns mix differently. Fixed, so that every
#: process (a Dask worker included) hashes a row alike.
_SEEDS = np.random.default_rng(0x0DD5).integers(0, 2**63, size=64, dtype=np.uint64)


def row_hashes(frame: pl.DataFrame) -> pl.Series:
    """A ``UInt64`` hash per row of ``frame``, whose columns are all integers that fit in an
    ``Int64``; equal rows have equal hashes. A null counts as 0 (rows that differ only there are told apart when they are
    compared in full)."""
    out = np.zeros(frame.height, dtype=np.uint64)
    for j, name in enumerate(frame.columns):
        _add_mixed(frame[name].fill_null(0).cast(pl.Int64).to_numpy(), _SEEDS[j % _SEEDS.shape[0]], out)
    return pl.Series("row_hash", out)


@njit(cache=True, nogil=True)
def _add_mixed(column, seed, out):
    """Add each value of the int64 ``column``, mixed with ``seed``, to ``out`` (uint64): one
    column at a time, a loop the compiler vectorises."""
    for r in range(out.shape[0]):
        out[r] += _mixed(np.uint64(column[r]) ^ seed)


@njit(cache=True, nogil=True, inline="always")
def _mixed(z):
    """SplitMix64's finalizer: every bit of ``z`` moves about half the bits of the result."""
    z += np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))
