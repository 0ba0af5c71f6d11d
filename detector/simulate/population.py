"""The people and SIMs of the synthetic carrier: numbers, registry, dealers, handsets, cells.

:func:`build_population` draws every number once, before any traffic: its persona, the days it is
alive, where it lives (region and cells), its handset (IMEI), its registry row, and the stable
parameters of its behaviour (call rate, answer rate, typical duration). Behaviour per day lives in
:mod:`detector.simulate.behaviours`; this module only decides who exists.

Entities are indexed ``0 .. n_home-1`` for home subscribers (this carrier's SIMs, with registry
rows), then off-net Vietnamese numbers, then international numbers. Numbers are int64 E.164
digits (``84912345678``); they become text only when files are written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from detector.simulate.personas import MOBILE_WORKERS, Persona, Tactics, tactics

SECONDS_PER_DAY = 86_400
VN = 84 * 10**9  # "84" followed by a 9-digit national number

#: Home carrier: Viettel-style ranges (national 2-digit prefixes). 032-039 had retired 11-digit
#: forms (016x), which export noise uses.
HOME_PREFIXES = (32, 33, 34, 35, 36, 37, 38, 39, 86, 96, 97, 98)
#: Other Vietnamese carriers (MobiFone, VinaPhone, Vietnamobile, Gmobile).
OFFNET_PREFIXES = (70, 76, 77, 78, 79, 89, 90, 93, 81, 82, 83, 84, 85, 88, 91, 94, 52, 56, 58, 92, 59, 99)
#: International callers: (country code, subscriber digits, leading subscriber digits).
COUNTRIES = ((1, 10, 2), (44, 10, 7), (86, 11, 13), (855, 9, 9), (82, 10, 10), (81, 10, 90), (886, 9, 9), (61, 9, 4))
BLOCK = 10_000  # numbers per allocation block (prefix + 3 digits)

SUB_TYPES = ("prepaid", "postpaid", "enterprise")
PREPAID, POSTPAID, ENTERPRISE = 0, 1, 2

#: Type allocation codes: handsets for people, modems for SIM-boxes and SMS rigs.
HANDSET_TACS = (35332510, 35391110, 35260011, 86769704, 35875110, 35449209, 86891304, 35294611, 86018305, 35665211)
MODEM_TACS = (86223503, 86530102, 35693803)


@dataclass(frozen=True)
class CellPlan:
    """Cells grouped in regions (a region is one location area code, e.g. a province)."""

    n_regions: int
    per_region: int

    def cell(self, region: np.ndarray, local: np.ndarray) -> np.ndarray:
        """Global cell index of ``local`` (wrapped) in ``region``."""
        return region.astype(np.int64) * self.per_region + np.mod(local, self.per_region)

    def names(self) -> list[str]:
        """Cell ids as exported: ``<LAC>-<CI>``."""
        return [
            f"{10_100 + 10 * r}-{(r * 7919 + c * 104_729) % 90_000 + 10_000}"
            for r in range(self.n_regions)
            for c in range(self.per_region)
        ]


@dataclass(frozen=True)
class Registry:
    """Registry columns of the home subscribers, aligned with home entity indices."""

    activation_s: np.ndarray  # int64 seconds since the window's first midnight (negative = before)
    dealer: np.ndarray  # int32 dealer index
    identity: np.ndarray  # int32 identity-document index
    sub_type: np.ndarray  # int8 index into SUB_TYPES
    iccid: np.ndarray  # int64 ICCID serial (13 digits)
    imsi: np.ndarray  # int64 MSIN (10 digits)
    activation_cell: np.ndarray  # int64 global cell index (the dealer's shop)
    identity_hash: np.ndarray  # uint64 per identity, exported as hex


@dataclass(frozen=True)
class Population:
    """Every number of the world and its stable attributes (arrays aligned by entity index)."""

    n_home: int
    days: int
    tactics: Tactics
    cells: CellPlan
    numbers: np.ndarray  # int64 E.164 digits
    persona: np.ndarray  # int8 Persona code
    group: np.ndarray  # int32 rig / farm / campaign / family / company id, -1 when none
    preactivated: np.ndarray  # bool: came out of a fraudulent dealer batch
    alive_from: np.ndarray  # int16 first day with traffic
    alive_to: np.ndarray  # int16 day after the last day with traffic
    skip_p: np.ndarray  # float: chance of a silent day
    region: np.ndarray  # int32 home region (-1 for off-net)
    cell_local: np.ndarray  # int32 base cell within the region
    cell_spread: np.ndarray  # int32 how many neighbouring cells it uses
    device: np.ndarray  # int32 handset index (-1 = not known to this carrier)
    device2: np.ndarray  # int32 handset after a change (-1 = none)
    device_change_day: np.ndarray  # int16 day the second handset takes over
    degree0: np.ndarray  # int32 contacts this entity chooses in the social graph
    tie_weight: np.ndarray  # float multiplier on its ties (cover circles call back eagerly)
    voice_rate: np.ndarray  # float calls/day (off-net: per home contact)
    sms_rate: np.ndarray  # float SMS/day (off-net: per home contact)
    volume: np.ndarray  # float typical daily volume of the persona's own activity
    answer_p: np.ndarray  # float chance a call it places (or receives, for people) is answered
    dur_median: np.ndarray  # float seconds
    sequential: np.ndarray  # bool: dials target lists in number order
    imei_values: np.ndarray  # int64 15-digit IMEI per device
    registry: Registry
    sweep_starts: np.ndarray  # int64 first number of each populated home block
    target_pool: np.ndarray  # int32 entities that answer phones: spam and customer targets
    closed_numbers: np.ndarray  # int64 sorted: SIM-box SIMs, which reject incoming traffic
    rates_per_contact: np.ndarray = field(repr=False)  # bool: off-net rates scale with contacts

    def alive(self, day: int) -> np.ndarray:
        """Boolean mask of entities that may have traffic on ``day``."""
        return (self.alive_from <= day) & (day < self.alive_to)

    def cells_for(self, ent: np.ndarray, rng: np.random.Generator, *, home_biased: bool = True) -> np.ndarray:
        """A serving cell per event of ``ent`` (global index; -1 for off-net originators).

        People spend most time near home, so offsets are skewed toward the base cell; fixed
        equipment (``home_biased=False``) picks uniformly among its few cells.
        """
        spread = self.cell_spread[ent]
        u = rng.random(ent.size)
        offset = ((u * u if home_biased else u) * spread).astype(np.int64)
        cell = self.cells.cell(self.region[ent], self.cell_local[ent] + offset)
        return np.where(self.region[ent] >= 0, cell, -1)

    def imei_for(self, ent: np.ndarray, day: int) -> np.ndarray:
        """The device index used by each of ``ent`` on ``day`` (-1 when unknown)."""
        changed = (self.device2[ent] >= 0) & (day >= self.device_change_day[ent])
        return np.where(changed, self.device2[ent], self.device[ent])


class _Devices:
    """Hands out device indices; IMEIs are drawn for all of them at the end."""

    def __init__(self) -> None:
        self.modem: list[np.ndarray] = []
        self.count = 0

    def new(self, k: int, *, modem: bool = False) -> np.ndarray:
        ids = np.arange(self.count, self.count + k, dtype=np.int32)
        self.count += k
        self.modem.append(np.full(k, modem))
        return ids

    def imeis(self, rng: np.random.Generator) -> np.ndarray:
        is_modem = np.concatenate(self.modem) if self.modem else np.zeros(0, bool)
        body = np.zeros(self.count, np.int64)
        for mask, tacs in ((~is_modem, HANDSET_TACS), (is_modem, MODEM_TACS)):
            # (TAC, serial) pairs drawn without replacement: no two unrelated devices share an IMEI.
            combo = rng.choice(len(tacs) * 10**6, int(mask.sum()), replace=False).astype(np.int64)
            body[mask] = np.asarray(tacs, np.int64)[combo // 10**6] * 10**6 + combo % 10**6
        return body * 10 + _luhn_digit(body)


def _luhn_digit(body: np.ndarray) -> np.ndarray:
    """Luhn check digit of 14-digit IMEI bodies."""
    digits = (body[:, None] // 10 ** np.arange(13, -1, -1, dtype=np.int64)) % 10
    doubled = digits[:, 1::2] * 2  # every second digit from the left = from the right of the check
    total = digits[:, 0::2].sum(axis=1) + (doubled // 10 + doubled % 10).sum(axis=1)
    return (10 - total % 10) % 10


@dataclass
class _Block:
    """A batch of home subscribers being assembled (one column list per attribute)."""

    cols: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def add(self, **cols: np.ndarray) -> None:
        n = len(next(iter(cols.values())))
        for key, value in cols.items():
            arr = np.asarray(value)
            self.cols.setdefault(key, []).append(np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr)

    def column(self, key: str) -> np.ndarray:
        return np.concatenate(self.cols[key])


def _scaled(n: int, frac: float, minimum: int) -> int:
    """A persona count: ``frac`` of the world, but at least ``minimum`` (scaled below 1,000)."""
    floor = max(1, round(minimum * min(1.0, n / 1000)))
    return max(floor, round(frac * n))


def _rig_lives(days: int, life: tuple[int, int], rng: np.random.Generator) -> list[tuple[int, int]]:
    """Alive (from, to) of the SIMs one spam rig burns through, one after another."""
    start = int(rng.integers(-2, max(1, days - 1)))
    spans: list[tuple[int, int]] = []
    while start < days:
        end = start + int(rng.integers(life[0], life[1] + 1))
        if end > 0:
            spans.append((max(start, 0), min(end, days)))
        start = end
    return spans


def _batch_sizes(total: int, size: tuple[int, int], rng: np.random.Generator) -> list[int]:
    sizes: list[int] = []
    while sum(sizes) < total:
        sizes.append(int(rng.integers(size[0], size[1] + 1)))
    sizes[-1] -= sum(sizes) - total
    if len(sizes) > 1 and sizes[-1] < size[0]:
        last = sizes.pop()
        sizes[-1] += last
    return sizes


def build_population(n_home: int, days: int, evasion: float, rng: np.random.Generator) -> Population:
    """Draw the whole population of a world with ``n_home`` home subscribers.

    Every persona is present even in small worlds (minimum counts scale down only below 1,000
    subscribers); fraud positives are a few percent of home subscribers.
    """
    t = tactics(evasion)
    s = min(1.0, n_home / 1000)
    n_regions = int(np.clip(n_home // 1500, 8, 63))
    cells = CellPlan(n_regions, max(20, math.ceil(n_home / (n_regions * 20))))
    devices = _Devices()

    n_dealers = max(10, n_home // 400)
    dealer_region = rng.integers(0, n_regions, n_dealers).astype(np.int32)
    dealer_cell = rng.integers(0, cells.per_region, n_dealers).astype(np.int32)
    fraud_dealers = rng.choice(n_dealers, max(2, round(n_home / 20_000)), replace=False)

    home = _Block()
    next_group = 0
    next_identity = 0

    def new_groups(k: int) -> np.ndarray:
        nonlocal next_group
        ids = np.arange(next_group, next_group + k, dtype=np.int32)
        next_group += k
        return ids

    def new_identities(k: int) -> np.ndarray:
        nonlocal next_identity
        ids = np.arange(next_identity, next_identity + k, dtype=np.int32)
        next_identity += k
        return ids

    def away_from(regions: np.ndarray) -> np.ndarray:
        # A region other than ``regions``: pre-activated SIMs are first used far from the shop.
        return ((regions + rng.integers(1, n_regions, regions.size)) % n_regions).astype(np.int32)

    def extra(mean: float, k: int) -> np.ndarray:
        return rng.poisson(mean, k)

    # --- fraud: spam rigs, wangiri, SMS spam, SIM-box farms ------------------------------------
    rigs = [_rig_lives(days, t.bulk_life_days, rng) for _ in range(_scaled(n_home, 0.0005, 3))]
    for rig, spans in zip(new_groups(len(rigs)), rigs, strict=True):
        k = len(spans)
        rig_device = devices.new(1)
        own = devices.new(k)
        home.add(
            persona=np.full(k, Persona.VOICE_SPAM_BULK),
            group=np.full(k, rig),
            alive_from=np.array([a for a, _ in spans]),
            alive_to=np.array([b for _, b in spans]),
            device=np.where(rng.random(k) < t.bulk_shared_imei_p, rig_device[0], own),
            region=np.full(k, rng.integers(0, n_regions)),
            cell_local=np.full(k, rng.integers(0, cells.per_region)),
            cell_spread=1 + (rng.random(k) < 0.3) + extra(t.bulk_extra_cells, k),
            volume=rng.uniform(*t.bulk_calls, k),
            answer_p=rng.uniform(*t.bulk_answer, k),
            dur_median=t.bulk_dur_median * rng.uniform(0.7, 1.4, k),
            sequential=np.full(k, rng.random() < t.bulk_sequential_p),
            from_batch=rng.random(k) < 0.5,
        )

    def short_lived(persona: Persona, k: int, life: tuple[int, int], volume: tuple[float, float]) -> None:
        start = rng.integers(0, days, k)
        home.add(
            persona=np.full(k, persona),
            group=np.full(k, -1),
            alive_from=start,
            alive_to=np.minimum(days, start + rng.integers(life[0], life[1] + 1, k)),
            device=devices.new(k),
            region=rng.integers(0, n_regions, k),
            cell_local=rng.integers(0, cells.per_region, k),
            cell_spread=1 + extra(0.3 + t.fraud_extra_cells, k),
            volume=rng.uniform(*volume, k),
            # Answer rate and talk time of the cover circle's calls, for careful fraudsters.
            answer_p=rng.uniform(0.5, 0.9, k),
            dur_median=rng.uniform(50, 150, k),
            sequential=rng.random(k) < t.sms_bulk_sequential_p,
            from_batch=rng.random(k) < (0.3 if persona == Persona.WANGIRI else 0.5),
        )

    short_lived(Persona.WANGIRI, _scaled(n_home, 0.0005, 4), (2, 6), t.wangiri_calls)
    short_lived(Persona.SMS_SPAM_BULK, _scaled(n_home, 0.0006, 4), t.sms_bulk_life_days, t.sms_bulk_msgs)

    k = _scaled(n_home, 0.0012, 6)
    home.add(
        persona=np.full(k, Persona.VOICE_SPAM_LOWSLOW),
        group=np.full(k, -1),
        alive_from=np.zeros(k),
        alive_to=np.full(k, days),
        device=devices.new(k),
        region=rng.integers(0, n_regions, k),
        cell_local=rng.integers(0, cells.per_region, k),
        cell_spread=1 + extra(0.5 + t.fraud_extra_cells, k),
        volume=rng.uniform(*t.lowslow_calls, k),
        answer_p=rng.uniform(*t.lowslow_answer, k),
        dur_median=t.lowslow_dur_median * rng.uniform(0.7, 1.4, k),
        sequential=rng.random(k) < t.bulk_sequential_p * 0.5,
        from_batch=np.zeros(k, bool),
    )

    for campaign in new_groups(_scaled(n_home, 1 / 30_000, 1)):
        k = int(rng.integers(max(3, round(10 * s)), max(4, round(30 * s)) + 1))
        modems = devices.new(math.ceil(k / t.sms_spread_sims_per_modem), modem=True)
        home.add(
            persona=np.full(k, Persona.SMS_SPAM_SPREAD),
            group=np.full(k, campaign),
            alive_from=np.zeros(k),
            alive_to=np.full(k, days),
            # Round robin over the rig's modems: careful campaigns have one modem per SIM.
            device=modems[np.arange(k) % modems.size],
            region=np.full(k, rng.integers(0, n_regions)),
            cell_local=np.full(k, rng.integers(0, cells.per_region)),
            cell_spread=1 + extra(0.5 + t.fraud_extra_cells, k),
            volume=rng.uniform(*t.sms_spread_msgs, k),
            answer_p=rng.uniform(0.5, 0.9, k),
            dur_median=rng.uniform(50, 150, k),
            sequential=np.zeros(k, bool),
            from_batch=np.zeros(k, bool),
        )

    for farm in new_groups(max(1, round(n_home * 0.004 / 36))):
        # Farms hold dozens of SIMs; in a small world they are kept to about 1% of it.
        lo = max(4, round(16 * s))
        k = int(rng.integers(lo, max(lo + 1, min(64, n_home // 80)) + 1))
        changer = rng.random() < t.simbox_changer_p
        modems = devices.new(int(rng.integers(1, 4)), modem=True)
        farm_cells = int(rng.integers(1, 4))
        home.add(
            persona=np.full(k, Persona.SIMBOX),
            group=np.full(k, farm),
            alive_from=np.zeros(k),
            alive_to=np.full(k, days),
            device=devices.new(k, modem=True) if changer else modems[rng.integers(0, modems.size, k)],
            region=np.full(k, rng.integers(0, n_regions)),
            cell_local=rng.integers(0, cells.per_region) + rng.integers(0, farm_cells, k),
            cell_spread=1 + extra(t.simbox_extra_cells, k),
            volume=rng.uniform(*t.simbox_calls, k),
            answer_p=rng.uniform(0.75, 0.92, k),
            dur_median=rng.uniform(60, 180, k),
            sequential=np.zeros(k, bool),
            from_batch=np.zeros(k, bool),
        )

    n_fraud = sum(a.size for a in home.cols["persona"])
    fraud_from_batch = home.column("from_batch")
    fraud_persona = home.column("persona")
    # Every world has spam SIMs that came out of a dealer batch (labelled twice), however small.
    for p in (Persona.VOICE_SPAM_BULK, Persona.SMS_SPAM_BULK):
        of_p = np.flatnonzero(fraud_persona == p)
        if of_p.size and not fraud_from_batch[of_p].any():
            fraud_from_batch[of_p[0]] = True
    fraud_region = home.column("region")

    # --- pre-activated batches: dormant SIMs, SIMs bought and used, and the spam SIMs above ---------
    n_preact = _scaled(n_home, 0.012, 20)
    spam_slots = np.flatnonzero(fraud_from_batch)
    batch_sizes = _batch_sizes(n_preact + spam_slots.size, t.dealer_batch_size, rng)
    n_slots = sum(batch_sizes)
    slot_entity = np.full(n_slots, -1, np.int64)  # which fraud SIM sits in a slot, -1 = a new SIM
    slot_entity[rng.choice(n_slots, spam_slots.size, replace=False)] = spam_slots
    fresh = slot_entity < 0
    n_fresh = int(fresh.sum())
    used = rng.random(n_fresh) < 0.25
    fresh_alive_from = np.where(used, rng.integers(min(1, days - 1), days, n_fresh), days)
    fresh_region_dealer = np.zeros(n_fresh, np.int32)

    slot_activation = np.zeros(n_slots, np.int64)
    slot_dealer = np.zeros(n_slots, np.int32)
    slot_identity = np.zeros(n_slots, np.int32)
    pos = 0
    for size in batch_sizes:
        dealer = int(rng.choice(fraud_dealers))
        span = rng.uniform(*t.dealer_span_s)
        start = -int(rng.uniform(3, 60) * SECONDS_PER_DAY) - int(span)
        slot_activation[pos : pos + size] = start + np.sort(rng.uniform(0, span, size)).astype(np.int64)
        slot_dealer[pos : pos + size] = dealer
        per_id = max(1, round(rng.uniform(*t.dealer_sims_per_id)))
        ids = new_identities(math.ceil(size / per_id))
        slot_identity[pos : pos + size] = ids[np.arange(size) // per_id]
        pos += size
    fresh_region_dealer[:] = dealer_region[slot_dealer[fresh]]
    # The spam SIMs among the slots are activated before they start calling.
    fraud_alive_from = home.column("alive_from").astype(np.int64)
    taken = ~fresh
    slot_activation[taken] = np.minimum(
        slot_activation[taken], fraud_alive_from[slot_entity[taken]] * SECONDS_PER_DAY - 3600
    )
    fraud_region[slot_entity[taken]] = away_from(dealer_region[slot_dealer[taken]])

    fresh_region = np.where(used, away_from(fresh_region_dealer), fresh_region_dealer)
    home.add(
        persona=np.where(used, Persona.PREACTIVATED_USED, Persona.PREACTIVATED_DORMANT),
        group=np.full(n_fresh, -1),
        alive_from=fresh_alive_from,
        alive_to=np.full(n_fresh, days),
        device=devices.new(n_fresh),
        region=fresh_region,
        cell_local=rng.integers(0, cells.per_region, n_fresh),
        cell_spread=rng.integers(1, 6, n_fresh),
        volume=np.zeros(n_fresh),
        answer_p=rng.uniform(0.7, 0.92, n_fresh),
        dur_median=rng.uniform(50, 150, n_fresh),
        sequential=np.zeros(n_fresh, bool),
        from_batch=np.ones(n_fresh, bool),
    )
    # Entity index of each slot, now that the fresh SIMs have entity indices too.
    slot_entity[fresh] = n_fraud + np.arange(n_fresh)

    # --- enterprise bulk activations: consecutive postpaid SIMs on one business registration ------
    companies: list[tuple[np.ndarray, int]] = []  # (entity indices, group)
    first = n_fraud + n_fresh
    for company in new_groups(max(1, round(n_home / 5000))):
        k = int(rng.integers(max(5, round(20 * s)), max(6, round(60 * s)) + 1))
        home.add(
            persona=np.full(k, Persona.ENTERPRISE_EMPLOYEE),
            group=np.full(k, company),
            alive_from=np.zeros(k),
            alive_to=np.full(k, days),
            device=devices.new(k),
            region=np.full(k, rng.integers(0, n_regions)),
            cell_local=rng.integers(0, cells.per_region, k),
            cell_spread=rng.integers(1, 6, k),
            volume=np.zeros(k),
            answer_p=rng.uniform(0.75, 0.95, k),
            dur_median=rng.uniform(50, 150, k),
            sequential=np.zeros(k, bool),
            from_batch=np.zeros(k, bool),
        )
        companies.append((first + np.arange(k), int(company)))
        first += k

    # --- singles: everyone else, scattered over the home ranges -----------------------------------
    counts = {
        Persona.CALL_CENTRE: _scaled(n_home, 0.0001, 3),
        Persona.DELIVERY_DRIVER: _scaled(n_home, 0.006, 8),
        Persona.SALESPERSON: _scaled(n_home, 0.003, 5),
        Persona.TAXI_DISPATCH: _scaled(n_home, 0.0008, 3),
        Persona.NEW_SUBSCRIBER: _scaled(n_home, 0.012, 10),
    }
    n_families = _scaled(n_home, 0.008, 5)
    family_sizes = rng.integers(2, 4, n_families)
    n_single_fixed = sum(counts.values()) + int(family_sizes.sum())
    n_ordinary = n_home - first - n_single_fixed
    if n_ordinary < n_home // 2:
        raise ValueError(f"{n_home} subscribers is too few for every persona; use at least 100")
    singles_start = first
    persona_single = np.concatenate(
        [
            np.repeat(np.array(list(counts), np.int64), list(counts.values())),
            np.full(int(family_sizes.sum()), Persona.FAMILY),
            np.full(n_ordinary, Persona.ORDINARY),
        ]
    )
    k = persona_single.size
    family_group = np.full(k, -1, np.int32)
    fam_lo = sum(counts.values())
    family_group[fam_lo : fam_lo + family_sizes.sum()] = np.repeat(new_groups(n_families), family_sizes)
    is_worker = np.isin(persona_single, MOBILE_WORKERS)
    is_cc = persona_single == Persona.CALL_CENTRE
    home.add(
        persona=persona_single,
        group=family_group,
        # New subscribers get their first day from the registry below.
        alive_from=np.zeros(k),
        alive_to=np.full(k, days),
        device=devices.new(k),
        region=np.zeros(k, np.int32),
        cell_local=rng.integers(0, cells.per_region, k),
        cell_spread=np.where(is_worker, rng.integers(12, 31, k), np.where(is_cc, 1, rng.integers(1, 6, k))),
        volume=np.zeros(k),
        answer_p=rng.uniform(0.7, 0.92, k),
        dur_median=np.where(
            is_worker, rng.uniform(20, 45, k), np.where(is_cc, rng.uniform(120, 240, k), rng.uniform(50, 150, k))
        ),
        sequential=np.zeros(k, bool),
        from_batch=np.zeros(k, bool),
    )

    persona = home.column("persona").astype(np.int8)
    group = home.column("group").astype(np.int32)
    preactivated = home.column("from_batch").astype(bool)
    preactivated[:n_fraud] = fraud_from_batch
    preactivated[n_fraud + n_fresh :] = False
    region = home.column("region").astype(np.int32)
    region[:n_fraud] = fraud_region
    alive_from = home.column("alive_from").astype(np.int16)
    alive_to = home.column("alive_to").astype(np.int16)
    device = home.column("device").astype(np.int32)

    # --- registry ------------------------------------------------------------------------------
    activation = np.zeros(n_home, np.int64)
    dealer = np.zeros(n_home, np.int32)
    identity = np.zeros(n_home, np.int32)
    sub_type = np.zeros(n_home, np.int8)
    activation[slot_entity] = slot_activation
    dealer[slot_entity] = slot_dealer
    identity[slot_entity] = slot_identity
    # Fraud SIMs not from a batch: bought singly a little before use, on their own (fake) ID.
    loose = np.flatnonzero(~fraud_from_batch)
    dealer[loose] = rng.integers(0, n_dealers, loose.size)
    identity[loose] = new_identities(loose.size)
    activation[loose] = (alive_from[loose].astype(np.int64) - rng.uniform(1, 120, loose.size)) * SECONDS_PER_DAY
    for members, _company in companies:
        burst = -int(rng.uniform(30, 700) * SECONDS_PER_DAY)
        activation[members] = burst + np.sort(rng.uniform(0, 2700, members.size)).astype(np.int64)
        dealer[members] = rng.integers(0, n_dealers)
        identity[members] = new_identities(1)[0]
        sub_type[members] = ENTERPRISE
    singles = np.arange(singles_start, n_home)
    dealer[singles] = rng.integers(0, n_dealers, singles.size)
    # People live near the shop that sold them their SIM.
    near = rng.random(singles.size) < 0.85
    region[singles] = np.where(near, dealer_region[dealer[singles]], rng.integers(0, n_regions, singles.size))
    age_days = np.minimum(3650, 1 + rng.exponential(600, singles.size))
    new_single = persona[singles] == Persona.NEW_SUBSCRIBER
    age_days = np.where(new_single, -rng.uniform(-3, max(days - 1, 0.5), singles.size), age_days)
    shop_hour = rng.uniform(8, 21, singles.size) * 3600
    activation[singles] = (-np.floor(age_days) * SECONDS_PER_DAY + shop_hour).astype(np.int64)
    act_day = np.floor_divide(activation[singles], SECONDS_PER_DAY)
    # A new SIM starts being used the day after it is sold.
    alive_from[singles] = np.where(new_single, np.clip(act_day + 1, 0, days), 0)
    fam = group[singles] >= 0
    identity[singles] = new_identities(singles.size)
    fam_idx = singles[fam]
    _, fam_first = np.unique(group[fam_idx], return_index=True)
    identity[fam_idx] = identity[fam_idx[fam_first]][np.searchsorted(group[fam_idx[fam_first]], group[fam_idx])]
    sp = persona[singles]
    sub_type[singles] = np.where(
        sp == Persona.CALL_CENTRE, ENTERPRISE, np.where(rng.random(singles.size) < 0.2, POSTPAID, PREPAID)
    )
    activation[singles[sp == Persona.CALL_CENTRE]] -= (
        rng.uniform(365, 3000, int((sp == Persona.CALL_CENTRE).sum())) * SECONDS_PER_DAY
    ).astype(np.int64)
    # Family members share a region, and buy their SIMs together on one day.
    region[fam_idx] = region[fam_idx[fam_first]][np.searchsorted(group[fam_idx[fam_first]], group[fam_idx])]

    # --- numbers -------------------------------------------------------------------------------
    numbers_home = np.zeros(n_home, np.int64)
    run_prefix = int(rng.choice(HOME_PREFIXES))
    scatter_prefixes = np.array([p for p in HOME_PREFIXES if p != run_prefix], np.int64)
    scatter = np.concatenate([np.arange(n_fraud), np.arange(singles_start, n_home)])
    scatter = np.setdiff1d(scatter, slot_entity)
    n_blocks = max(3, math.ceil(scatter.size / 3000))
    block_ids = rng.choice(scatter_prefixes.size * 1000, n_blocks, replace=False)
    block_national = scatter_prefixes[block_ids // 1000] * 10**7 + (block_ids % 1000) * BLOCK
    slot = rng.choice(n_blocks * BLOCK, scatter.size, replace=False)
    numbers_home[scatter] = VN + block_national[slot // BLOCK] + slot % BLOCK
    cursor = run_prefix * 10**7 + int(rng.integers(0, 10**6))
    runs: list[tuple[np.ndarray, float]] = []
    pos = 0
    for size in batch_sizes:
        runs.append((slot_entity[pos : pos + size], t.dealer_consecutive_p))
        pos += size
    runs += [(members, 1.0) for members, _ in companies]
    run_order = rng.permutation(len(runs))
    for r in run_order:
        members, consecutive_p = runs[r]
        steps = np.where(rng.random(members.size) < consecutive_p, 1, rng.integers(2, 400, members.size))
        steps[0] = rng.integers(50, 5000)
        national = cursor + np.cumsum(steps)
        numbers_home[members] = VN + national
        cursor = int(national[-1])

    # ICCIDs follow the numbers within a batch (cards come off one roll); IMSIs are random.
    iccid = rng.choice(10**12, n_home, replace=False).astype(np.int64) + 10**12
    for members, _ in runs:
        iccid[members] = iccid[members[0]] + np.arange(members.size)
    imsi = rng.choice(10**10, n_home, replace=False).astype(np.int64)
    activation_cell = cells.cell(dealer_region[dealer], dealer_cell[dealer])

    # --- per-entity behaviour parameters for home subscribers --------------------------------------
    cell_local = home.column("cell_local").astype(np.int32)
    cell_spread = home.column("cell_spread").astype(np.int32)
    volume = home.column("volume").astype(np.float64)
    answer_p = home.column("answer_p").astype(np.float64)
    dur_median = home.column("dur_median").astype(np.float64)
    sequential = home.column("sequential").astype(bool)
    social = np.isin(persona, (Persona.ORDINARY, Persona.FAMILY, Persona.ENTERPRISE_EMPLOYEE))
    degree0 = np.zeros(n_home, np.int32)
    degree0[social] = rng.integers(3, 21, int(social.sum()))
    for p, (lo, hi) in {
        Persona.NEW_SUBSCRIBER: (1, 6),
        Persona.PREACTIVATED_USED: (2, 8),
        Persona.DELIVERY_DRIVER: (3, 10),
        Persona.SALESPERSON: (3, 10),
        Persona.TAXI_DISPATCH: (3, 10),
        Persona.VOICE_SPAM_LOWSLOW: t.lowslow_circle,
    }.items():
        m = persona == p
        degree0[m] = rng.integers(lo, hi + 1, int(m.sum()))
    cover = np.isin(
        persona,
        (Persona.VOICE_SPAM_BULK, Persona.WANGIRI, Persona.SMS_SPAM_BULK, Persona.SMS_SPAM_SPREAD, Persona.SIMBOX),
    )
    degree0[cover] = rng.binomial(5, t.cover_contacts_p, int(cover.sum()))
    tie_weight = np.where(persona == Persona.VOICE_SPAM_LOWSLOW, 4.0, 1.0)

    voice_rate = rng.lognormal(np.log(3.4) - 0.18, 0.6, n_home)
    sms_rate = rng.lognormal(np.log(1.6) - 0.4, 0.9, n_home)
    is_worker = np.isin(persona, MOBILE_WORKERS)
    voice_rate[is_worker] *= 0.4
    sms_rate[is_worker] *= 0.4
    voice_rate[persona == Persona.NEW_SUBSCRIBER] *= 0.6
    voice_rate[persona == Persona.VOICE_SPAM_LOWSLOW] = 1.0 + t.cover_voice_rate
    sms_rate[persona == Persona.VOICE_SPAM_LOWSLOW] = 0.3 + t.cover_sms_rate
    voice_rate[cover] = t.cover_voice_rate
    sms_rate[cover] = t.cover_sms_rate
    skip_p = np.where(social | (persona == Persona.NEW_SUBSCRIBER) | (persona == Persona.PREACTIVATED_USED), 0.08, 0.0)
    skip_p = np.where(is_worker, 0.1, skip_p)

    # Workers' and call centres' volumes: customers per day.
    for p, (lo, hi) in {
        Persona.DELIVERY_DRIVER: (30, 80),
        Persona.SALESPERSON: (20, 50),
        Persona.TAXI_DISPATCH: (40, 120),
        Persona.CALL_CENTRE: (400, 1500),
    }.items():
        m = persona == p
        volume[m] = rng.uniform(lo, hi, int(m.sum()))
    answer_p[is_worker] = rng.uniform(0.82, 0.95, int(is_worker.sum()))
    answer_p[persona == Persona.CALL_CENTRE] = rng.uniform(0.5, 0.7, int((persona == Persona.CALL_CENTRE).sum()))

    # A few people change handsets during the window.
    device2 = np.full(n_home, -1, np.int32)
    change_day = np.full(n_home, days, np.int16)
    changer = np.flatnonzero(social & (rng.random(n_home) < 0.015))
    device2[changer] = devices.new(changer.size)
    change_day[changer] = rng.integers(0, days, changer.size)

    # --- off-net and international numbers ----------------------------------------------------
    expected_offnet_ties = float(degree0.sum()) * 0.14
    n_off = max(50, round(expected_offnet_ties / 1.8))
    offnet_prefix = np.asarray(OFFNET_PREFIXES, np.int64)[rng.integers(0, len(OFFNET_PREFIXES), n_off * 2)]
    offnet = np.unique(VN + offnet_prefix * 10**7 + rng.integers(0, 10**7, n_off * 2))
    offnet = rng.permutation(offnet)[:n_off]
    n_intl = max(20, round(0.02 * n_home))
    country = rng.integers(0, len(COUNTRIES), n_intl)
    intl = np.empty(n_intl, np.int64)
    for c, (cc, digits, lead) in enumerate(COUNTRIES):
        m = country == c
        lead_digits = len(str(lead))
        rest = rng.integers(0, 10 ** (digits - lead_digits), int(m.sum()))
        intl[m] = (cc * 10**digits) + lead * 10 ** (digits - lead_digits) + rest
    intl = np.unique(intl)
    n_intl = intl.size
    n_ext = n_off + n_intl

    def ext(home_values: np.ndarray, value: float) -> np.ndarray:
        return np.concatenate([home_values, np.full(n_ext, value, dtype=home_values.dtype)])

    numbers = np.concatenate([numbers_home, offnet, intl])
    persona_all = np.concatenate(
        [persona, np.full(n_off, Persona.OFFNET, np.int8), np.full(n_intl, Persona.INTERNATIONAL, np.int8)]
    )
    ext_voice = np.concatenate([rng.uniform(0.2, 0.5, n_off), rng.uniform(0.1, 0.3, n_intl)])
    ext_sms = np.concatenate([rng.uniform(0.05, 0.25, n_off), np.zeros(n_intl)])
    pool = np.flatnonzero(
        np.isin(persona_all, (Persona.ORDINARY, Persona.FAMILY, Persona.ENTERPRISE_EMPLOYEE, Persona.OFFNET))
    )

    return Population(
        n_home=n_home,
        days=days,
        tactics=t,
        cells=cells,
        numbers=numbers,
        persona=persona_all,
        group=ext(group, -1),
        preactivated=ext(preactivated, False),
        alive_from=ext(alive_from, 0),
        alive_to=ext(alive_to, days),
        skip_p=ext(skip_p, 0.1),
        region=ext(region, -1),
        cell_local=ext(cell_local, 0),
        cell_spread=ext(cell_spread, 1),
        device=ext(device, -1),
        device2=ext(device2, -1),
        device_change_day=ext(change_day, days),
        degree0=ext(degree0, 0),
        tie_weight=ext(tie_weight, 1.0),
        voice_rate=np.concatenate([voice_rate, ext_voice]),
        sms_rate=np.concatenate([sms_rate, ext_sms]),
        volume=ext(volume, 0.0),
        answer_p=np.concatenate([answer_p, rng.uniform(0.7, 0.9, n_ext)]),
        dur_median=np.concatenate([dur_median, rng.uniform(60, 180, n_ext)]),
        sequential=ext(sequential, False),
        imei_values=devices.imeis(rng),
        registry=Registry(
            activation_s=activation,
            dealer=dealer,
            identity=identity,
            sub_type=sub_type,
            iccid=iccid,
            imsi=imsi,
            activation_cell=activation_cell,
            identity_hash=rng.integers(0, np.iinfo(np.uint64).max, next_identity, dtype=np.uint64, endpoint=True),
        ),
        sweep_starts=VN + block_national,
        target_pool=rng.permutation(pool).astype(np.int32),  # shuffled: a stretch is a random set
        closed_numbers=np.sort(numbers_home[persona == Persona.SIMBOX]),
        rates_per_contact=np.concatenate([np.zeros(n_home, bool), np.ones(n_ext, bool)]),
    )
