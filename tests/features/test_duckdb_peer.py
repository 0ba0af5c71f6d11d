"""The DuckDB reference implementation of the core features, on tiny hand-worked inputs.

Every expected value below is worked out by hand from features.md (and the project's reading of
it, documented in bench/duckdb_peer.py), so that the reference the engine is compared with is
itself checked.
"""

from __future__ import annotations

import datetime as dt
import math
from itertools import pairwise

import polars as pl
import pytest

from bench.duckdb_peer import CORE_FEATURES, core_features_duckdb

T0 = dt.datetime(2024, 3, 10, 14, 0, 0)
CDR_COLUMNS = ["caller", "callee", "start_time", "duration_s", "event_type", "answered", "cell_id", "imei"]
CDR_DTYPES = {
    "caller": pl.String,
    "callee": pl.String,
    "start_time": pl.Datetime("us"),
    "duration_s": pl.Int64,
    "event_type": pl.String,
    "answered": pl.Boolean,
    "cell_id": pl.String,
    "imei": pl.String,
}
FLOAT_FEATURES = {
    "voice_answered_ratio", "voice_dur_mean", "voice_dur_median", "voice_short_ratio",
    "gap_cv", "seq_callee_ratio", "reciprocity", "night_ratio",
}


def at(seconds: float = 0, *, base: dt.datetime = T0) -> dt.datetime:
    return base + dt.timedelta(seconds=seconds)


def ev(caller, callee, when, dur=0, kind="voice", answered=None, cell=None, imei=None):
    """One CDR row; ``answered`` defaults to ``dur > 0``."""
    return (caller, callee, when, dur, kind, dur > 0 if answered is None else answered, cell, imei)


def write_cdr(path, rows, *, enum=False):
    df = pl.DataFrame(rows, schema=CDR_DTYPES, orient="row")
    if enum:
        df = df.with_columns(pl.col("event_type").cast(pl.Enum(["voice", "sms"])))
    df.write_parquet(path)
    return str(path)


def write_registry(path, rows):
    df = pl.DataFrame(
        rows,
        schema={
            "msisdn": pl.String,
            "activation_time": pl.Datetime("us"),
            "dealer_id": pl.String,
            "id_number": pl.String,
            "subscription_type": pl.String,
        },
        orient="row",
    )
    df.write_parquet(path)
    return str(path)


def features(tmp_path, rows, registry=None, **kw):
    """Run the reference; return (frame, {msisdn: row dict})."""
    cdr = write_cdr(tmp_path / "cdr.parquet", rows, **kw)
    reg = None if registry is None else write_registry(tmp_path / "registry.parquet", registry)
    out = core_features_duckdb(cdr, reg, threads=1)
    return out, {r["msisdn"]: r for r in out.to_dicts()}


def approx(x):
    return pytest.approx(x, rel=1e-12, abs=0)


# --------------------------------------------------------------------------------------------
# Shape of the table
# --------------------------------------------------------------------------------------------


def test_columns_types_rows_and_order(tmp_path):
    rows = [
        ev("84900000002", "84900000001", at(0), 30),
        ev("84900000001", "84900000003", at(5), 0, "sms"),
        ev("84900000001", "84900000002", at(9), 12),
    ]
    out, _ = features(tmp_path, rows)
    assert len(CORE_FEATURES) == 23 and len(set(CORE_FEATURES)) == 23
    assert out.columns == ["msisdn", *CORE_FEATURES]
    for name in CORE_FEATURES:
        assert out.schema[name] == (pl.Float64 if name in FLOAT_FEATURES else pl.Int64), name
    assert out.schema["msisdn"] == pl.String
    # Callers only (84900000003 is only ever a callee), sorted by msisdn.
    assert out["msisdn"].to_list() == ["84900000001", "84900000002"]


