"""One day of traffic: the events every persona produces (domain.md, persona by persona).

Each generator handles one persona group for one day with whole-array NumPy operations (no loop
per event). Events are kept as int64 numbers and integer seconds since the window's first
midnight; :mod:`detector.simulate.noise` and :mod:`detector.simulate.writer` turn them into text.
Responses (call-backs, SMS replies, victims ringing a wangiri number back) are generated together
with the event that causes them, so they carry the responder's own cell and handset.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from detector.simulate.personas import MOBILE_WORKERS, Persona, lerp
from detector.simulate.population import BLOCK, SECONDS_PER_DAY, Population
from detector.simulate.social import ContactGraph


def _profile(weights: list[float]) -> np.ndarray:
    p = np.asarray(weights, np.float64)
    return p / p.sum()


#: Share of a persona's events starting in each local hour 0-23.
ORDINARY_HOURS = _profile(
    [0.3, 0.15, 0.1, 0.1, 0.15, 0.5, 1.5, 3, 5, 6, 6, 5.5, 4.5, 4.5, 5, 5, 5.5, 6.5, 7, 7, 6.5, 5, 3, 1.2]
)
OFFICE_HOURS = _profile([0, 0, 0, 0, 0, 0, 0, 0.2, 3, 6, 6, 5, 2, 4, 6, 6, 5, 3, 0.8, 0.2, 0, 0, 0, 0])
WORK_HOURS = _profile([0, 0, 0, 0, 0, 0, 0.3, 2, 5, 6, 6, 5, 4, 5, 6, 6, 5, 5, 4, 3, 1.5, 0.6, 0.1, 0])
CALL_CENTRE_HOURS = _profile([0, 0, 0, 0, 0, 0, 0, 1, 5, 7, 7, 6, 4, 6, 7, 7, 6, 5, 4, 3, 2, 0.5, 0, 0])
ROUND_THE_CLOCK = _profile([3, 3, 2.5, 2.5, 3, 3.5, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4.5, 5, 5, 4.5, 4, 3.5])
BURST_HOURS = _profile([0, 0, 0, 0, 0, 0, 0, 1, 3, 4, 4, 3, 2, 3, 4, 4, 3, 3, 3, 3, 2, 1, 0, 0])

MAX_TALK_S = 7200


@dataclass
class Events:
    """A set of CDR events as parallel arrays (``-1`` = unknown cell or handset)."""

    caller: np.ndarray  # int64 number
    callee: np.ndarray  # int64 number
    t: np.ndarray  # int64 seconds since the window's first midnight
    duration: np.ndarray  # int64 seconds
    sms: np.ndarray  # bool
    answered: np.ndarray  # bool
    cell: np.ndarray  # int64 global cell index
    device: np.ndarray  # int64 device index

    def __len__(self) -> int:
        return self.t.size

    def take(self, idx: np.ndarray) -> Events:
        """The events at ``idx`` (an index array or boolean mask)."""
        return Events(*(getattr(self, f.name)[idx] for f in fields(self)))

    @staticmethod
    def concat(parts: list[Events]) -> Events:
        """All events of ``parts``, in order."""
        return Events(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Events)))

    @staticmethod
    def empty() -> Events:
        """No events."""
        i = np.zeros(0, np.int64)
        b = np.zeros(0, bool)
        return Events(i, i, i, i, b, b, i, i)


@dataclass
class TargetLists:
    """How far each target list of :attr:`Population.target_list` has been worked through.

    It is the one thing carried from day to day: a rig's SIM that replaces a blocked one, and
    every spam SIM on its next day, goes on where the list was left.
    """

    reached: np.ndarray  # int64 per list: steps taken so far (targets of a leaked list, numbers of a sweep)

    @classmethod
    def start(cls, pop: Population) -> TargetLists:
        """Every list of ``pop`` at its start."""
        return cls(np.zeros(pop.list_start.size, np.int64))

    def advance(self, lists: np.ndarray, steps: np.ndarray) -> np.ndarray:
        """The position along its list of each target (``lists[i]`` moved on by ``steps[i]``),
        targets of one list taken in the order given; the lists are left after the last one."""
        order = np.argsort(lists, kind="stable")
        _, sizes = np.unique(lists[order], return_counts=True)
        moved = np.empty_like(steps)
        moved[order] = _within_group_cumsum(steps[order], sizes)
        position = self.reached[lists] + moved
        self.reached += np.bincount(lists, weights=steps, minlength=self.reached.size).astype(np.int64)
        return position


@dataclass(frozen=True)
class Day:
    """What every generator needs about the day being generated."""

    pop: Population
    graph: ContactGraph
    day: int
    weekday: int  # 0 = Monday
    rng: np.random.Generator
    alive: np.ndarray  # bool per entity
    lists: TargetLists  # moved on by the spam generators as they place today's targets

    @property
    def base(self) -> int:
        return self.day * SECONDS_PER_DAY

    def times(self, n: int, profile: np.ndarray) -> np.ndarray:
        """``n`` start times on this day following an hourly ``profile``."""
        hour = self.rng.choice(24, n, p=profile)
        return self.base + hour * 3600 + self.rng.integers(0, 3600, n)

    def talk(self, median: np.ndarray | float, sigma: float, n: int) -> np.ndarray:
        """``n`` lognormal conversation lengths (seconds, at least 1) around ``median``."""
        d = self.rng.lognormal(np.log(median), sigma, n)
        return np.clip(np.rint(d), 1, MAX_TALK_S).astype(np.int64)

    def daily_count(self, ent: np.ndarray, jitter: float = 0.2) -> np.ndarray:
        """Today's volume of each entity's own activity: its usual volume, give or take ``jitter``."""
        v = self.pop.volume[ent] * self.rng.uniform(1 - jitter, 1 + jitter, ent.size)
        return np.rint(v).astype(np.int64)

    def targets(self, counts: np.ndarray) -> np.ndarray:
        """``counts[i]`` entities for owner ``i``, from the people who answer phones (leaked lists,
        customers), owner after owner.

        Each owner reads a stretch of the (shuffled) pool, so its targets are distinct whenever it
        needs fewer than the pool holds: spammers and SIM-boxes rarely hit a number twice a day.
        """
        pool = self.pop.target_pool
        start = self.rng.integers(0, pool.size, counts.size)
        index = np.repeat(start, counts) + _within_group_cumsum(np.ones(int(counts.sum()), np.int64), counts) - 1
        return self.in_pool(index)

    def in_pool(self, index: np.ndarray) -> np.ndarray:
        """The entity at each ``index`` of the target pool (wrapping round); where a subscriber has
        left the carrier, one in service half the pool away (not a neighbour, which the same owner
        may well pick next)."""
        pool = self.pop.target_pool
        index = np.mod(index, pool.size)
        entity = pool[index].astype(np.int64)
        gone = ~self.alive[entity]
        if gone.any():
            serving = np.flatnonzero(self.alive[pool])
            far = np.mod(index[gone] + pool.size // 2, pool.size)
            entity[gone] = pool[serving[np.searchsorted(serving, far) % serving.size]]
        return entity

    def emit(
        self,
        caller: np.ndarray,
        callee_number: np.ndarray,
        t: np.ndarray,
        duration: np.ndarray,
        *,
        sms: bool,
        answered: np.ndarray | None = None,
        fixed: bool = False,
    ) -> Events:
        """Events originated by the entities ``caller``; cell and handset come from the caller.

        ``fixed`` marks equipment that does not roam (spam rigs, SIM-boxes): its cells are drawn
        uniformly from its few cells instead of being biased toward home.
        """
        n = caller.size
        if answered is None:
            answered = duration > 0
        return Events(
            caller=self.pop.numbers[caller],
            callee=callee_number.astype(np.int64),
            t=t.astype(np.int64),
            duration=duration.astype(np.int64),
            sms=np.full(n, sms),
            answered=answered.astype(bool),
            cell=self.pop.cells_for(caller, self.rng, home_biased=not fixed),
            device=self.pop.imei_for(caller, self.day).astype(np.int64),
        )

    def calls(
        self,
        caller: np.ndarray,
        callee: np.ndarray,
        t: np.ndarray,
        answer_p: np.ndarray,
        median: np.ndarray,
        sigma: float,
        *,
        fixed: bool = False,
    ) -> Events:
        """Voice calls between entities: answered with ``answer_p``, lognormal talk time if so."""
        answered = self.rng.random(caller.size) < answer_p
        duration = np.where(answered, self.talk(median, sigma, caller.size), 0)
        return self.emit(caller, self.pop.numbers[callee], t, duration, sms=False, fixed=fixed)

    def texts(self, caller: np.ndarray, callee: np.ndarray, t: np.ndarray, *, fixed: bool = False) -> Events:
        """SMS between entities."""
        return self.emit(caller, self.pop.numbers[callee], t, np.zeros(caller.size, np.int64), sms=True, fixed=fixed)


def _of(day: Day, *personas: Persona) -> np.ndarray:
    """Entities of ``personas`` alive today."""
    return np.flatnonzero(np.isin(day.pop.persona, personas) & day.alive)


def _within_group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Cumulative sums restarting at each group of ``counts`` consecutive elements."""
    prefix = np.concatenate([np.zeros(1, values.dtype), np.cumsum(values)])
    starts = np.cumsum(counts) - counts  # empty groups are fine: they repeat nothing
    return prefix[1:] - np.repeat(prefix[starts], counts)


