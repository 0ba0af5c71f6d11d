"""Who knows whom: the contact graph behind ordinary calls and SMS.

Ties are undirected and weighted (a strong tie is called often, both ways), which is what makes
ordinary traffic reciprocal: if A calls B, B tends to call A within the window. Most ties stay in
a local community (people are grouped by region), some reach other home subscribers anywhere,
off-net numbers and a few international ones. Families and colleagues are tied explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from detector.simulate.personas import Persona
from detector.simulate.population import Population

COMMUNITY_SIZE = 120
#: Where a tie chosen by a home subscriber leads (cumulative shares): same community, any home
#: subscriber, an off-net number, an international number.
TIE_KINDS = np.cumsum([0.80, 0.05, 0.14, 0.01])


@dataclass(frozen=True)
class ContactGraph:
    """Weighted ties in CSR form: the contacts of entity ``i`` are ``dst[offsets[i]:offsets[i+1]]``."""

    offsets: np.ndarray  # int64, n_entities + 1
    dst: np.ndarray  # int32 contact entity
    cum_weight: np.ndarray  # float64, len(dst) + 1: cumulative tie weight, starting at 0

    def degree(self) -> np.ndarray:
        """Number of contacts of every entity."""
        return np.diff(self.offsets)

    def pick(self, owners: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One contact per element of ``owners`` (all with at least one contact), by tie weight."""
        first = self.offsets[owners]
        last = self.offsets[owners + 1]
        lo = self.cum_weight[first]
        hi = self.cum_weight[last]
        target = lo + rng.random(owners.size) * (hi - lo)
        edge = np.searchsorted(self.cum_weight, target, side="right") - 1
        return self.dst[np.clip(edge, first, last - 1)]


def build_graph(pop: Population, rng: np.random.Generator) -> ContactGraph:
    """Draw the contact graph of ``pop`` (home subscribers choose ties; ties are then mutual)."""
    n_home = pop.n_home
    n_all = pop.numbers.size
    home_persona = pop.persona[:n_home]
    members = np.flatnonzero(pop.degree0[:n_home] > 0)
    # Communities: members sorted by region, then cut into consecutive chunks.
    order = members[np.lexsort((rng.random(members.size), pop.region[members]))]
    position = np.empty(n_home, np.int64)
    position[order] = np.arange(order.size)

    src = np.repeat(members, pop.degree0[members]).astype(np.int64)
    kind = np.searchsorted(TIE_KINDS, rng.random(src.size) * TIE_KINDS[-1], side="right")
    dst = np.empty(src.size, np.int64)
    comm_start = (position[src] // COMMUNITY_SIZE) * COMMUNITY_SIZE
    comm_len = np.minimum(COMMUNITY_SIZE, order.size - comm_start)
    local = kind == 0
    dst[local] = order[comm_start[local] + (rng.random(int(local.sum())) * comm_len[local]).astype(np.int64)]
    anywhere = kind == 1
    dst[anywhere] = order[rng.integers(0, order.size, int(anywhere.sum()))]
    offnet = np.flatnonzero(pop.persona == Persona.OFFNET)
    intl = np.flatnonzero(pop.persona == Persona.INTERNATIONAL)
    dst[kind == 2] = offnet[rng.integers(0, offnet.size, int((kind == 2).sum()))]
    dst[kind == 3] = intl[rng.integers(0, intl.size, int((kind == 3).sum()))]
    weight = rng.lognormal(0.0, 1.0, src.size) * pop.tie_weight[src] * pop.tie_weight[dst]

    # Families and colleagues: explicit strong ties within the group.
    extra_src, extra_dst, extra_w = [], [], []
    for persona, strength, per_member in ((Persona.FAMILY, 6.0, None), (Persona.ENTERPRISE_EMPLOYEE, 1.5, 5)):
        idx = np.flatnonzero(home_persona == persona)
        idx = idx[np.argsort(pop.group[idx], kind="stable")]
        groups, start, size = np.unique(pop.group[idx], return_index=True, return_counts=True)
        del groups
        k = np.repeat(size, size) - 1 if per_member is None else np.full(idx.size, per_member)
        owner = np.repeat(np.arange(idx.size), k)
        g_start = np.repeat(np.repeat(start, size), k)
        g_size = np.repeat(np.repeat(size, size), k)
        pos = owner - g_start
        if per_member is None:  # every family member is tied to every other one
            step = 1 + np.arange(owner.size) - np.repeat(np.cumsum(k) - k, k)
        else:
            step = 1 + (rng.random(owner.size) * np.maximum(g_size - 1, 1)).astype(np.int64)
        peer = g_start + (pos + step) % g_size
        keep = peer != owner
        extra_src.append(idx[owner[keep]])
        extra_dst.append(idx[peer[keep]])
        extra_w.append(np.full(int(keep.sum()), strength))

    src = np.concatenate([src, *extra_src])
    dst = np.concatenate([dst, *extra_dst])
    weight = np.concatenate([weight, *extra_w])
    keep = src != dst
    src, dst, weight = src[keep], dst[keep], weight[keep]

    # Mutual ties; a pair chosen twice keeps its first weight.
    both_src = np.concatenate([src, dst])
    both_dst = np.concatenate([dst, src])
    both_w = np.concatenate([weight, weight])
    key, first = np.unique(both_src * n_all + both_dst, return_index=True)
    out_src = key // n_all
    offsets = np.zeros(n_all + 1, np.int64)
    np.cumsum(np.bincount(out_src, minlength=n_all), out=offsets[1:])
    cum = np.zeros(key.size + 1)
    np.cumsum(both_w[first], out=cum[1:])
    return ContactGraph(offsets=offsets, dst=(key % n_all).astype(np.int32), cum_weight=cum)