def test_several_files_and_enum_event_type(tmp_path):
    a = write_cdr(tmp_path / "a.parquet", [ev("84900000001", "84900000002", at(0), 30)], enum=True)
    b = write_cdr(tmp_path / "b.parquet", [ev("84900000001", "84900000002", at(86400), 0, "sms")], enum=True)
    out = core_features_duckdb([a, b])
    row = out.row(0, named=True)
    assert out.height == 1
    assert (row["voice_out"], row["sms_out"], row["window_days"]) == (1, 1, 2)


# --------------------------------------------------------------------------------------------
# Voice volumes and durations
# --------------------------------------------------------------------------------------------


def test_voice_counts_durations_and_even_median(tmp_path):
    a = "84900000001"
    rows = [
        ev(a, "84900000010", at(0), 3),
        ev(a, "84900000011", at(100), 8),
        ev(a, "84900000010", at(200), 20),
        ev(a, "84900000012", at(300), 40),
        ev(a, "84900000013", at(400), 0),  # unanswered: counts in voice_out only
        ev(a, "84900000014", at(500), 0, "sms"),  # not voice
    ]
    _, f = features(tmp_path, rows)
    r = f[a]
    assert r["voice_out"] == 5
    assert r["voice_out_distinct"] == 4  # ...10, 11, 12, 13
    assert r["voice_answered_ratio"] == approx(4 / 5)
    assert r["voice_dur_mean"] == approx((3 + 8 + 20 + 40) / 4)
    assert r["voice_dur_median"] == approx((8 + 20) / 2)  # even count: mean of the middle two
    assert r["voice_short_ratio"] == approx(2 / 4)  # 3 and 8 are < 10
    assert (r["sms_out"], r["sms_out_distinct"]) == (1, 1)


def test_odd_median_and_no_answered_calls(tmp_path):
    a, b = "84900000001", "84900000002"
    rows = [
        ev(a, "84900000010", at(0), 50),
        ev(a, "84900000010", at(60), 10),  # 10 is not < 10
        ev(a, "84900000010", at(120), 7),
        ev(b, "84900000010", at(0), 0),
        ev(b, "84900000011", at(9), 0),
    ]
    _, f = features(tmp_path, rows)
    assert f[a]["voice_dur_median"] == approx(10.0)
    assert f[a]["voice_short_ratio"] == approx(1 / 3)
    assert f[b]["voice_out"] == 2
    assert f[b]["voice_answered_ratio"] == 0.0
    assert f[b]["voice_dur_mean"] is None
    assert f[b]["voice_dur_median"] is None
    assert f[b]["voice_short_ratio"] is None


def test_sms_only_number(tmp_path):
    s = "84900000005"
    rows = [
        ev(s, "84900000010", at(0), 0, "sms", cell="C1", imei="I1"),
        ev(s, "84900000011", at(3600), 0, "sms", cell="C2", imei="I1"),
        ev(s, "84900000010", at(7200), 0, "sms"),
        ev("84900000010", s, at(9000), 0, "sms"),
    ]
    _, f = features(tmp_path, rows)
    r = f[s]
    assert (r["voice_out"], r["voice_out_distinct"]) == (0, 0)
    for name in ("voice_answered_ratio", "voice_dur_mean", "voice_dur_median", "voice_short_ratio",
                 "gap_cv", "seq_callee_ratio", "reciprocity"):
        assert r[name] is None, name
    assert (r["sms_out"], r["sms_out_distinct"], r["sms_in"]) == (3, 2, 1)
    assert (r["voice_in"], r["voice_in_distinct"]) == (0, 0)
    assert r["night_ratio"] == 0.0  # 14:00, 15:00, 16:00
    assert r["active_hours"] == 3
    assert (r["distinct_cells"], r["distinct_imeis"], r["imei_max_sims"]) == (2, 1, 1)


# --------------------------------------------------------------------------------------------
# Event order, gaps and sequential dialling
# --------------------------------------------------------------------------------------------


