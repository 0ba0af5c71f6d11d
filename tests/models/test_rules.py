"""Rules: loading and checking TOML files, and which rules fire on hand-made feature rows."""

from __future__ import annotations

import polars as pl
import pytest

from detector.contract import CATEGORIES
from detector.errors import InputError
from features.catalogue import FEATURES
from models.rules import Condition, Rule, apply_rules, load_rules

#: An ordinary subscriber over a 7-day window: the base every hand-made row overrides.
ORDINARY = {
    "voice_out": 22, "voice_out_distinct": 8, "voice_answered_ratio": 0.82, "voice_dur_mean": 95.0,
    "voice_dur_median": 70.0, "voice_short_ratio": 0.05, "gap_cv": 1.1, "seq_callee_ratio": 0.0,
    "reciprocity": 0.7, "sms_out": 15, "sms_out_distinct": 6, "voice_in": 20, "voice_in_distinct": 7,
    "sms_in": 14, "night_ratio": 0.0, "active_hours": 15, "distinct_cells": 3, "distinct_imeis": 1,
    "imei_max_sims": 1, "window_days": 7, "sims_per_id": 1, "dealer_burst_1h": 1, "msisdn_run_length": 1,
    "days_active": 7, "voice_out_per_day_mean": 3.1, "voice_out_per_day_max": 6, "sms_out_per_day_max": 4,
    "voice_burst_10m_max": 2, "voice_very_short_ratio": 0.0, "in_out_ratio": 0.9, "days_to_first_use": 400.0,
    "first_use_away_from_activation": 1.0, "dealer_dormant_share": 0.0, "dealer_over_id_cap_share": 0.0,
}
#: Honest look-alikes and textbook fraud, as the features of domain.md describe them.
PEOPLE = {
    "driver": {  # many distinct customers, short calls, but callbacks, replies and many cells
        "voice_out": 350, "voice_out_distinct": 300, "voice_out_per_day_mean": 55.0, "voice_burst_10m_max": 6,
        "voice_short_ratio": 0.45, "voice_answered_ratio": 0.9, "reciprocity": 0.3, "in_out_ratio": 0.4,
        "sms_out": 110, "sms_out_distinct": 90, "sms_in": 50, "voice_in": 120, "distinct_cells": 20,
    },
    "call_centre": {  # very high volume, callers are not the callees (reciprocity 0), but half comes in
        "voice_out": 3400, "voice_out_distinct": 3300, "voice_out_per_day_mean": 486.0, "voice_burst_10m_max": 21,
        "voice_short_ratio": 0.4, "voice_answered_ratio": 0.65, "reciprocity": 0.0, "in_out_ratio": 0.56,
        "sms_out": 681, "sms_out_distinct": 650, "sms_out_per_day_max": 120, "sms_in": 0, "voice_in": 2300,
        "distinct_cells": 1,
    },
    "spammer": {
        "voice_out": 2800, "voice_out_distinct": 2790, "voice_out_per_day_mean": 400.0, "voice_burst_10m_max": 17,
        "voice_short_ratio": 0.7, "voice_answered_ratio": 0.22, "reciprocity": 0.0, "in_out_ratio": 0.0,
        "sms_out": 0, "voice_in": 0, "sms_in": 0, "distinct_cells": 2, "imei_max_sims": 3,
    },
    "wangiri": {
        "voice_out": 2650, "voice_out_per_day_mean": 379.0, "voice_answered_ratio": 0.0, "voice_short_ratio": None,
        "reciprocity": 0.1, "in_out_ratio": 0.1, "voice_in": 265, "sms_out": 0, "distinct_cells": 1,
        "voice_burst_10m_max": 10,
    },
    "sms_spammer": {
        "sms_out": 4800, "sms_out_distinct": 4778, "sms_out_per_day_max": 2478, "sms_in": 0, "voice_out": 0,
        "voice_in": 0, "in_out_ratio": 0.0, "voice_out_per_day_mean": None, "reciprocity": None,
        "voice_answered_ratio": None, "voice_short_ratio": None,
    },
    "simbox": {
        "voice_out": 780, "voice_out_per_day_mean": 111.0, "voice_answered_ratio": 0.83, "voice_short_ratio": 0.0,
        "reciprocity": 0.0, "in_out_ratio": 0.0, "voice_in": 0, "sms_in": 0, "sms_out": 0, "distinct_cells": 1,
        "night_ratio": 0.19, "active_hours": 24, "imei_max_sims": 1,
    },
    "preactivated": {
        "voice_out": 0, "sms_out": 0, "voice_in": 0, "sms_in": 0, "voice_out_per_day_mean": None,
        "in_out_ratio": None, "reciprocity": None, "voice_answered_ratio": None, "days_to_first_use": None,
        "sims_per_id": 12, "dealer_burst_1h": 64, "msisdn_run_length": 43, "dealer_dormant_share": 0.2,
        "dealer_over_id_cap_share": 0.3, "prepaid": 1.0,
    },
    "enterprise": {  # 50 SIMs on one business registration, consecutive, one dealer; all in use
        "sims_per_id": 50, "dealer_burst_1h": 50, "msisdn_run_length": 50, "dealer_dormant_share": 0.0,
        "dealer_over_id_cap_share": 0.1, "prepaid": 0.0,
    },
    # The same batch at a dealer whose other SIMs lie unused: the ID cap is a person's, not a
    # business registration's, and these SIMs are in use.
    "enterprise_at_a_dormant_dealer": {
        "sims_per_id": 31, "dealer_burst_1h": 31, "msisdn_run_length": 31, "dealer_dormant_share": 0.4,
        "dealer_over_id_cap_share": 0.5, "prepaid": 0.0, "voice_out": 16, "voice_in": 26, "days_to_first_use": 2.0,
    },
    "family": {"sims_per_id": 3},
}


