"""The verification list (issue 26 item 7): for each voice or SMS case opened tonight, the home
callees contacted in the last two days, those who answered first, never an allowlisted or flagged
number, and no callee asked twice within a week across all cases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detector.engine.verification import first_come, verification_list
from detector.state.store import EVENT_COLUMNS, SURVEY_REST_DAYS, State, create_state, writing
from features.build import ABROAD_KNOWN, ANSWERED, OFFNET, OFFNET_KNOWN, VOICE

TONIGHT = dt.date(2026, 11, 9)
WINDOW = [TONIGHT - dt.timedelta(days=back) for back in range(6, -1, -1)]
A, B, SIMBOX = 84900000001, 84900000002, 84900000003
ONNET = VOICE | OFFNET_KNOWN | ABROAD_KNOWN


def call(caller: int, callee: int, day: dt.date, flags: int = ONNET, minute: int = 0) -> dict:
    ts = int(dt.datetime.combine(day, dt.time(10, minute)).replace(tzinfo=dt.UTC).timestamp() * 1_000_000)
    return {"caller_id": caller, "callee_id": callee, "ts": ts, "duration_s": 30, "flags": flags, "cell": 1,
            "imei": 0, "callee_key": callee, "day": day}


def state_with(tmp_path, events: list[dict], surveys: dict[dt.date, list[str]] | None = None) -> State:
    root = tmp_path / "state"
    create_state(root, partitions=4, country_code="84")
    frame = pl.DataFrame(events).with_columns(*(pl.col(c).cast(t) for c, t in EVENT_COLUMNS.items()))
    for day, callees in (surveys or {}).items():
        with writing(root) as night:
            night.set_surveys(day, pl.DataFrame({"flagged_msisdn": "84900000099", "category": "voice_spam",
                                                 "callee": callees}))
            night.commit(day)
    with writing(root) as night:
        night.add_events(frame)
        return night.commit(TONIGHT)


def opened(*rows: tuple[int, str, float]) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [str(r[0]) for r in rows], "category": [r[1] for r in rows],
                         "score": [r[2] for r in rows]})


def listed(verify: pl.DataFrame, number: int) -> list[str]:
    return verify.filter(pl.col("flagged_msisdn") == str(number))["callee"].to_list()


def test_who_is_asked_and_in_what_order(tmp_path):
    yesterday, earlier = TONIGHT - dt.timedelta(days=1), TONIGHT - dt.timedelta(days=3)
    c = {k: 84910000000 + k for k in range(1, 13)}
    events = [
        call(A, c[1], TONIGHT, ONNET | ANSWERED),  # answered: first
        call(A, c[2], TONIGHT), call(A, c[2], yesterday, minute=5),  # contacted more, never answered
        call(A, c[3], earlier, ONNET | ANSWERED),  # not in the last two days
        call(A, c[4], TONIGHT, VOICE | OFFNET_KNOWN | OFFNET | ANSWERED),  # another network's
        call(A, c[5], TONIGHT, ONNET | ANSWERED),  # allowlisted
        call(A, B, TONIGHT, ONNET | ANSWERED),  # flagged tonight itself
        call(A, c[7], TONIGHT, ONNET | ANSWERED),  # asked three nights ago
        call(A, c[8], TONIGHT, ONNET | ANSWERED),  # asked a week and a day ago: rested
        call(A, c[9], yesterday, ONNET | ANSWERED), call(B, c[9], TONIGHT, ONNET | ANSWERED),  # A's, not B's
        call(B, c[10], TONIGHT),
        call(SIMBOX, c[11], TONIGHT, ONNET | ANSWERED),  # a SIM-box's callees are not asked
    ]
    surveys = {TONIGHT - dt.timedelta(days=3): [str(c[7])],
               TONIGHT - dt.timedelta(days=SURVEY_REST_DAYS + 1): [str(c[8])]}
    state = state_with(tmp_path, events, surveys)
    cases = opened((A, "voice_spam", 0.9), (B, "voice_spam", 0.8), (SIMBOX, "simbox", 0.95))
    flagged = cases.select("msisdn")
    verify = verification_list(state, WINDOW, cases, flagged, allowlist=pl.Series([str(c[5])]))
    assert listed(verify, A) == [str(c[1]), str(c[8]), str(c[9]), str(c[2])]
    assert listed(verify, B) == [str(c[10])]
    assert listed(verify, SIMBOX) == []
    row = verify.filter(pl.col("callee") == str(c[2])).row(0, named=True)
    assert (row["contacts"], row["answered"], row["last_contact"].date()) == (2, 0, TONIGHT)

    two = verification_list(state, WINDOW, cases, flagged, allowlist=pl.Series([str(c[5])]), per_case=2)
    assert listed(two, A) == [str(c[1]), str(c[8])] and listed(two, B) == [str(c[9]), str(c[10])]


def test_with_a_registry_only_its_subscribers_are_asked(tmp_path):
    unknown = VOICE | ANSWERED  # the rows tell no network
    state = state_with(tmp_path, [call(A, 84910000001, TONIGHT, unknown), call(A, 84910000002, TONIGHT, unknown),
                                  call(A, 84910000003, TONIGHT, VOICE | ANSWERED | ABROAD_KNOWN)])
    cases = opened((A, "sms_spam", 0.9))
    registry = pl.DataFrame({"msisdn": ["84910000002"]})
    assert listed(verification_list(state, WINDOW, cases, cases, registry=registry), A) == ["84910000002"]
    # Without a registry or a network to tell, the callee known to be in the country is asked.
    assert listed(verification_list(state, WINDOW, cases, cases), A) == ["84910000003"]


def test_no_case_opened_tonight_lists_no_one(tmp_path):
    state = state_with(tmp_path, [call(A, 84910000001, TONIGHT, ONNET | ANSWERED)])
    verify = verification_list(state, WINDOW, opened(), opened((A, "voice_spam", 0.9)))
    assert verify.is_empty() and verify.columns[:3] == ["flagged_msisdn", "category", "callee"]


def reference_first_come(case: list[int], callee: list[int], per_case: int) -> list[bool]:
    keep: list[bool] = []
    for i, (c, who) in enumerate(zip(case, callee, strict=True)):
        kept = [j for j in range(i) if keep[j]]
        keep.append(all(callee[j] != who for j in kept) and sum(case[j] == c for j in kept) < per_case)
    return keep


@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 9)), max_size=60), st.integers(0, 4))
def test_first_come_keeps_each_cases_first_untaken_callees(pairs, per_case):
    pairs = sorted(pairs, key=lambda p: p[0])  # rows come in case order
    case = np.array([p[0] for p in pairs], dtype=np.int64)
    callee = np.array([p[1] for p in pairs], dtype=np.int64)
    keep = first_come(case, callee, per_case)
    assert keep.tolist() == reference_first_come(case.tolist(), callee.tolist(), per_case)
    kept = callee[keep]
    assert np.unique(kept).size == kept.size


@pytest.mark.parametrize("per_case", [0, 3])
def test_first_come_of_nothing_is_nothing(per_case):
    assert first_come(np.array([], dtype=np.int64), np.array([], dtype=np.int64), per_case).size == 0