def test_ties_in_start_time_are_ordered_by_callee_as_integer(tmp_path):
    s = "84900000007"
    rows = [
        # Same start: as text "10" < "9", as integers 9 < 10. Integer order gives the pairs
        # (9, 10) and (10, 20): both sequential (10 apart is still sequential). Text order would
        # give (10, 9) yes and (9, 20) no.
        ev(s, "10", at(0), 30),
        ev(s, "9", at(0), 30),
        ev(s, "20", at(10), 30),
    ]
    _, f = features(tmp_path, rows)
    assert f[s]["seq_callee_ratio"] == approx(1.0)
    # Gaps 0 and 10: mean 5, population std 5.
    assert f[s]["gap_cv"] == approx(1.0)


def test_non_integer_callees_sort_after_integers_and_are_never_sequential(tmp_path):
    s = "84900000007"
    rows = [
        # Same start: "VIETTEL" sorts after 15, so the order is 15, VIETTEL, 16 and neither pair
        # is sequential (VIETTEL first would make (15, 16) a pair).
        ev(s, "VIETTEL", at(0), 30),
        ev(s, "15", at(0), 30),
        ev(s, "16", at(5), 30),
    ]
    _, f = features(tmp_path, rows)
    assert f[s]["seq_callee_ratio"] == 0.0
    # Gaps 0 and 5: mean 2.5, population std 2.5.
    assert f[s]["gap_cv"] == approx(1.0)


def test_lax_integer_spellings_are_not_integers(tmp_path):
    # DuckDB's TRY_CAST would read "1e1" as 10 and "0x0B" as 11; a number read as an integer
    # is digits only, so these are not sequential with 11 / 12.
    s = "84900000007"
    rows = [ev(s, "1e1", at(0), 30), ev(s, "11", at(1), 30), ev(s, "0x0B", at(2), 30), ev(s, "12", at(3), 30)]
    _, f = features(tmp_path, rows)
    assert f[s]["seq_callee_ratio"] == 0.0


def test_sequential_dialling_ratio(tmp_path):
    s = "84900000008"
    callees = ["84911000100", "84911000101", "84911000111", "84911000122", "84911000112", "84911000112"]
    # Pairs: +1 yes, +10 yes, +11 no, -10 yes, 0 no -> 3 of 5.
    rows = [ev(s, c, at(60 * i), 20) for i, c in enumerate(callees)]
    _, f = features(tmp_path, rows)
    assert f[s]["seq_callee_ratio"] == approx(3 / 5)
    assert f[s]["gap_cv"] == 0.0  # equal gaps: exactly zero
    assert f[s]["voice_out_distinct"] == 5


def test_gap_cv_with_fractional_seconds(tmp_path):
    s = "84900000009"
    # Gaps 1.5, 3.0, 1.5 s: mean 2, population variance (0.25 + 1 + 0.25) / 3 = 0.5.
    times = [0.0, 1.5, 4.5, 6.0]
    rows = [ev(s, "84900000010", at(t), 20) for t in times]
    _, f = features(tmp_path, rows)
    assert f[s]["gap_cv"] == approx(math.sqrt(0.5) / 2)


def test_gap_cv_equal_fractional_gaps_is_exactly_zero(tmp_path):
    s = "84900000009"
    rows = [ev(s, "84900000010", at(0.1 * i), 20) for i in range(7)]
    _, f = features(tmp_path, rows)
    assert f[s]["gap_cv"] == 0.0