def table(**people: dict) -> pl.DataFrame:
    """One row per person: ``msisdn`` = the person's name, every catalogue feature as Float64."""
    rows = [{"msisdn": name, **{**ORDINARY, **values}} for name, values in people.items()]
    return pl.DataFrame(rows, schema={"msisdn": pl.String, **{f: pl.Float64 for f in FEATURES}})


def write(tmp_path, text: str):
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return path


def fired(result: pl.DataFrame, category: str) -> dict[str, str]:
    return dict(zip(result["msisdn"], result[f"rules_{category}"], strict=True))


# ---- loading -----------------------------------------------------------------------------------

def test_shipped_rules_load_and_cover_every_category():
    rules = load_rules()
    assert rules and all(isinstance(r, Rule) for r in rules)
    assert {r.category for r in rules} == set(CATEGORIES)
    assert len({r.name for r in rules}) == len(rules)
    for rule in rules:
        assert rule.conditions and rule.reason
        assert all(c.feature in FEATURES for c in rule.conditions)
    voice = [r for r in rules if r.category == "voice_spam"]
    assert all(len(r.conditions) >= 4 for r in voice)  # several of the five criteria at once


def test_load_a_file(tmp_path):
    path = write(tmp_path, """
[[rule]]
name = "high-volume strangers"
category = "voice_spam"
reason = "calls many strangers a day"
all = [ { feature = "voice_out_per_day_mean", op = ">=", value = 200 },
        { feature = "reciprocity", op = "<=", value = 0.05 } ]

[[rule]]
name = "dormant"
category = "preactivated_sim"
all = [ { feature = "days_to_first_use", op = "is_null" } ]
""")
    assert load_rules(path) == (
        Rule("high-volume strangers", "voice_spam",
             (Condition("voice_out_per_day_mean", ">=", 200.0), Condition("reciprocity", "<=", 0.05)),
             "calls many strangers a day"),
        Rule("dormant", "preactivated_sim", (Condition("days_to_first_use", "is_null", None),), None),
    )


