"""The case ledger across nights: opened, extended, closed, reopened; a night counts once."""

from __future__ import annotations

import datetime as dt

import polars as pl

from detector.engine.cases import changes, update_cases, with_case_columns
from detector.state.store import CASE_COLUMNS

D1, D2, D3, D4 = (dt.date(2026, 11, d) for d in (2, 3, 4, 5))
EMPTY = pl.DataFrame(schema=CASE_COLUMNS)


def flags(*rows: tuple[str, str, float]) -> pl.DataFrame:
    return pl.DataFrame({"msisdn": [r[0] for r in rows], "category": [r[1] for r in rows],
                         "score": [r[2] for r in rows], "source": ["model"] * len(rows),
                         "reasons": [f"reason {r[2]}" for r in rows]},
                        schema={"msisdn": pl.Utf8, "category": pl.Utf8, "score": pl.Float64, "source": pl.Utf8,
                                "reasons": pl.Utf8})


def case(cases: pl.DataFrame, msisdn: str, category: str = "voice_spam") -> dict:
    return cases.filter((pl.col("msisdn") == msisdn) & (pl.col("category") == category)).to_dicts()[0]


def test_a_case_opens_extends_closes_and_reopens():
    night1 = update_cases(EMPTY, flags(("841", "voice_spam", 0.9), ("842", "sms_spam", 0.8)), D1, 7)
    first = case(night1, "841")
    assert (first["status"], first["first_flagged"], first["nights_flagged"], first["change"]) == ("open", D1, 1, "opened")
    night2 = update_cases(night1, flags(("841", "voice_spam", 0.95)), D2, 7)
    extended, gone = case(night2, "841"), case(night2, "842", "sms_spam")
    assert (extended["nights_flagged"], extended["last_flagged"], extended["highest_score"]) == (2, D2, 0.95)
    assert extended["changed_on"] == D1  # extending is not a change
    assert (gone["status"], gone["change"], gone["changed_on"]) == ("closed", "closed", D2)
    assert "never confirmed" in gone["change_reason"]
    assert changes(night2, D2).to_dicts() == [
        {"msisdn": "842", "category": "sms_spam", "change": "closed", "reason": gone["change_reason"]}]
    night3 = update_cases(night2, flags(("841", "voice_spam", 0.7), ("842", "sms_spam", 0.85)), D3, 7)
    back = case(night3, "842", "sms_spam")
    assert (back["status"], back["change"], back["first_flagged"], back["nights_flagged"]) == ("open", "reopened", D1, 2)
    assert case(night3, "841")["highest_score"] == 0.95 and case(night3, "841")["score"] == 0.7


def test_a_night_run_again_counts_once_and_says_the_same_changes():
    night1 = update_cases(EMPTY, flags(("841", "voice_spam", 0.9)), D1, 7)
    night2 = update_cases(night1, flags(("843", "simbox", 0.9)), D2, 7)
    again = update_cases(night2, flags(("843", "simbox", 0.9)), D2, 7)
    assert again.equals(night2)
    assert set(changes(again, D2)["change"]) == {"opened", "closed"}
    later = update_cases(again, flags(("843", "simbox", 0.9)), D4, 7)
    assert case(later, "843", "simbox")["nights_flagged"] == 2 and changes(later, D4).is_empty()


def test_flagged_rows_get_their_case():
    tonight = flags(("841", "voice_spam", 0.9), ("841", "sms_spam", 0.6))
    cases = update_cases(update_cases(EMPTY, tonight.head(1), D1, 7), tonight, D2, 7)
    out = with_case_columns(tonight, cases)
    assert out.select("msisdn", "category", "first_flagged", "nights_flagged", "status").rows() == [
        ("841", "voice_spam", D1, 2, "open"), ("841", "sms_spam", D2, 1, "open")]
    assert update_cases(EMPTY, flags(), D1, 7).is_empty()