def test_gap_cv_null_cases_and_zero_mean(tmp_path):
    z, two, one = "84900000001", "84900000002", "84900000003"
    rows = [
        # Three calls at the same instant: two gaps of 0 -> zero mean -> null.
        ev(z, "500", at(0), 20),
        ev(z, "501", at(0), 20),
        ev(z, "502", at(0), 20),
        # Two calls: one gap -> null gap_cv, but one pair for seq_callee_ratio.
        ev(two, "84900000010", at(0), 20),
        ev(two, "84900000011", at(30), 20),
        # One call: both null.
        ev(one, "84900000010", at(0), 20),
    ]
    _, f = features(tmp_path, rows)
    assert f[z]["gap_cv"] is None
    assert f[z]["seq_callee_ratio"] == approx(1.0)  # 500, 501, 502
    assert f[two]["gap_cv"] is None
    assert f[two]["seq_callee_ratio"] == approx(1.0)
    assert f[one]["gap_cv"] is None
    assert f[one]["seq_callee_ratio"] is None


def test_sms_does_not_enter_the_voice_sequence(tmp_path):
    s = "84900000001"
    rows = [
        ev(s, "100", at(0), 20),
        ev(s, "101", at(5), 0, "sms"),  # would make both pairs sequential if counted
        ev(s, "102", at(10), 20),
        ev(s, "300", at(40), 20),
    ]
    _, f = features(tmp_path, rows)
    # Voice: 100 -> 102 (yes), 102 -> 300 (no); gaps 10, 30: mean 20, std 10.
    assert f[s]["seq_callee_ratio"] == approx(1 / 2)
    assert f[s]["gap_cv"] == approx(0.5)


# --------------------------------------------------------------------------------------------
# Reciprocity, incoming, hours, cells, handsets, window
# --------------------------------------------------------------------------------------------


def test_reciprocity_and_incoming(tmp_path):
    a, b, c, d = "84900000001", "84900000002", "84900000003", "84900000004"
    rows = [
        ev(a, b, at(0), 30),
        ev(a, b, at(100), 0),
        ev(a, c, at(200), 30),
        ev(a, d, at(300), 30),
        ev(b, a, at(5000), 0),  # unanswered still counts as a call back
        ev(c, a, at(6000), 0, "sms"),  # an SMS is not a voice call back
    ]
    _, f = features(tmp_path, rows)
    assert f[a]["reciprocity"] == approx(1 / 3)
    assert f[b]["reciprocity"] == approx(1.0)
    assert f[c]["reciprocity"] is None  # no voice callees
    assert d not in f  # only ever a callee
    assert (f[a]["voice_in"], f[a]["voice_in_distinct"], f[a]["sms_in"]) == (1, 1, 1)
    assert (f[b]["voice_in"], f[b]["voice_in_distinct"], f[b]["sms_in"]) == (2, 1, 0)
    assert (f[c]["voice_in"], f[c]["sms_in"]) == (1, 0)


def test_night_hours_cells_and_imeis(tmp_path):
    x, y, z, w = "84900000001", "84900000002", "84900000003", "84900000004"
    day = dt.datetime(2024, 3, 10)
    rows = [
        ev(x, "84900000010", day.replace(hour=0), 30, cell="C1", imei="I1"),
        ev(x, "84900000010", day.replace(hour=5, minute=59, second=59), 0, "sms", cell="C1", imei="I2"),
        ev(x, "84900000011", day.replace(hour=5), 30, cell="C2"),
        ev(x, "84900000011", day.replace(hour=6), 30),
        ev(x, "84900000012", day.replace(hour=23, minute=30), 0, "sms", cell="C2", imei="I1"),
        ev(y, "84900000010", day.replace(hour=12), 30, imei="I1"),
        ev(z, "84900000010", day.replace(hour=12), 30, imei="I1"),
        ev(z, "84900000010", day.replace(hour=13), 30, imei="I3"),
        ev(w, "84900000010", day.replace(hour=13), 30),
    ]
    _, f = features(tmp_path, rows)
    assert f[x]["night_ratio"] == approx(3 / 5)  # 00:00, 05:00, 05:59:59
    assert f[x]["active_hours"] == 4  # 0, 5, 6, 23
    assert f[x]["distinct_cells"] == 2
    assert f[x]["distinct_imeis"] == 2
    assert f[x]["imei_max_sims"] == 3  # I1 carries x, y, z
    assert f[z]["imei_max_sims"] == 3
    assert f[z]["distinct_imeis"] == 2
    assert (f[w]["distinct_cells"], f[w]["distinct_imeis"], f[w]["imei_max_sims"]) == (0, 0, 0)