GOOD = '{ feature = "reciprocity", op = "<=", value = 0.05 }'
BAD_FILES = {
    "not toml": ("[[rule]\nname = ", "is not valid TOML", None),
    "no rules": ('title = "x"\n', "unknown top-level key 'title'", None),
    "empty": ("", "one or more [[rule]]", None),
    "missing name": (f'[[rule]]\ncategory = "voice_spam"\nall = [{GOOD}]\n', "rule #1: missing key 'name'", None),
    "missing category": (f'[[rule]]\nname = "r"\nall = [{GOOD}]\n', "missing key 'category'", "'r'"),
    "missing all": ('[[rule]]\nname = "r"\ncategory = "simbox"\n', "missing key 'all'", "'r'"),
    "empty all": ('[[rule]]\nname = "r"\ncategory = "simbox"\nall = []\n', "non-empty list", "'r'"),
    "unknown category": (f'[[rule]]\nname = "r"\ncategory = "fraud"\nall = [{GOOD}]\n', "unknown category 'fraud'",
                         "'r'"),
    "unknown op": ('[[rule]]\nname = "r"\ncategory = "simbox"\n'
                   'all = [{ feature = "reciprocity", op = "=>", value = 1 }]\n', "unknown op '=>'", "'r'"),
    "unknown feature": ('[[rule]]\nname = "r"\ncategory = "simbox"\n'
                        'all = [{ feature = "reciprocty", op = "<", value = 1 }]\n', "unknown feature 'reciprocty'",
                        "'r'"),
    "missing value": ('[[rule]]\nname = "r"\ncategory = "simbox"\nall = [{ feature = "reciprocity", op = "<" }]\n',
                      "missing key 'value'", "'r'"),
    "missing op": ('[[rule]]\nname = "r"\ncategory = "simbox"\nall = [{ feature = "reciprocity", value = 1 }]\n',
                   "missing key 'op'", "'r'"),
    "text value": ('[[rule]]\nname = "r"\ncategory = "simbox"\n'
                   'all = [{ feature = "reciprocity", op = "<", value = "0.1" }]\n', "is not a number", "'r'"),
    "bool value": ('[[rule]]\nname = "r"\ncategory = "simbox"\n'
                   'all = [{ feature = "reciprocity", op = "<", value = true }]\n', "is not a number", "'r'"),
    "is_null with value": ('[[rule]]\nname = "r"\ncategory = "simbox"\n'
                           'all = [{ feature = "reciprocity", op = "is_null", value = 0 }]\n', "takes no value", "'r'"),
    "unknown rule key": (f'[[rule]]\nname = "r"\ncategory = "simbox"\nany = [{GOOD}]\nall = [{GOOD}]\n',
                         "unknown key 'any'", "'r'"),
    "unknown condition key": ('[[rule]]\nname = "r"\ncategory = "simbox"\n'
                              'all = [{ feature = "reciprocity", op = "<", value = 1, unit = "x" }]\n',
                              "unknown key 'unit'", "'r'"),
    "condition not a table": ('[[rule]]\nname = "r"\ncategory = "simbox"\nall = ["reciprocity < 1"]\n',
                              "condition 1 must be a table", "'r'"),
    "duplicate name": (f'[[rule]]\nname = "r"\ncategory = "simbox"\nall = [{GOOD}]\n' * 2,
                       "a second rule with this name", "'r'"),
    "semicolon in name": (f'[[rule]]\nname = "a; b"\ncategory = "simbox"\nall = [{GOOD}]\n', "may not contain ';'",
                          "'a; b'"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_file_is_one_line_input_error_naming_file_and_rule(tmp_path, case):
    text, message, rule = BAD_FILES[case]
    path = write(tmp_path, text)
    with pytest.raises(InputError) as info:
        load_rules(path)
    error = str(info.value)
    assert "\n" not in error
    assert str(path) in error
    assert message in error
    if rule is not None:
        assert f"rule {rule}" in error


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="rules file not found"):
        load_rules(tmp_path / "nope.toml")


def test_extra_columns_allow_features_not_in_the_catalogue(tmp_path):
    path = write(tmp_path, '[[rule]]\nname = "r"\ncategory = "voice_spam"\n'
                           'all = [{ feature = "carrier_score", op = ">=", value = 0.9 }]\n')
    with pytest.raises(InputError, match="unknown feature 'carrier_score'"):
        load_rules(path)
    (rule,) = load_rules(path, columns=["carrier_score"])
    features = table(a={}, b={}).with_columns(carrier_score=pl.Series([0.95, 0.5]))
    assert fired(apply_rules(features, [rule]), "voice_spam") == {"a": "r", "b": ""}


# ---- applying ----------------------------------------------------------------------------------

def test_apply_output_columns_and_order():
    features = table(z={}, a={})
    result = apply_rules(features, load_rules())
    assert result.columns == ["msisdn", *(x for c in CATEGORIES for x in (f"rule_{c}", f"rules_{c}"))]
    assert result["msisdn"].to_list() == ["z", "a"]
    assert all(result.schema[f"rule_{c}"] == pl.Boolean and result.schema[f"rules_{c}"] == pl.String
               for c in CATEGORIES)


def test_shipped_rules_on_hand_made_people():
    result = apply_rules(table(**PEOPLE, ordinary={}), load_rules())
    expected = {
        "voice_spam": {"spammer": "mass calls to strangers; low-and-slow strangers", "wangiri": "one-ring calls"},
        "sms_spam": {"sms_spammer": "bulk SMS; SMS-only SIM"},
        "simbox": {"simbox": "silent SIM around the clock"},
        "preactivated_sim": {
            "preactivated": "over the ID cap; dealer burst of consecutive numbers; dormant SIM from a dealer burst"
        },
    }
    for category in CATEGORIES:
        got = {k: v for k, v in fired(result, category).items() if v}
        assert got == expected[category], category
        assert result.filter(pl.col(f"rule_{category}"))["msisdn"].to_list() == list(got)


@pytest.mark.parametrize("person", ["driver", "call_centre", "enterprise", "enterprise_at_a_dormant_dealer", "family"])
def test_honest_look_alikes_fire_nothing(person):
    result = apply_rules(table(**{person: PEOPLE[person]}), load_rules())
    assert not any(result[f"rule_{c}"].any() for c in CATEGORIES)


def test_exact_names_in_rule_order():
    rules = [
        Rule("b-second", "simbox", (Condition("sms_out", "<=", 0.0),)),
        Rule("a-first", "simbox", (Condition("distinct_cells", "==", 1.0), Condition("voice_in", "<", 1.0))),
        Rule("other", "sms_spam", (Condition("sms_out", ">", 100.0),)),
        Rule("not", "sms_spam", (Condition("sms_out", "!=", 0.0),)),
    ]
    features = table(s={"sms_out": 0, "distinct_cells": 1, "voice_in": 0}, t={"sms_out": 0}, u={"sms_out": 200})
    result = apply_rules(features, rules)
    assert fired(result, "simbox") == {"s": "b-second; a-first", "t": "b-second", "u": ""}
    assert fired(result, "sms_spam") == {"s": "", "t": "", "u": "other; not"}
    assert result["rule_simbox"].to_list() == [True, True, False]
    assert fired(result, "voice_spam") == {"s": "", "t": "", "u": ""}


@pytest.mark.parametrize("op", [">=", ">", "<=", "<", "==", "!="])
@pytest.mark.parametrize("missing", [None, float("nan")])
def test_a_missing_value_never_satisfies_a_comparison(op, missing):
    rules = [Rule("r", "voice_spam", (Condition("reciprocity", op, 0.5),)),
             Rule("null", "voice_spam", (Condition("reciprocity", "is_null", None),))]
    result = apply_rules(table(x={"reciprocity": missing}), rules)
    assert result["rules_voice_spam"].to_list() == ["null"]


def test_every_feature_null_fires_only_is_null_rules():
    nulls = table(x={f: None for f in FEATURES})
    result = apply_rules(nulls, load_rules())
    assert not any(result[f"rule_{c}"].any() for c in CATEGORIES)
    (row,) = apply_rules(nulls, [Rule("n", "simbox", (Condition("gap_cv", "is_null", None),))]).iter_rows()
    assert row == ("x", False, "", False, "", True, "n", False, "")


def test_integer_columns_work():
    features = pl.DataFrame({"msisdn": ["a", "b"], "sms_out": [0, 5]}, schema_overrides={"sms_out": pl.Int64})
    result = apply_rules(features, [Rule("r", "simbox", (Condition("sms_out", "<=", 0.0),))])
    assert result["rule_simbox"].to_list() == [True, False]


def test_rule_with_absent_catalogue_column_is_skipped():
    features = table(x=PEOPLE["spammer"]).drop("voice_burst_10m_max")
    result = apply_rules(features, load_rules())
    assert result["rules_voice_spam"].to_list() == ["low-and-slow strangers"]


def test_column_in_neither_table_nor_catalogue_is_input_error():
    rules = [Rule("r", "voice_spam", (Condition("carrier_score", ">=", 0.9),))]
    with pytest.raises(InputError, match="rule 'r': feature 'carrier_score' is neither"):
        apply_rules(table(x={}), rules)


def test_non_numeric_column_is_input_error():
    rules = [Rule("r", "voice_spam", (Condition("msisdn", ">=", 1.0),))]
    with pytest.raises(InputError, match="not numeric"):
        apply_rules(table(x={}), rules)


def test_empty_table_and_no_rules():
    empty = table(x={}).head(0)
    result = apply_rules(empty, load_rules())
    assert result.height == 0 and result.width == 1 + 2 * len(CATEGORIES)
    result = apply_rules(table(x={}, y={}), [])
    assert result["rules_simbox"].to_list() == ["", ""] and result["rule_simbox"].to_list() == [False, False]
