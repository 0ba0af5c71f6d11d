"""The people and SIMs of the synthetic carrier: numbers, registry, dealers, handsets, cells.

:func:`build_population` draws every number once, before any traffic: its persona, the days it is
alive, where it lives (region and cells), its handset (IMEI), its registry row, and the stable
parameters of its behaviour (call rate, answer rate, typical duration). Behaviour per day lives in
:mod:`detector.simulate.behaviours`; this module only decides who exists.

It adds the home SIMs kind by kind: the fraud operations (:func:`_add_fraud_operations`), the
pre-activated dealer batches (:func:`_add_preactivated_batches`), the companies' bulk activations
that look like them (:func:`_add_enterprise_batches`) and everyone else (:func:`_add_people`: the
busy honest look-alikes, families, the ordinary population); then it draws the registry, the
numbers and the behaviour parameters of them all, and the numbers outside the carrier. Last it
draws each spam SIM's target list (:func:`_draw_target_lists`) and the subscribers who leave
during the window (:func:`_draw_leavers`), after every other draw so that those stay as they were.

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
    batch: np.ndarray  # int32 pre-activated dealer batch, -1 when none
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
    rates_per_contact: np.ndarray = field(repr=False)  # bool: off-net rates scale with contacts
    #: The target list each spam SIM works through (-1 = none): one per rig, shared by its
    #: successive SIMs, and one per other SIM that sweeps or reads a leaked list.
    target_list: np.ndarray = field(repr=False)  # int32 list index per entity
    #: Where each list starts: an offset along :meth:`sweep_number` for a sweep, an index into
    #: :attr:`target_pool` for a leaked list.
    list_start: np.ndarray = field(repr=False)  # int64 per list
    by_number: np.ndarray = field(repr=False)  # int64 entity indices in number order

    def sweep_number(self, offset: np.ndarray) -> np.ndarray:
        """The number ``offset`` places along the populated home blocks in number order (wrapping
        round): a sweep that reaches a block's end goes on at the next block."""
        blocks = np.sort(self.sweep_starts)
        at = np.mod(offset, blocks.size * BLOCK)
        return blocks[at // BLOCK] + at % BLOCK

    def entity_of(self, wanted: np.ndarray) -> np.ndarray:
        """The entity holding each of ``wanted``'s numbers, or ``numbers.size`` for a number that
        is nobody's (a swept range's numbers): never a home SIM."""
        numbers = self.numbers
        at = np.minimum(np.searchsorted(numbers, wanted, sorter=self.by_number), numbers.size - 1)
        entity = self.by_number[at]
        return np.where(numbers[entity] == wanted, entity, numbers.size)

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


@dataclass
class _Draft:
    """A world while its home subscribers are drawn: the draws every builder shares.

    The builders add their SIMs to :attr:`home` in a fixed order (fraud operations, pre-activated
    batches, enterprise batches, people), and the random draws follow that order: the same seed
    gives the same world.
    """

    n_home: int
    days: int
    t: Tactics
    rng: np.random.Generator
    cells: CellPlan
    #: Where each dealer's shop is (region, cell within it), and the dealers that sell fraud batches.
    dealer_region: np.ndarray
    dealer_cell: np.ndarray
    fraud_dealers: np.ndarray
    devices: _Devices = field(default_factory=_Devices)
    home: _Block = field(default_factory=_Block)
    groups: int = 0
    identities: int = 0

    @classmethod
    def start(cls, n_home: int, days: int, t: Tactics, rng: np.random.Generator) -> _Draft:
        """The cells and dealers of a world of ``n_home`` home subscribers, with no SIM yet."""
        n_regions = int(np.clip(n_home // 1500, 8, 63))
        cells = CellPlan(n_regions, max(20, math.ceil(n_home / (n_regions * 20))))
        n_dealers = max(10, n_home // 400)
        dealer_region = rng.integers(0, n_regions, n_dealers).astype(np.int32)
        dealer_cell = rng.integers(0, cells.per_region, n_dealers).astype(np.int32)
        fraud_dealers = rng.choice(n_dealers, max(2, round(n_home / 20_000)), replace=False)
        return cls(n_home, days, t, rng, cells, dealer_region, dealer_cell, fraud_dealers)

    @property
    def n_regions(self) -> int:
        return self.cells.n_regions

    @property
    def n_dealers(self) -> int:
        return self.dealer_region.size

    @property
    def scale(self) -> float:
        """The world's size against 1,000 subscribers, capped at 1: small worlds get smaller groups."""
        return min(1.0, self.n_home / 1000)

    @property
    def added(self) -> int:
        """Home SIMs added so far: the entity index of the next one."""
        return sum(a.size for a in self.home.cols.get("persona", []))

    def new_groups(self, k: int) -> np.ndarray:
        """``k`` new group ids (rig, farm, campaign, family, company)."""
        ids = np.arange(self.groups, self.groups + k, dtype=np.int32)
        self.groups += k
        return ids

    def new_identities(self, k: int) -> np.ndarray:
        """``k`` new identity-document indices."""
        ids = np.arange(self.identities, self.identities + k, dtype=np.int32)
        self.identities += k
        return ids

    def away_from(self, regions: np.ndarray) -> np.ndarray:
        """A region other than ``regions``: pre-activated SIMs are first used far from the shop."""
        return ((regions + self.rng.integers(1, self.n_regions, regions.size)) % self.n_regions).astype(np.int32)

    def extra(self, mean: float, k: int) -> np.ndarray:
        """Extra cells (Poisson) beyond a SIM's base cell."""
        return self.rng.poisson(mean, k)


def _add_fraud_operations(d: _Draft) -> None:
    """The fraud operations that place traffic: voice spam rigs burning through SIMs, one-ring
    (wangiri) and bulk SMS SIMs, low-and-slow spammers, SMS campaigns spread over modems, and
    SIM-box farms (domain.md). Their SIMs come first among the home subscribers."""
    t, rng, cells, home, devices = d.t, d.rng, d.cells, d.home, d.devices
    rigs = [_rig_lives(d.days, t.bulk_life_days, rng) for _ in range(_scaled(d.n_home, 0.0005, 3))]
    for rig, spans in zip(d.new_groups(len(rigs)), rigs, strict=True):
        k = len(spans)
        rig_device = devices.new(1)
        own = devices.new(k)
        # A blocked SIM is replaced in the same handset (domain.md); a careful few rigs change the
        # handset with each SIM. One choice per rig, drawn per SIM so that later draws stay put.
        keeps_handset = rng.random(k)[0] < t.bulk_shared_imei_p
        home.add(
            persona=np.full(k, Persona.VOICE_SPAM_BULK),
            group=np.full(k, rig),
            alive_from=np.array([a for a, _ in spans]),
            alive_to=np.array([b for _, b in spans]),
            device=np.full(k, rig_device[0]) if keeps_handset else own,
            region=np.full(k, rng.integers(0, d.n_regions)),
            cell_local=np.full(k, rng.integers(0, cells.per_region)),
            cell_spread=1 + (rng.random(k) < 0.3) + d.extra(t.bulk_extra_cells, k),
            volume=rng.uniform(*t.bulk_calls, k),
            answer_p=rng.uniform(*t.bulk_answer, k),
            dur_median=t.bulk_dur_median * rng.uniform(0.7, 1.4, k),
            sequential=np.full(k, rng.random() < t.bulk_sequential_p),
            from_batch=rng.random(k) < 0.5,
        )

    def short_lived(persona: Persona, k: int, life: tuple[int, int], volume: tuple[float, float]) -> None:
        start = rng.integers(0, d.days, k)
        home.add(
            persona=np.full(k, persona),
            group=np.full(k, -1),
            alive_from=start,
            alive_to=np.minimum(d.days, start + rng.integers(life[0], life[1] + 1, k)),
            device=devices.new(k),
            region=rng.integers(0, d.n_regions, k),
            cell_local=rng.integers(0, cells.per_region, k),
            cell_spread=1 + d.extra(0.3 + t.fraud_extra_cells, k),
            volume=rng.uniform(*volume, k),
            # Answer rate and talk time of the cover circle's calls, for careful fraudsters.
            answer_p=rng.uniform(0.5, 0.9, k),
            dur_median=rng.uniform(50, 150, k),
            sequential=rng.random(k) < t.sms_bulk_sequential_p,
            from_batch=rng.random(k) < (0.3 if persona == Persona.WANGIRI else 0.5),
        )

    short_lived(Persona.WANGIRI, _scaled(d.n_home, 0.0005, 4), (2, 6), t.wangiri_calls)
    short_lived(Persona.SMS_SPAM_BULK, _scaled(d.n_home, 0.0006, 4), t.sms_bulk_life_days, t.sms_bulk_msgs)

    k = _scaled(d.n_home, 0.0012, 6)
    home.add(
        persona=np.full(k, Persona.VOICE_SPAM_LOWSLOW),
        group=np.full(k, -1),
        alive_from=np.zeros(k),
        alive_to=np.full(k, d.days),
        device=devices.new(k),
        region=rng.integers(0, d.n_regions, k),
        cell_local=rng.integers(0, cells.per_region, k),
        cell_spread=1 + d.extra(0.5 + t.fraud_extra_cells, k),
        volume=rng.uniform(*t.lowslow_calls, k),
        answer_p=rng.uniform(*t.lowslow_answer, k),
        dur_median=t.lowslow_dur_median * rng.uniform(0.7, 1.4, k),
        sequential=rng.random(k) < t.bulk_sequential_p * 0.5,
        from_batch=np.zeros(k, bool),
    )

    for campaign in d.new_groups(_scaled(d.n_home, 1 / 30_000, 1)):
        k = int(rng.integers(max(3, round(10 * d.scale)), max(4, round(30 * d.scale)) + 1))
        modems = devices.new(math.ceil(k / t.sms_spread_sims_per_modem), modem=True)
        home.add(
            persona=np.full(k, Persona.SMS_SPAM_SPREAD),
            group=np.full(k, campaign),
            alive_from=np.zeros(k),
            alive_to=np.full(k, d.days),
            # Round robin over the rig's modems: careful campaigns have one modem per SIM.
            device=modems[np.arange(k) % modems.size],
            region=np.full(k, rng.integers(0, d.n_regions)),
            cell_local=np.full(k, rng.integers(0, cells.per_region)),
            cell_spread=1 + d.extra(0.5 + t.fraud_extra_cells, k),
            volume=rng.uniform(*t.sms_spread_msgs, k),
            answer_p=rng.uniform(0.5, 0.9, k),
            dur_median=rng.uniform(50, 150, k),
            sequential=np.zeros(k, bool),
            from_batch=np.zeros(k, bool),
        )

    for farm in d.new_groups(max(1, round(d.n_home * 0.004 / 36))):
        # Farms hold dozens of SIMs; in a small world they are kept to about 1% of it.
        lo = max(4, round(16 * d.scale))
        k = int(rng.integers(lo, max(lo + 1, min(64, d.n_home // 80)) + 1))
        changer = rng.random() < t.simbox_changer_p
        modems = devices.new(int(rng.integers(1, 4)), modem=True)
        farm_cells = int(rng.integers(1, 4))
        home.add(
            persona=np.full(k, Persona.SIMBOX),
            group=np.full(k, farm),
            alive_from=np.zeros(k),
            alive_to=np.full(k, d.days),
            device=devices.new(k, modem=True) if changer else modems[rng.integers(0, modems.size, k)],
            region=np.full(k, rng.integers(0, d.n_regions)),
            cell_local=rng.integers(0, cells.per_region) + rng.integers(0, farm_cells, k),
            cell_spread=1 + d.extra(t.simbox_extra_cells, k),
            volume=rng.uniform(*t.simbox_calls, k),
            answer_p=rng.uniform(0.75, 0.92, k),
            dur_median=rng.uniform(60, 180, k),
            sequential=np.zeros(k, bool),
            from_batch=np.zeros(k, bool),
        )


@dataclass
class _FraudSims:
    """The fraud operations' SIMs (entities ``0 .. count-1``), as the dealer batches see them."""

    count: int
    #: Which of them came out of a dealer batch.
    from_batch: np.ndarray
    #: Their home regions; a batch SIM's is moved away from its shop.
    region: np.ndarray
    #: Their first day with traffic.
    alive_from: np.ndarray

    @classmethod
    def of(cls, home: _Block) -> _FraudSims:
        """The fraud SIMs added to ``home`` so far. Every world has spam SIMs that came out of a
        dealer batch (labelled twice), however small."""
        from_batch = home.column("from_batch")
        persona = home.column("persona")
        for p in (Persona.VOICE_SPAM_BULK, Persona.SMS_SPAM_BULK):
            of_p = np.flatnonzero(persona == p)
            if of_p.size and not from_batch[of_p].any():
                from_batch[of_p[0]] = True
        return cls(persona.size, from_batch, home.column("region"), home.column("alive_from").astype(np.int64))


@dataclass
class _DealerBatches:
    """Pre-activated batches: runs of SIMs a fraudulent dealer activated at once. A batch's slots
    hold fresh SIMs (dormant, or bought and used) and some of the fraud SIMs."""

    #: Slots per batch, in order.
    sizes: list[int]
    #: The entity in each slot.
    slot_entity: np.ndarray
    slot_activation: np.ndarray
    slot_dealer: np.ndarray
    slot_identity: np.ndarray
    #: Fresh SIMs added (entities after the fraud SIMs).
    n_fresh: int


def _add_preactivated_batches(d: _Draft, fraud: _FraudSims) -> _DealerBatches:
    """Pre-activated SIM batches (domain.md: "SIM kích hoạt sẵn"): each activated by a fraudulent
    dealer within minutes on a few borrowed IDs. Most of their SIMs stay dormant, a quarter are
    bought and used far from the shop, and the fraud SIMs from a batch sit among them."""
    t, rng = d.t, d.rng
    n_preact = _scaled(d.n_home, 0.012, 20)
    spam_slots = np.flatnonzero(fraud.from_batch)
    batch_sizes = _batch_sizes(n_preact + spam_slots.size, t.dealer_batch_size, rng)
    n_slots = sum(batch_sizes)
    slot_entity = np.full(n_slots, -1, np.int64)  # which fraud SIM sits in a slot, -1 = a new SIM
    slot_entity[rng.choice(n_slots, spam_slots.size, replace=False)] = spam_slots
    fresh = slot_entity < 0
    n_fresh = int(fresh.sum())
    used = rng.random(n_fresh) < 0.25
    fresh_alive_from = np.where(used, rng.integers(min(1, d.days - 1), d.days, n_fresh), d.days)

    slot_activation = np.zeros(n_slots, np.int64)
    slot_dealer = np.zeros(n_slots, np.int32)
    slot_identity = np.zeros(n_slots, np.int32)
    pos = 0
    for size in batch_sizes:
        dealer = int(rng.choice(d.fraud_dealers))
        span = rng.uniform(*t.dealer_span_s)
        start = -int(rng.uniform(3, 60) * SECONDS_PER_DAY) - int(span)
        slot_activation[pos : pos + size] = start + np.sort(rng.uniform(0, span, size)).astype(np.int64)
        slot_dealer[pos : pos + size] = dealer
        per_id = max(1, round(rng.uniform(*t.dealer_sims_per_id)))
        ids = d.new_identities(math.ceil(size / per_id))
        slot_identity[pos : pos + size] = ids[np.arange(size) // per_id]
        pos += size
    fresh_region_dealer = d.dealer_region[slot_dealer[fresh]]
    # The spam SIMs among the slots are activated before they start calling.
    taken = ~fresh
    slot_activation[taken] = np.minimum(
        slot_activation[taken], fraud.alive_from[slot_entity[taken]] * SECONDS_PER_DAY - 3600
    )
    fraud.region[slot_entity[taken]] = d.away_from(d.dealer_region[slot_dealer[taken]])

    fresh_region = np.where(used, d.away_from(fresh_region_dealer), fresh_region_dealer)
    d.home.add(
        persona=np.where(used, Persona.PREACTIVATED_USED, Persona.PREACTIVATED_DORMANT),
        group=np.full(n_fresh, -1),
        alive_from=fresh_alive_from,
        alive_to=np.full(n_fresh, d.days),
        device=d.devices.new(n_fresh),
        region=fresh_region,
        cell_local=rng.integers(0, d.cells.per_region, n_fresh),
        cell_spread=rng.integers(1, 6, n_fresh),
        volume=np.zeros(n_fresh),
        answer_p=rng.uniform(0.7, 0.92, n_fresh),
        dur_median=rng.uniform(50, 150, n_fresh),
        sequential=np.zeros(n_fresh, bool),
        from_batch=np.ones(n_fresh, bool),
    )
    # Entity index of each slot, now that the fresh SIMs have entity indices too.
    slot_entity[fresh] = fraud.count + np.arange(n_fresh)
    return _DealerBatches(batch_sizes, slot_entity, slot_activation, slot_dealer, slot_identity, n_fresh)


def _add_enterprise_batches(d: _Draft) -> list[np.ndarray]:
    """The honest look-alike of a dealer batch: a company's postpaid SIMs, activated together on
    one business registration with consecutive numbers, and used by its employees. Returns each
    company's entity indices."""
    rng = d.rng
    companies: list[np.ndarray] = []
    for company in d.new_groups(max(1, round(d.n_home / 5000))):
        k = int(rng.integers(max(5, round(20 * d.scale)), max(6, round(60 * d.scale)) + 1))
        companies.append(d.added + np.arange(k))
        d.home.add(
            persona=np.full(k, Persona.ENTERPRISE_EMPLOYEE),
            group=np.full(k, company),
            alive_from=np.zeros(k),
            alive_to=np.full(k, d.days),
            device=d.devices.new(k),
            region=np.full(k, rng.integers(0, d.n_regions)),
            cell_local=rng.integers(0, d.cells.per_region, k),
            cell_spread=rng.integers(1, 6, k),
            volume=np.zeros(k),
            answer_p=rng.uniform(0.75, 0.95, k),
            dur_median=rng.uniform(50, 150, k),
            sequential=np.zeros(k, bool),
            from_batch=np.zeros(k, bool),
        )
    return companies


def _add_people(d: _Draft) -> None:
    """Everyone else, who bought a SIM on their own and is scattered over the home ranges: the busy
    honest look-alikes (call centres, delivery drivers, salespeople, taxi dispatchers, new
    subscribers), families sharing one ID, and the ordinary population, at least half the world.
    They are drawn together, one column at a time, so that their order in the draws is fixed."""
    rng, n_home = d.rng, d.n_home
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
    n_ordinary = n_home - d.added - n_single_fixed
    if n_ordinary < n_home // 2:
        raise ValueError(f"{n_home} subscribers is too few for every persona; use at least 100")
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
    family_group[fam_lo : fam_lo + family_sizes.sum()] = np.repeat(d.new_groups(n_families), family_sizes)
    is_worker = np.isin(persona_single, MOBILE_WORKERS)
    is_cc = persona_single == Persona.CALL_CENTRE
    d.home.add(
        persona=persona_single,
        group=family_group,
        # New subscribers get their first day from the registry (_draw_registry).
        alive_from=np.zeros(k),
        alive_to=np.full(k, d.days),
        device=d.devices.new(k),
        region=np.zeros(k, np.int32),
        cell_local=rng.integers(0, d.cells.per_region, k),
        cell_spread=np.where(is_worker, rng.integers(12, 31, k), np.where(is_cc, 1, rng.integers(1, 6, k))),
        volume=np.zeros(k),
        answer_p=rng.uniform(0.7, 0.92, k),
        dur_median=np.where(
            is_worker, rng.uniform(20, 45, k), np.where(is_cc, rng.uniform(120, 240, k), rng.uniform(50, 150, k))
        ),
        sequential=np.zeros(k, bool),
        from_batch=np.zeros(k, bool),
    )


@dataclass
class _HomeSims:
    """Columns of every home SIM once all are added, aligned with entity indices; the registry,
    numbers and behaviour are drawn on these."""

    persona: np.ndarray
    group: np.ndarray
    preactivated: np.ndarray
    region: np.ndarray
    alive_from: np.ndarray
    alive_to: np.ndarray
    device: np.ndarray
    #: First entity of the people of :func:`_add_people` (after the fraud, batches and companies).
    people_start: int

    @classmethod
    def of(cls, home: _Block, fraud: _FraudSims, batches: _DealerBatches, people_start: int) -> _HomeSims:
        """The columns of ``home``; the fraud SIMs take the batch flags and regions the dealer
        batches gave them."""
        preactivated = home.column("from_batch").astype(bool)
        preactivated[: fraud.count] = fraud.from_batch
        preactivated[fraud.count + batches.n_fresh :] = False
        region = home.column("region").astype(np.int32)
        region[: fraud.count] = fraud.region
        return cls(
            persona=home.column("persona").astype(np.int8),
            group=home.column("group").astype(np.int32),
            preactivated=preactivated,
            region=region,
            alive_from=home.column("alive_from").astype(np.int16),
            alive_to=home.column("alive_to").astype(np.int16),
            device=home.column("device").astype(np.int32),
            people_start=people_start,
        )


def _draw_registry(d: _Draft, sims: _HomeSims, fraud: _FraudSims, batches: _DealerBatches,
                   companies: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Activation time, dealer, identity and subscription type of every home SIM. People live
    near the shop that sold them their SIM, and a new subscriber's first day follows its
    activation: both are set in ``sims`` here."""
    rng, n_home, days = d.rng, d.n_home, d.days
    persona, group, region, alive_from = sims.persona, sims.group, sims.region, sims.alive_from
    activation = np.zeros(n_home, np.int64)
    dealer = np.zeros(n_home, np.int32)
    identity = np.zeros(n_home, np.int32)
    sub_type = np.zeros(n_home, np.int8)
    activation[batches.slot_entity] = batches.slot_activation
    dealer[batches.slot_entity] = batches.slot_dealer
    identity[batches.slot_entity] = batches.slot_identity
    # Fraud SIMs not from a batch: bought singly a little before use, on their own (fake) ID.
    loose = np.flatnonzero(~fraud.from_batch)
    dealer[loose] = rng.integers(0, d.n_dealers, loose.size)
    identity[loose] = d.new_identities(loose.size)
    activation[loose] = (alive_from[loose].astype(np.int64) - rng.uniform(1, 120, loose.size)) * SECONDS_PER_DAY
    for members in companies:
        burst = -int(rng.uniform(30, 700) * SECONDS_PER_DAY)
        activation[members] = burst + np.sort(rng.uniform(0, 2700, members.size)).astype(np.int64)
        dealer[members] = rng.integers(0, d.n_dealers)
        identity[members] = d.new_identities(1)[0]
        sub_type[members] = ENTERPRISE
    singles = np.arange(sims.people_start, n_home)
    dealer[singles] = rng.integers(0, d.n_dealers, singles.size)
    # People live near the shop that sold them their SIM.
    near = rng.random(singles.size) < 0.85
    region[singles] = np.where(near, d.dealer_region[dealer[singles]], rng.integers(0, d.n_regions, singles.size))
    age_days = np.minimum(3650, 1 + rng.exponential(600, singles.size))
    new_single = persona[singles] == Persona.NEW_SUBSCRIBER
    age_days = np.where(new_single, -rng.uniform(-3, max(days - 1, 0.5), singles.size), age_days)
    shop_hour = rng.uniform(8, 21, singles.size) * 3600
    activation[singles] = (-np.floor(age_days) * SECONDS_PER_DAY + shop_hour).astype(np.int64)
    act_day = np.floor_divide(activation[singles], SECONDS_PER_DAY)
    # A new SIM starts being used the day after it is sold.
    alive_from[singles] = np.where(new_single, np.clip(act_day + 1, 0, days), 0)
    fam = group[singles] >= 0
    identity[singles] = d.new_identities(singles.size)
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
    return activation, dealer, identity, sub_type


def _draw_numbers(d: _Draft, sims: _HomeSims, fraud: _FraudSims, batches: _DealerBatches,
                  companies: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The home SIMs' numbers: dealer batches and companies get runs of (nearly) consecutive
    numbers in one prefix; everyone else is scattered over blocks of the other prefixes. Returns
    the numbers, the first number of each scattered block (where sweeps start) and the runs."""
    rng, t, n_home = d.rng, d.t, d.n_home
    numbers_home = np.zeros(n_home, np.int64)
    run_prefix = int(rng.choice(HOME_PREFIXES))
    scatter_prefixes = np.array([p for p in HOME_PREFIXES if p != run_prefix], np.int64)
    scatter = np.concatenate([np.arange(fraud.count), np.arange(sims.people_start, n_home)])
    scatter = np.setdiff1d(scatter, batches.slot_entity)
    n_blocks = max(3, math.ceil(scatter.size / 3000))
    block_ids = rng.choice(scatter_prefixes.size * 1000, n_blocks, replace=False)
    block_national = scatter_prefixes[block_ids // 1000] * 10**7 + (block_ids % 1000) * BLOCK
    slot = rng.choice(n_blocks * BLOCK, scatter.size, replace=False)
    numbers_home[scatter] = VN + block_national[slot // BLOCK] + slot % BLOCK
    cursor = run_prefix * 10**7 + int(rng.integers(0, 10**6))
    runs: list[tuple[np.ndarray, float]] = []
    pos = 0
    for size in batches.sizes:
        runs.append((batches.slot_entity[pos : pos + size], t.dealer_consecutive_p))
        pos += size
    runs += [(members, 1.0) for members in companies]
    run_order = rng.permutation(len(runs))
    for r in run_order:
        members, consecutive_p = runs[r]
        steps = np.where(rng.random(members.size) < consecutive_p, 1, rng.integers(2, 400, members.size))
        steps[0] = rng.integers(50, 5000)
        national = cursor + np.cumsum(steps)
        numbers_home[members] = VN + national
        cursor = int(national[-1])
    return numbers_home, VN + block_national, [members for members, _ in runs]


@dataclass
class _Behaviour:
    """The stable parameters of each home SIM's behaviour (:class:`Population` says what each is)."""

    cell_local: np.ndarray
    cell_spread: np.ndarray
    volume: np.ndarray
    answer_p: np.ndarray
    dur_median: np.ndarray
    sequential: np.ndarray
    degree0: np.ndarray
    tie_weight: np.ndarray
    voice_rate: np.ndarray
    sms_rate: np.ndarray
    skip_p: np.ndarray
    device2: np.ndarray
    change_day: np.ndarray


def _draw_behaviour(d: _Draft, persona: np.ndarray) -> _Behaviour:
    """How much each home SIM calls and texts, how many contacts it keeps, how often it is silent,
    and who changes handsets during the window; the fraud operations' cover traffic too."""
    rng, t, n_home, home = d.rng, d.t, d.n_home, d.home
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
    change_day = np.full(n_home, d.days, np.int16)
    changer = np.flatnonzero(social & (rng.random(n_home) < 0.015))
    device2[changer] = d.devices.new(changer.size)
    change_day[changer] = rng.integers(0, d.days, changer.size)
    return _Behaviour(cell_local, cell_spread, volume, answer_p, dur_median, sequential, degree0, tie_weight,
                      voice_rate, sms_rate, skip_p, device2, change_day)


def _draw_outside_numbers(d: _Draft, degree0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Off-net Vietnamese numbers (about as many as the home subscribers' ties to other networks
    need) and international numbers, each distinct."""
    rng = d.rng
    expected_offnet_ties = float(degree0.sum()) * 0.14
    n_off = max(50, round(expected_offnet_ties / 1.8))
    offnet_prefix = np.asarray(OFFNET_PREFIXES, np.int64)[rng.integers(0, len(OFFNET_PREFIXES), n_off * 2)]
    offnet = np.unique(VN + offnet_prefix * 10**7 + rng.integers(0, 10**7, n_off * 2))
    offnet = rng.permutation(offnet)[:n_off]
    n_intl = max(20, round(0.02 * d.n_home))
    country = rng.integers(0, len(COUNTRIES), n_intl)
    intl = np.empty(n_intl, np.int64)
    for c, (cc, digits, lead) in enumerate(COUNTRIES):
        m = country == c
        lead_digits = len(str(lead))
        rest = rng.integers(0, 10 ** (digits - lead_digits), int(m.sum()))
        intl[m] = (cc * 10**digits) + lead * 10 ** (digits - lead_digits) + rest
    return offnet, np.unique(intl)


#: Spam SIMs that work through a target list (the others draw fresh targets every day).
LIST_PERSONAS = (Persona.VOICE_SPAM_BULK, Persona.VOICE_SPAM_LOWSLOW, Persona.SMS_SPAM_BULK)


def _draw_target_lists(
    rng: np.random.Generator, persona: np.ndarray, group: np.ndarray, sequential: np.ndarray, pool_size: int,
    sweep_size: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The target list of every spam SIM that keeps one, and where each list starts.

    A rig's SIMs share one list, so a SIM that replaces a blocked one goes on where it stopped
    (domain.md: target lists swept in number order or drawn from leaked lists); every other such
    SIM has a list of its own, which it works through day after day instead of starting afresh.
    """
    spam = np.flatnonzero(np.isin(persona, LIST_PERSONAS))
    key = np.where(group[spam] >= 0, group[spam], -1 - spam)  # a lone SIM is its own operation
    _, first, list_of = np.unique(key, return_index=True, return_inverse=True)
    target_list = np.full(persona.size, -1, np.int32)
    target_list[spam] = list_of
    span = np.where(sequential[spam[first]], sweep_size, pool_size)
    return target_list, (rng.random(first.size) * span).astype(np.int64)


#: Share of ordinary subscribers who leave the carrier in a month (about as many as join: the new
#: subscribers of :func:`_add_people`).
LEAVERS_PER_MONTH = 0.015


def _draw_leavers(rng: np.random.Generator, persona: np.ndarray, alive_to: np.ndarray, days: int) -> np.ndarray:
    """``alive_to`` with the ordinary subscribers who leave during the window cut short: each has
    a last day with traffic before the window's last day, and nothing after it."""
    ordinary = np.flatnonzero(persona == Persona.ORDINARY)
    leaves = ordinary[rng.random(ordinary.size) < LEAVERS_PER_MONTH * days / 30]
    alive_to = alive_to.copy()
    if days > 1:
        alive_to[leaves] = rng.integers(1, days, leaves.size)
    return alive_to


def _batch_of(n_home: int, batches: _DealerBatches) -> np.ndarray:
    """The dealer batch of every home SIM (-1 for a SIM not from one), batches in slot order."""
    batch = np.full(n_home, -1, np.int32)
    batch[batches.slot_entity] = np.repeat(np.arange(len(batches.sizes), dtype=np.int32), batches.sizes)
    return batch


def build_population(n_home: int, days: int, evasion: float, rng: np.random.Generator) -> Population:
    """Draw the whole population of a world with ``n_home`` home subscribers.

    Every persona is present even in small worlds (minimum counts scale down only below 1,000
    subscribers); fraud positives are a few percent of home subscribers. The home SIMs are the
    fraud operations', the pre-activated batches', the companies' and then everyone else's, in
    that order of entity index; then come the off-net and international numbers.
    """
    d = _Draft.start(n_home, days, tactics(evasion), rng)
    _add_fraud_operations(d)
    fraud = _FraudSims.of(d.home)
    batches = _add_preactivated_batches(d, fraud)
    companies = _add_enterprise_batches(d)
    people_start = d.added
    _add_people(d)
    sims = _HomeSims.of(d.home, fraud, batches, people_start)
    activation, dealer, identity, sub_type = _draw_registry(d, sims, fraud, batches, companies)
    numbers_home, sweep_starts, runs = _draw_numbers(d, sims, fraud, batches, companies)
    # ICCIDs follow the numbers within a batch (cards come off one roll); IMSIs are random.
    iccid = rng.choice(10**12, n_home, replace=False).astype(np.int64) + 10**12
    for members in runs:
        iccid[members] = iccid[members[0]] + np.arange(members.size)
    imsi = rng.choice(10**10, n_home, replace=False).astype(np.int64)
    activation_cell = d.cells.cell(d.dealer_region[dealer], d.dealer_cell[dealer])
    b = _draw_behaviour(d, sims.persona)
    offnet, intl = _draw_outside_numbers(d, b.degree0)
    n_off, n_intl = offnet.size, intl.size
    n_ext = n_off + n_intl

    def ext(home_values: np.ndarray, value: float) -> np.ndarray:
        return np.concatenate([home_values, np.full(n_ext, value, dtype=home_values.dtype)])

    persona_all = np.concatenate(
        [sims.persona, np.full(n_off, Persona.OFFNET, np.int8), np.full(n_intl, Persona.INTERNATIONAL, np.int8)]
    )
    ext_voice = np.concatenate([rng.uniform(0.2, 0.5, n_off), rng.uniform(0.1, 0.3, n_intl)])
    ext_sms = np.concatenate([rng.uniform(0.05, 0.25, n_off), np.zeros(n_intl)])
    pool = np.flatnonzero(
        np.isin(persona_all, (Persona.ORDINARY, Persona.FAMILY, Persona.ENTERPRISE_EMPLOYEE, Persona.OFFNET))
    )
    ext_answer = rng.uniform(0.7, 0.9, n_ext)
    ext_dur = rng.uniform(60, 180, n_ext)
    imei_values = d.devices.imeis(rng)
    identity_hash = rng.integers(0, np.iinfo(np.uint64).max, d.identities, dtype=np.uint64, endpoint=True)
    target_pool = rng.permutation(pool).astype(np.int32)  # shuffled: a stretch is a random set
    sequential_all = ext(b.sequential, False)
    # Drawn after everything else, so that what was drawn before stays as it was.
    target_list, list_start = _draw_target_lists(
        rng, persona_all, ext(sims.group, -1), sequential_all, target_pool.size, sweep_starts.size * BLOCK
    )
    alive_to = _draw_leavers(rng, persona_all, ext(sims.alive_to, days), days)
    numbers = np.concatenate([numbers_home, offnet, intl])

    return Population(
        n_home=n_home,
        days=days,
        tactics=d.t,
        cells=d.cells,
        numbers=numbers,
        persona=persona_all,
        group=ext(sims.group, -1),
        batch=ext(_batch_of(n_home, batches), -1),
        preactivated=ext(sims.preactivated, False),
        alive_from=ext(sims.alive_from, 0),
        alive_to=alive_to,
        skip_p=ext(b.skip_p, 0.1),
        region=ext(sims.region, -1),
        cell_local=ext(b.cell_local, 0),
        cell_spread=ext(b.cell_spread, 1),
        device=ext(sims.device, -1),
        device2=ext(b.device2, -1),
        device_change_day=ext(b.change_day, days),
        degree0=ext(b.degree0, 0),
        tie_weight=ext(b.tie_weight, 1.0),
        voice_rate=np.concatenate([b.voice_rate, ext_voice]),
        sms_rate=np.concatenate([b.sms_rate, ext_sms]),
        volume=ext(b.volume, 0.0),
        answer_p=np.concatenate([b.answer_p, ext_answer]),
        dur_median=np.concatenate([b.dur_median, ext_dur]),
        sequential=sequential_all,
        imei_values=imei_values,
        registry=Registry(
            activation_s=activation,
            dealer=dealer,
            identity=identity,
            sub_type=sub_type,
            iccid=iccid,
            imsi=imsi,
            activation_cell=activation_cell,
            identity_hash=identity_hash,
        ),
        sweep_starts=sweep_starts,
        target_pool=target_pool,
        rates_per_contact=np.concatenate([np.zeros(n_home, bool), np.ones(n_ext, bool)]),
        target_list=target_list,
        list_start=list_start,
        by_number=np.argsort(numbers),
    )