def test_window_days_is_distinct_dates_of_the_whole_input(tmp_path):
    rows = [
        ev("84900000001", "84900000010", dt.datetime(2024, 1, 1, 23, 59, 59), 30),
        ev("84900000001", "84900000010", dt.datetime(2024, 1, 2, 0, 0, 0), 30),
        ev("84900000002", "84900000010", dt.datetime(2024, 1, 5, 12, 0, 0), 30),
        ev("84900000002", "84900000010", dt.datetime(2024, 1, 5, 13, 0, 0), 30),
    ]
    out, _ = features(tmp_path, rows, registry=[("84900000099", T0, "D1", None, "prepaid")])
    assert out["window_days"].to_list() == [3, 3, 3]


# --------------------------------------------------------------------------------------------
# Registry features
# --------------------------------------------------------------------------------------------


def test_registry_features_and_registry_only_numbers(tmp_path):
    h = dt.datetime(2024, 3, 1, 10, 0, 0)
    registry = [
        # dealer D1: 10:00, 11:00 (exactly 60 min later: inside), 12:00:00.000001 (60 min + 1 µs
        # after 11:00: outside), and a non-integer msisdn at 10:30.
        ("84900000010", h, "D1", "ID-X", "prepaid"),
        ("84900000011", h + dt.timedelta(minutes=60), "D1", "ID-X", "prepaid"),
        ("84900000012", h + dt.timedelta(minutes=120, microseconds=1), "D1", "ID-X", "prepaid"),
        ("84900000014", h + dt.timedelta(days=1), "D1", "ID-Y", "prepaid"),
        ("SHOPX", h + dt.timedelta(minutes=30), "D1", None, "enterprise"),
        # dealer D2 holds the number between D1's runs: it does not join them.
        ("84900000013", h, "D2", "ID-Z", "prepaid"),
        # no dealer
        ("84900000020", h, None, "ID-Z", "postpaid"),
    ]
    rows = [
        ev("84900000010", "84900000014", at(0), 30),  # registry subscriber with traffic
        ev("84900000099", "84900000010", at(60), 30),  # caller outside the registry
    ]
    out, f = features(tmp_path, rows, registry=registry)
    assert out["msisdn"].to_list() == sorted(
        ["84900000010", "84900000011", "84900000012", "84900000013", "84900000014", "84900000020",
         "84900000099", "SHOPX"]
    )
    expected = {  # msisdn: (sims_per_id, dealer_burst_1h, msisdn_run_length)
        "84900000010": (3, 3, 3),  # burst: itself, SHOPX (+30 min), 11:00 (+60 min)
        "84900000011": (3, 3, 3),  # itself, 10:00 (-60), 10:30; 12:00:00.000001 is outside
        "84900000012": (3, 1, 3),
        "84900000014": (1, 1, 1),
        "SHOPX": (None, 3, None),  # 10:00, 10:30, 11:00; not an integer: no run
        "84900000013": (2, 1, 1),
        "84900000020": (2, None, None),
        "84900000099": (None, None, None),  # not in the registry
    }
    for m, (ids, burst, run) in expected.items():
        r = f[m]
        assert (r["sims_per_id"], r["dealer_burst_1h"], r["msisdn_run_length"]) == (ids, burst, run), m

    # A registry-only number: zero counts, null ratios, the input's window_days.
    r = f["84900000011"]
    for name in CORE_FEATURES[:20]:
        if name in FLOAT_FEATURES:
            assert r[name] is None, name
        elif name == "window_days":
            assert r[name] == 1
        else:
            assert r[name] == 0, name
    # Incoming traffic of a registry subscriber that never calls is still counted.
    assert f["84900000014"]["voice_in"] == 1 and f["84900000014"]["voice_out"] == 0


