"""The feature catalogue: every feature's name, meaning and unit, in one place.

The docs, the analyst report and the model read names and meanings from here. Core features
(``core=True``) are fixed by spec/features.md, names and meanings alike.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    """One column of the feature table."""

    name: str
    meaning: str
    unit: str
    core: bool = False


CATALOGUE: tuple[Feature, ...] = (
    Feature("voice_out", "outgoing voice events", "events", True),
    Feature("voice_out_distinct", "distinct callees of outgoing voice events", "numbers", True),
    Feature("voice_answered_ratio", "answered share of outgoing voice events", "ratio", True),
    Feature("voice_dur_mean", "mean duration of answered outgoing voice events", "seconds", True),
    Feature("voice_dur_median", "median duration of answered outgoing voice events", "seconds", True),
    Feature("voice_short_ratio", "share of answered outgoing voice events under 10 s", "ratio", True),
    Feature("gap_cv", "coefficient of variation of the gaps between outgoing voice events", "ratio", True),
    Feature("seq_callee_ratio", "share of consecutive outgoing calls to numbers 1-10 apart", "ratio", True),
    Feature("reciprocity", "share of distinct voice callees who called back", "ratio", True),
    Feature("sms_out", "outgoing SMS", "events", True),
    Feature("sms_out_distinct", "distinct recipients of outgoing SMS", "numbers", True),
    Feature("voice_in", "incoming voice events", "events", True),
    Feature("voice_in_distinct", "distinct callers of incoming voice events", "numbers", True),
    Feature("sms_in", "incoming SMS", "events", True),
    Feature("night_ratio", "share of outgoing events between 00:00 and 05:59 local time", "ratio", True),
    Feature("active_hours", "distinct hours of day with outgoing events", "hours", True),
    Feature("distinct_cells", "distinct cells of outgoing events", "cells", True),
    Feature("distinct_imeis", "distinct handsets (IMEIs) of outgoing events", "handsets", True),
    Feature("imei_max_sims", "most SIMs seen on one of this number's handsets", "SIMs", True),
    Feature("window_days", "distinct dates in the input", "days", True),
    Feature("sims_per_id", "registry SIMs on this subscriber's identity document", "SIMs", True),
    Feature("dealer_burst_1h", "SIMs the same dealer activated within 60 minutes either side", "SIMs", True),
    Feature("msisdn_run_length", "run of consecutive numbers among the dealer's SIMs containing this one",
            "SIMs", True),

    # The engine's own behaviour features, per day rather than per window, so that they mean the
    # same on a day of traffic as on a month of it.
    Feature("days_active", "days with outgoing events", "days"),
    Feature("voice_out_per_day_mean", "outgoing voice events per day with outgoing events", "events/day"),
    Feature("voice_out_per_day_max", "most outgoing voice events on one day", "events"),
    Feature("sms_out_per_day_max", "most outgoing SMS on one day", "events"),
    Feature("voice_burst_10m_max", "most outgoing voice events in any 10 minutes", "events"),
    Feature("voice_very_short_ratio", "share of answered outgoing voice events of 1-3 s", "ratio"),
    Feature("in_out_ratio", "incoming events (voice and SMS) per outgoing event", "ratio"),
    Feature("sms_out_per_day_mean", "outgoing SMS per day with outgoing events", "events/day"),
    Feature("sms_out_distinct_per_day_mean", "distinct SMS recipients per day with outgoing events", "numbers/day"),
    Feature("sms_reciprocity", "share of distinct SMS recipients who texted back", "ratio"),
    Feature("sms_reply_ratio", "incoming SMS per outgoing SMS", "ratio"),
    Feature("voice_in_per_day_mean", "incoming voice events per day of the input", "events/day"),
    Feature("sms_in_per_day_mean", "incoming SMS per day of the input", "events/day"),
    Feature("active_day_share", "share of the input's days with outgoing events", "ratio"),
    Feature("voice_out_distinct_per_day_mean", "distinct voice callees per day with outgoing events", "numbers/day"),
    Feature("voice_out_distinct_per_day_max", "most distinct voice callees on one day", "numbers"),
    Feature("voice_out_new_callee_ratio", "share of outgoing voice events to a callee not called before in the window",
            "ratio"),
    Feature("voice_unrelated_ratio",
            "share of distinct voice callees called once who never called or texted this number", "ratio"),
    Feature("voice_callee_block_ratio",
            "distinct blocks of 1,000 consecutive numbers per distinct voice callee (low: a swept range)", "ratio"),
    Feature("voice_dur_entropy", "entropy of the answered call lengths over 7 bins from 0-3 s to over 10 min",
            "bits"),
    Feature("intl_out_ratio", "share of outgoing events to numbers outside the home country or short codes "
            "(of those whose callee's whereabouts the export or the number tells)", "ratio"),
    Feature("offnet_out_ratio", "share of outgoing events to the home country's other networks (needs the "
            "export's callee_network or the carrier's home_prefixes)", "ratio"),
    Feature("active_span_days", "time from the first to the last outgoing event", "days"),
    Feature("first_out_time", "first outgoing event (local time)", "timestamp"),
    Feature("last_out_time", "last outgoing event (local time)", "timestamp"),
    # Registration joined with traffic (null without a registry).
    Feature("prepaid", "1 for a prepaid SIM, 0 for postpaid, enterprise and other contracts (registry)", "flag"),
    Feature("days_to_first_use", "days from activation to the first outgoing event", "days"),
    Feature("activation_age_days", "days from activation to the end of the input", "days"),
    Feature("first_use_away_from_activation", "1 if the first outgoing event's cell is not the activation cell",
            "flag"),
    Feature("dealer_dormant_share", "share of the dealer's SIMs with no outgoing event in the window", "ratio"),
    Feature("dealer_over_id_cap_share", "share of the dealer's SIMs on an ID with more than 3 SIMs", "ratio"),
    Feature("dealer_sims", "SIMs the same dealer activated (registry)", "SIMs"),
    Feature("dealer_burst_1h_max", "the dealer's largest number of SIMs activated within 60 minutes either side",
            "SIMs"),
)

CORE_FEATURES: list[str] = [f.name for f in CATALOGUE if f.core]
FEATURES: list[str] = [f.name for f in CATALOGUE]
BY_NAME: dict[str, Feature] = {f.name: f for f in CATALOGUE}