def _in_time_order(owners: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort events by (owner, time) so that per-owner sequences (sweeps, gaps) follow the clock."""
    order = np.lexsort((t, owners))
    return owners[order], t[order]


def _respond(
    day: Day,
    responder: np.ndarray,
    original_caller: np.ndarray,
    t: np.ndarray,
    delay: tuple[float, float],
    *,
    sms: bool,
    answer_p: float = 0.85,
    median: float | np.ndarray = 60.0,
) -> Events:
    """Responses from ``responder`` entities back to ``original_caller`` entities after ``delay`` s."""
    rng = day.rng
    when = t + rng.uniform(*delay, t.size).astype(np.int64)
    if sms:
        return day.texts(responder, original_caller, when)
    return day.calls(responder, original_caller, when, answer_p, median, 0.9)


# --- honest people --------------------------------------------------------------------------------


def social_traffic(day: Day) -> Events:
    """Ordinary calls and SMS along the contact graph, with call-backs of missed calls and replies.

    Covers ordinary people, families, colleagues, new subscribers, the personal life of workers,
    off-net and international callers, and the cover traffic of careful fraudsters.
    """
    pop, graph, rng = day.pop, day.graph, day.rng
    degree = graph.degree()
    scale = np.where(pop.rates_per_contact, degree, 1.0)
    active = np.flatnonzero((degree > 0) & day.alive & (rng.random(degree.size) >= pop.skip_p))
    parts = []
    for is_sms, rate in ((False, pop.voice_rate), (True, pop.sms_rate)):
        owners = np.repeat(active, rng.poisson(rate[active] * scale[active]))
        callee = graph.pick(owners, rng)
        ok = day.alive[callee]  # a dead or dormant SIM receives nothing
        owners, callee = owners[ok], callee[ok]
        t = day.times(owners.size, ORDINARY_HOURS)
        if is_sms:
            parts.append(day.texts(owners, callee, t))
            reply = rng.random(owners.size) < 0.55
            parts.append(_respond(day, callee[reply], owners[reply], t[reply], (5, 900), sms=True))
        else:
            ev = day.calls(owners, callee, t, pop.answer_p[callee], pop.dur_median[owners], 1.0)
            parts.append(ev)
            back = ~ev.answered & (rng.random(owners.size) < 0.45)
            parts.append(
                _respond(
                    day, callee[back], owners[back], t[back], (60, 3600), sms=False, median=pop.dur_median[callee[back]]
                )
            )
    return Events.concat(parts)


def mobile_worker_traffic(day: Day) -> Events:
    """Delivery drivers, salespeople and taxi dispatch: many distinct customers, short calls,
    high answer rate, customers calling back and replying, many cells."""
    pop, rng = day.pop, day.rng
    workers = _of(day, *MOBILE_WORKERS)
    workers = workers[rng.random(workers.size) >= pop.skip_p[workers]]
    if day.weekday == 6:
        workers = workers[rng.random(workers.size) < 0.5]
    counts = day.daily_count(workers)
    owners = np.repeat(workers, counts)
    customers = day.targets(counts)
    t = day.times(owners.size, WORK_HOURS)
    ev = day.calls(owners, customers, t, pop.answer_p[owners], pop.dur_median[owners], 0.8)
    taxi = pop.persona[owners] == Persona.TAXI_DISPATCH
    back_p = np.where(ev.answered, np.where(taxi, 0.5, 0.25), 0.6)
    back = rng.random(owners.size) < back_p
    texted = rng.random(owners.size) < 0.3
    replied = texted & (rng.random(owners.size) < 0.5)
    return Events.concat(
        [
            ev,
            _respond(day, customers[back], owners[back], t[back], (120, 3600), sms=False, answer_p=0.9, median=40.0),
            day.texts(owners[texted], customers[texted], t[texted] + 30),
            _respond(day, customers[replied], owners[replied], t[replied] + 30, (10, 1200), sms=True),
        ]
    )


def call_centre_traffic(day: Day) -> Events:
    """Registered call centres and hotlines: very high volume both ways, on the allowlist."""
    pop, rng = day.pop, day.rng
    centres = _of(day, Persona.CALL_CENTRE)
    factor = 0.4 if day.weekday == 6 else 1.0
    out_n = np.rint(day.daily_count(centres, 0.15) * factor).astype(np.int64)
    owners = np.repeat(centres, out_n)
    customers = day.targets(out_n)
    out = day.calls(
        owners,
        customers,
        day.times(owners.size, CALL_CENTRE_HOURS),
        pop.answer_p[owners],
        pop.dur_median[owners],
        0.8,
        fixed=True,
    )
    in_n = np.rint(out_n * rng.uniform(0.5, 0.9, centres.size)).astype(np.int64)
    hotline = np.repeat(centres, in_n)
    callers = day.targets(in_n)
    incoming = day.calls(callers, hotline, day.times(hotline.size, CALL_CENTRE_HOURS), 0.9, 180.0, 0.8)
    sms_n = rng.poisson(out_n * 0.2)
    sms_owner = np.repeat(centres, sms_n)
    notices = day.texts(sms_owner, day.targets(sms_n), day.times(sms_owner.size, CALL_CENTRE_HOURS), fixed=True)
    return Events.concat([out, incoming, notices])


# --- voice spam -----------------------------------------------------------------------------------


def _spam_targets(day: Day, sims: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Callee numbers of ``counts[i]`` calls or texts of each of ``sims``, taken from its target
    list where the list was left: swept in number order (steps of 1-10) for a sequential list,
    read off a leaked list otherwise. A number on the list that is out of service stays on it:
    :func:`_reachable` drops the call.

    The events must be grouped per SIM in the order of ``sims`` and time-ordered within a SIM.
    """
    pop, rng = day.pop, day.rng
    lists = np.repeat(pop.target_list[sims], counts)
    sweep = np.repeat(pop.sequential[sims], counts)
    # The draws of a fresh start per SIM, made (and unused) as before lists were kept, so that the
    # day's later draws and the other personas' traffic stay as they were.
    rng.integers(0, pop.target_pool.size, sims.size)
    steps = np.ones(lists.size, np.int64)
    if sweep.any():
        sweeping = int(pop.sequential[sims].sum())
        rng.integers(0, pop.sweep_starts.size, sweeping)
        rng.integers(0, BLOCK, sweeping)
        steps[sweep] = rng.integers(1, 11, int(sweep.sum()))
    position = pop.list_start[lists] + day.lists.advance(lists, steps)
    listed = pop.target_pool[np.mod(position - 1, pop.target_pool.size)]
    return np.where(sweep, pop.sweep_number(position), pop.numbers[listed])


def _reachable(day: Day, events: Events) -> Events:
    """Drop events a sweep addresses to a SIM-box SIM (the box rejects them) or to a home SIM not
    in service today (not yet sold, dormant, or gone): the network never connects them."""
    pop = day.pop
    callee = pop.entity_of(events.callee)
    home = callee < pop.n_home
    closed = home & (pop.persona[np.where(home, callee, 0)] == Persona.SIMBOX)
    out_of_service = home & ~day.alive[np.where(home, callee, 0)]
    return events.take(~(closed | out_of_service))


def bulk_voice_traffic(day: Day) -> Events:
    """Bulk voice spam SIMs: hundreds of short, mostly unanswered calls to strangers, office hours."""
    pop, rng, tac = day.pop, day.rng, day.pop.tactics
    sims = _of(day, Persona.VOICE_SPAM_BULK)
    counts = day.daily_count(sims)
    owners = np.repeat(sims, counts)
    owners, t = _in_time_order(owners, day.times(owners.size, lerp(OFFICE_HOURS, ORDINARY_HOURS, tac.spam_hours_mix)))
    callee = _spam_targets(day, sims, counts)
    answered = rng.random(owners.size) < pop.answer_p[owners]
    duration = np.where(answered, day.talk(pop.dur_median[owners], tac.bulk_dur_sigma, owners.size), 0)
    calls = _reachable(day, day.emit(owners, callee, t, duration, sms=False, fixed=True))
    stray_n = rng.poisson(0.2, sims.size)
    stray = np.repeat(sims, stray_n)
    texts = day.texts(stray, day.targets(stray_n), day.times(stray.size, OFFICE_HOURS), fixed=True)
    return Events.concat([calls, texts])


def lowslow_traffic(day: Day) -> Events:
    """Low-and-slow spammers: tens of calls a day to strangers, short calls, regular gaps."""
    pop, rng, tac = day.pop, day.rng, day.pop.tactics
    sims = _of(day, Persona.VOICE_SPAM_LOWSLOW)
    counts = np.maximum(day.daily_count(sims), 1)
    owners = np.repeat(sims, counts)
    mean_gap = np.repeat(11 * 3600 / counts, counts)
    cv = tac.lowslow_gap_jitter
    gaps = rng.gamma(1 / cv**2, mean_gap * cv**2)
    start = np.repeat(day.base + 8.5 * 3600 + rng.uniform(0, 3600, sims.size), counts)
    t = np.rint(start + _within_group_cumsum(gaps, counts)).astype(np.int64)
    callee = _spam_targets(day, sims, counts)
    answered = rng.random(owners.size) < pop.answer_p[owners]
    duration = np.where(answered, day.talk(pop.dur_median[owners], tac.bulk_dur_sigma, owners.size), 0)
    return _reachable(day, day.emit(owners, callee, t, duration, sms=False, fixed=True))


def wangiri_traffic(day: Day) -> Events:
    """One-ring callers: unanswered zero-length calls at all hours; some victims ring back."""
    pop, rng, tac = day.pop, day.rng, day.pop.tactics
    sims = _of(day, Persona.WANGIRI)
    counts = day.daily_count(sims)
    owners = np.repeat(sims, counts)
    victims = day.targets(counts)
    t = day.times(owners.size, lerp(ROUND_THE_CLOCK, ORDINARY_HOURS, tac.wangiri_hours_mix))
    rings = day.emit(
        owners,
        pop.numbers[victims],
        t,
        np.zeros(owners.size, np.int64),
        sms=False,
        answered=np.zeros(owners.size, bool),
        fixed=True,
    )
    back = rng.random(owners.size) < tac.wangiri_callback_p
    callbacks = _respond(
        day, victims[back], owners[back], t[back], (60, 6 * 3600), sms=False, answer_p=1.0, median=40.0
    )
    return Events.concat([rings, callbacks])


# --- SMS spam -------------------------------------------------------------------------------------


def _bursts(
    day: Day, counts: np.ndarray, burst_counts: np.ndarray, burst_starts: np.ndarray, spacing: np.ndarray
) -> np.ndarray:
    """Message times: each owner's ``counts`` messages split over its bursts, sent ``spacing`` s apart.

    ``burst_starts`` holds ``burst_counts[i]`` start times per owner, owner after owner.
    """
    rng = day.rng
    owner = np.repeat(np.arange(counts.size), counts)
    burst = (rng.random(owner.size) * burst_counts[owner]).astype(np.int64)
    order = np.lexsort((burst, owner))
    owner, burst = owner[order], burst[order]
    key = owner * 64 + burst
    first = np.searchsorted(key, key)  # key is sorted: first position of each (owner, burst)
    index_in_burst = np.arange(key.size) - first
    offset = np.concatenate([[0], np.cumsum(burst_counts)[:-1]])
    jitter = rng.uniform(0.7, 1.3, owner.size)
    return (burst_starts[offset[owner] + burst] + index_in_burst * spacing[owner] * jitter).astype(np.int64)


def sms_bulk_traffic(day: Day) -> Events:
    """Bulk SMS spammers: hundreds to thousands of SMS in bursts to distinct recipients."""
    pop, rng, tac = day.pop, day.rng, day.pop.tactics
    sims = _of(day, Persona.SMS_SPAM_BULK)
    counts = day.daily_count(sims)
    n_bursts = rng.integers(2, 9, sims.size)
    starts = day.times(int(n_bursts.sum()), BURST_HOURS)
    t = _bursts(day, counts, n_bursts, starts, rng.uniform(*tac.sms_bulk_spacing_s, sims.size))
    owners = np.repeat(sims, counts)
    owners, t = _in_time_order(owners, t)
    callee = _spam_targets(day, sims, counts)
    texts = _reachable(day, day.emit(owners, callee, t, np.zeros(owners.size, np.int64), sms=True, fixed=True))
    voice_n = rng.poisson(0.3, sims.size)
    voice_owner = np.repeat(sims, voice_n)
    voice = day.calls(
        voice_owner,
        day.targets(voice_n),
        day.times(voice_owner.size, OFFICE_HOURS),
        0.5,
        30.0,
        0.8,
        fixed=True,
    )
    return Events.concat([texts, voice])


def sms_spread_traffic(day: Day) -> Events:
    """One SMS campaign over many SIMs, each at a lower volume, sending in synchronised bursts."""
    pop, rng, tac = day.pop, day.rng, day.pop.tactics
    sims = _of(day, Persona.SMS_SPAM_SPREAD)
    campaigns, campaign_of = np.unique(pop.group[sims], return_inverse=True)
    per_campaign = rng.integers(2, 6, campaigns.size)
    campaign_starts = day.times(int(per_campaign.sum()), BURST_HOURS)
    c_offset = np.concatenate([[0], np.cumsum(per_campaign)[:-1]])
    n_bursts = per_campaign[campaign_of]
    sim_of_burst = np.repeat(np.arange(sims.size), n_bursts)
    j = np.arange(sim_of_burst.size) - np.repeat(np.cumsum(n_bursts) - n_bursts, n_bursts)
    # Every SIM of a campaign starts each burst within minutes of the others, less so when careful.
    lag = rng.uniform(0, lerp(300, 5400, tac.evasion), sim_of_burst.size)
    starts = campaign_starts[c_offset[campaign_of[sim_of_burst]] + j] + lag
    counts = day.daily_count(sims)
    t = _bursts(day, counts, n_bursts, starts, rng.uniform(5, 30, sims.size) * lerp(1, 4, tac.evasion))
    owners = np.repeat(sims, counts)
    return day.emit(owners, pop.numbers[day.targets(counts)], t, np.zeros(owners.size, np.int64), sms=True, fixed=True)


# --- SIM-box --------------------------------------------------------------------------------------


def simbox_traffic(day: Day) -> Events:
    """SIM-box SIMs: many normal-length calls to distinct local numbers around the clock; never
    receive, never text, never move."""
    pop, rng, tac = day.pop, day.rng, day.pop.tactics
    sims = _of(day, Persona.SIMBOX)
    counts = day.daily_count(sims, 0.15)
    owners = np.repeat(sims, counts)
    callee = day.targets(counts)
    # Careful farms re-use a recurring set of callees, which looks more like a social circle.
    recurring = rng.random(owners.size) < tac.simbox_repeat_p
    callee[recurring] = day.in_pool(owners[recurring] * 7919 + rng.integers(0, 12, int(recurring.sum())))
    t = day.times(owners.size, lerp(ROUND_THE_CLOCK, ORDINARY_HOURS, tac.simbox_hours_mix))
    return day.calls(owners, callee, t, pop.answer_p[owners], pop.dur_median[owners], 0.9, fixed=True)


GENERATORS = (
    social_traffic,
    mobile_worker_traffic,
    call_centre_traffic,
    bulk_voice_traffic,
    lowslow_traffic,
    wangiri_traffic,
    sms_bulk_traffic,
    sms_spread_traffic,
    simbox_traffic,
)


def day_events(day: Day) -> Events:
    """Every event generated for ``day`` (responses may spill past midnight)."""
    return Events.concat([generate(day) for generate in GENERATORS])