def test_registry_runs_with_gaps(tmp_path):
    h = dt.datetime(2024, 3, 1, 10, 0, 0)
    nums = ["84911000001", "84911000002", "84911000004", "84911000005", "84911000006", "84911000009"]
    registry = [(n, h + dt.timedelta(hours=2 * i), "D9", f"ID{i}", "prepaid") for i, n in enumerate(nums)]
    _, f = features(tmp_path, [ev("84900000001", "84900000002", at(0), 30)], registry=registry)
    assert [f[n]["msisdn_run_length"] for n in nums] == [2, 2, 3, 3, 3, 1]
    assert [f[n]["dealer_burst_1h"] for n in nums] == [1] * 6  # two hours apart
    assert [f[n]["sims_per_id"] for n in nums] == [1] * 6


def test_without_registry_registry_features_are_null(tmp_path):
    out, _ = features(tmp_path, [ev("84900000001", "84900000002", at(0), 30)])
    for name in ("sims_per_id", "dealer_burst_1h", "msisdn_run_length"):
        assert out[name].null_count() == out.height == 1


# --------------------------------------------------------------------------------------------
# Cross-check against a plain-Python oracle on a small random input full of ties
# --------------------------------------------------------------------------------------------


def _as_int(s):
    body = s[1:] if s[:1] in "+-" else s
    return int(s) if body.isascii() and body.isdigit() else None


