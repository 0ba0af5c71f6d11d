"""Who lives in the synthetic carrier, which labels each kind carries, and how evasion changes fraud.

A persona is the ground truth of one number (domain.md): ordinary people, the honest look-alikes
and the fraud types. :class:`Tactics` holds every fraud parameter that the ``evasion`` knob moves;
each one is interpolated between a textbook value (``evasion=0``) and a careful one
(``evasion=1``), so intermediate worlds are genuinely intermediate rather than a mix of the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Persona(IntEnum):
    """Ground-truth persona of a number; the value is the code stored in the population arrays."""

    ORDINARY = 0
    FAMILY = 1
    NEW_SUBSCRIBER = 2
    ENTERPRISE_EMPLOYEE = 3
    DELIVERY_DRIVER = 4
    SALESPERSON = 5
    TAXI_DISPATCH = 6
    CALL_CENTRE = 7
    VOICE_SPAM_BULK = 8
    VOICE_SPAM_LOWSLOW = 9
    WANGIRI = 10
    SMS_SPAM_BULK = 11
    SMS_SPAM_SPREAD = 12
    SIMBOX = 13
    PREACTIVATED_DORMANT = 14
    PREACTIVATED_USED = 15
    OFFNET = 16
    INTERNATIONAL = 17

    @property
    def label(self) -> str:
        """The name written to ``personas.csv``."""
        return self.name.lower()


PERSONA_NAMES: tuple[str, ...] = tuple(p.label for p in Persona)

#: Labels implied by the persona alone. ``preactivated_sim`` is also given to every SIM that came
#: out of a fraudulent dealer batch, whatever it became (a flag in the population, not a persona).
PERSONA_LABELS: dict[Persona, tuple[str, ...]] = {
    Persona.VOICE_SPAM_BULK: ("voice_spam",),
    Persona.VOICE_SPAM_LOWSLOW: ("voice_spam",),
    Persona.WANGIRI: ("voice_spam",),
    Persona.SMS_SPAM_BULK: ("sms_spam",),
    Persona.SMS_SPAM_SPREAD: ("sms_spam",),
    Persona.SIMBOX: ("simbox",),
    Persona.PREACTIVATED_DORMANT: ("preactivated_sim",),
    Persona.PREACTIVATED_USED: ("preactivated_sim",),
}

#: Honest personas whose behaviour is the ordinary social one (a circle of contacts).
SOCIAL_PERSONAS: tuple[Persona, ...] = (
    Persona.ORDINARY,
    Persona.FAMILY,
    Persona.NEW_SUBSCRIBER,
    Persona.ENTERPRISE_EMPLOYEE,
    Persona.PREACTIVATED_USED,
)
MOBILE_WORKERS: tuple[Persona, ...] = (Persona.DELIVERY_DRIVER, Persona.SALESPERSON, Persona.TAXI_DISPATCH)


def lerp(textbook: float, careful: float, evasion: float) -> float:
    """Linear interpolation from the textbook value (evasion 0) to the careful one (evasion 1)."""
    return textbook + (careful - textbook) * evasion


def log_lerp(textbook: float, careful: float, evasion: float) -> float:
    """Interpolation on a log scale, for quantities spanning orders of magnitude (time spans)."""
    return float(np.exp(lerp(np.log(textbook), np.log(careful), evasion)))


@dataclass(frozen=True)
class Tactics:
    """Fraud parameters at one evasion level. Pairs are (low, high) bounds of a uniform draw."""

    evasion: float
    # Cover traffic: careful fraudsters keep a small circle of contacts who call back.
    cover_contacts_p: float  # binomial(5, p) contacts per fraud SIM
    cover_voice_rate: float  # ordinary calls/day to that circle
    cover_sms_rate: float
    # Bulk voice spam.
    bulk_calls: tuple[float, float]
    bulk_answer: tuple[float, float]
    bulk_dur_median: float
    bulk_dur_sigma: float
    bulk_sequential_p: float
    bulk_life_days: tuple[int, int]
    bulk_extra_cells: float
    bulk_shared_imei_p: float  # share of rigs whose successive SIMs stay in the rig's one handset
    spam_hours_mix: float  # 0 = office-hours profile, 1 = the ordinary daily rhythm
    # Low-and-slow voice spam.
    lowslow_calls: tuple[float, float]
    lowslow_answer: tuple[float, float]
    lowslow_dur_median: float
    lowslow_gap_jitter: float  # coefficient of variation of the gaps between calls
    lowslow_circle: tuple[int, int]
    # Wangiri.
    wangiri_calls: tuple[float, float]
    wangiri_callback_p: float
    wangiri_hours_mix: float  # 0 = around the clock, 1 = ordinary rhythm
    # SMS spam.
    sms_bulk_msgs: tuple[float, float]
    sms_bulk_spacing_s: tuple[float, float]
    sms_bulk_sequential_p: float
    sms_bulk_life_days: tuple[int, int]
    sms_spread_msgs: tuple[float, float]
    sms_spread_sims_per_modem: float
    # SIM-box farms.
    simbox_calls: tuple[float, float]
    simbox_hours_mix: float  # 0 = around the clock, 1 = ordinary rhythm
    simbox_changer_p: float  # share of farms using an IMEI changer
    simbox_extra_cells: float
    simbox_repeat_p: float  # share of calls to a recurring set of callees
    # Dealers of pre-activated SIMs.
    dealer_sims_per_id: tuple[float, float]
    dealer_consecutive_p: float
    dealer_span_s: tuple[float, float]
    dealer_batch_size: tuple[int, int]
    fraud_extra_cells: float  # more cells for every fraud SIM (they move, or pretend to)


def tactics(evasion: float) -> Tactics:
    """Fraud parameters for ``evasion`` in [0, 1] (0 = textbook fraud, 1 = careful fraud)."""
    e = float(evasion)

    def pair(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
        return (lerp(a[0], b[0], e), lerp(a[1], b[1], e))

    def ipair(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
        return (round(lerp(a[0], b[0], e)), round(lerp(a[1], b[1], e)))

    return Tactics(
        evasion=e,
        cover_contacts_p=lerp(0.0, 0.9, e),
        cover_voice_rate=lerp(0.0, 2.5, e),
        cover_sms_rate=lerp(0.0, 1.0, e),
        bulk_calls=pair((100, 600), (30, 120)),
        bulk_answer=pair((0.10, 0.35), (0.40, 0.65)),
        bulk_dur_median=lerp(7.0, 45.0, e),
        bulk_dur_sigma=lerp(0.5, 1.0, e),
        bulk_sequential_p=lerp(0.6, 0.0, e),
        bulk_life_days=ipair((1, 3), (4, 10)),
        bulk_extra_cells=lerp(0.3, 4.0, e),
        bulk_shared_imei_p=lerp(1.0, 0.7, e),
        spam_hours_mix=lerp(0.0, 0.8, e),
        lowslow_calls=pair((15, 50), (8, 25)),
        lowslow_answer=pair((0.30, 0.50), (0.50, 0.75)),
        lowslow_dur_median=lerp(12.0, 50.0, e),
        lowslow_gap_jitter=lerp(0.08, 0.8, e),
        lowslow_circle=ipair((2, 4), (5, 10)),
        wangiri_calls=pair((150, 500), (40, 120)),
        wangiri_callback_p=lerp(0.10, 0.05, e),
        wangiri_hours_mix=lerp(0.0, 0.8, e),
        sms_bulk_msgs=pair((300, 2500), (80, 300)),
        sms_bulk_spacing_s=pair((1, 4), (20, 120)),
        sms_bulk_sequential_p=lerp(0.5, 0.0, e),
        sms_bulk_life_days=ipair((1, 3), (4, 10)),
        sms_spread_msgs=pair((50, 150), (15, 50)),
        sms_spread_sims_per_modem=lerp(8.0, 1.0, e),
        simbox_calls=pair((60, 160), (20, 60)),
        simbox_hours_mix=lerp(0.0, 0.8, e),
        simbox_changer_p=lerp(0.4, 1.0, e),
        simbox_extra_cells=lerp(0.0, 4.0, e),
        simbox_repeat_p=lerp(0.0, 0.5, e),
        dealer_sims_per_id=pair((5, 20), (1, 3)),
        dealer_consecutive_p=lerp(1.0, 0.0, e),
        dealer_span_s=(log_lerp(300, 2 * 86400, e), log_lerp(3 * 3600, 12 * 86400, e)),
        dealer_batch_size=ipair((15, 80), (4, 15)),
        fraud_extra_cells=lerp(0.0, 3.0, e),
    )