def _oracle(rows, registry):
    """Every core feature, one subscriber at a time, in plain Python."""
    def ratio(a, b):
        return None if b == 0 else a / b

    callers = {r[0] for r in rows}
    reg = {r[0]: r for r in registry}
    voice_pairs = {(r[0], r[1]) for r in rows if r[4] == "voice"}
    imei_callers = {}
    for r in rows:
        if r[7] is not None:
            imei_callers.setdefault(r[7], set()).add(r[0])
    window_days = len({r[2].date() for r in rows})
    out = {}
    for m in sorted(callers | set(reg)):
        o = [r for r in rows if r[0] == m]
        i = [r for r in rows if r[1] == m]
        vo = [r for r in o if r[4] == "voice"]
        ans = sorted(r[3] for r in vo if r[5])
        big = 1 << 70  # non-integer callees after all integers
        seq = sorted(vo, key=lambda r: (r[2], big if _as_int(r[1]) is None else _as_int(r[1]), r[1], r[3]))
        gaps = [(b[2] - a[2]) / dt.timedelta(seconds=1) for a, b in pairwise(seq)]
        mean = sum(gaps) / len(gaps) if gaps else 0
        gap_cv = None
        if len(gaps) >= 2 and mean != 0:
            gap_cv = math.sqrt(sum((g - mean) ** 2 for g in gaps) / len(gaps)) / mean
        seq_hits = 0
        for a, b in pairwise(seq):
            x, y = _as_int(a[1]), _as_int(b[1])
            seq_hits += x is not None and y is not None and 1 <= abs(x - y) <= 10
        vcallees = {r[1] for r in vo}
        median = None
        if ans:
            k = len(ans)
            median = float(ans[k // 2]) if k % 2 else (ans[k // 2 - 1] + ans[k // 2]) / 2
        used = {r[7] for r in o if r[7] is not None}
        f = {
            "voice_out": len(vo),
            "voice_out_distinct": len(vcallees),
            "voice_answered_ratio": ratio(len(ans), len(vo)),
            "voice_dur_mean": sum(ans) / len(ans) if ans else None,
            "voice_dur_median": median,
            "voice_short_ratio": ratio(sum(d < 10 for d in ans), len(ans)),
            "gap_cv": gap_cv,
            "seq_callee_ratio": ratio(seq_hits, len(seq) - 1) if len(seq) >= 2 else None,
            "reciprocity": ratio(sum((c, m) in voice_pairs for c in vcallees), len(vcallees)),
            "sms_out": sum(r[4] == "sms" for r in o),
            "sms_out_distinct": len({r[1] for r in o if r[4] == "sms"}),
            "voice_in": sum(r[4] == "voice" for r in i),
            "voice_in_distinct": len({r[0] for r in i if r[4] == "voice"}),
            "sms_in": sum(r[4] == "sms" for r in i),
            "night_ratio": ratio(sum(r[2].hour < 6 for r in o), len(o)),
            "active_hours": len({r[2].hour for r in o}),
            "distinct_cells": len({r[6] for r in o if r[6] is not None}),
            "distinct_imeis": len(used),
            "imei_max_sims": max((len(imei_callers[x]) for x in used), default=0),
            "window_days": window_days,
            "sims_per_id": None,
            "dealer_burst_1h": None,
            "msisdn_run_length": None,
        }
        if m in reg:
            _, act, dealer, idn, _ = reg[m]
            if idn is not None:
                f["sims_per_id"] = sum(r[3] == idn for r in registry)
            if dealer is not None:
                same = [r for r in registry if r[2] == dealer]
                f["dealer_burst_1h"] = sum(abs(r[1] - act) <= dt.timedelta(minutes=60) for r in same)
                ints = {_as_int(r[0]) for r in same} - {None}
                n = _as_int(m)
                if n is not None:
                    lo, hi = n, n
                    while lo - 1 in ints:
                        lo -= 1
                    while hi + 1 in ints:
                        hi += 1
                    f["msisdn_run_length"] = hi - lo + 1
        out[m] = f
    return out


def test_matches_a_python_oracle_on_random_ties(tmp_path):
    import random

    rnd = random.Random(20240310)
    numbers = [str(84900000000 + k) for k in range(12)] + ["VIETTEL", "1900", "9029"]
    base = dt.datetime(2024, 3, 9, 22, 0, 0)
    rows = []
    for _ in range(250):
        k = rnd.randrange(13)  # callers: the 12 numbers and VIETTEL
        when = base + dt.timedelta(
            hours=rnd.choice([0, 0, 3, 9]),  # across midnight: two dates, night and day hours
            microseconds=500_000 * rnd.randrange(0, 40) + rnd.choice([0, 0, 0, 250_000]),  # many ties
        )
        kind = rnd.choice(["voice", "voice", "sms"])
        dur = 0 if kind == "sms" else rnd.choice([0, 0, 5, 9, 10, 33, 120])
        # Each caller uses a few cells and handsets, overlapping with its neighbours'.
        cell = rnd.choice([f"C{k % 5}", f"C{(k + 1) % 5}", None])
        imei = rnd.choice([f"I{k % 7}", f"I{(k * 3) % 7}", None])
        rows.append(ev(numbers[k], rnd.choice(numbers), when, dur, kind, cell=cell, imei=imei))
    rows = list(dict.fromkeys(rows))  # canonical input has no exact duplicate rows
    h = dt.datetime(2024, 1, 5, 9, 0, 0)
    registry = [
        (
            m,
            h + dt.timedelta(minutes=rnd.choice([0, 20, 40, 60, 90, 120])),
            rnd.choice(["D1", "D1", "D2", None]),
            rnd.choice(["A", "B", None]),
            "prepaid",
        )
        for m in numbers[5:] + ["84900000020", "84900000021", "84900000022", "84900000024"]
    ]
    _, got = features(tmp_path, rows, registry=registry)
    want = _oracle(rows, registry)
    assert list(got) == list(want)
    for m, f in want.items():
        for name, value in f.items():
            if value is None or name not in FLOAT_FEATURES:
                assert got[m][name] == value, (m, name)
            else:
                assert got[m][name] == pytest.approx(value, rel=1e-9, abs=1e-12), (m, name)
