"""Tests for the synthetic carrier (detector.simulate): determinism, files, ground truth, behaviour."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from detector.contract import CATEGORIES
from detector.inputs.numbers import normalise_number
from detector.simulate import WorldSummary, generate_world
from detector.simulate.personas import PERSONA_NAMES

SMALL = {"subscribers": 2000, "days": 3}
CDR_COLUMNS = ["caller", "callee", "start_time", "duration_s", "event_type", "answered", "cell_id", "imei"]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _cdr(root: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted((root / "cdr").glob("*.parquet")))


def _personas(root: Path) -> pl.DataFrame:
    return pl.read_csv(root / "personas.csv", schema_overrides={"msisdn": pl.Utf8})


def _with_persona(cdr: pl.DataFrame, personas: pl.DataFrame, side: str) -> pl.DataFrame:
    return cdr.join(personas.rename({"msisdn": side, "persona": f"{side}_persona"}), on=side, how="left")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, WorldSummary]:
    """A clean (noise 0) textbook world, 4 days so that spam rigs rotate SIMs."""
    root = tmp_path_factory.mktemp("clean")
    return root, generate_world(root, subscribers=2000, days=4, seed=7, noise=0.0)


@pytest.fixture(scope="module")
def clean_cdr(clean: tuple[Path, WorldSummary]) -> pl.DataFrame:
    root, _ = clean
    personas = _personas(root)
    return _with_persona(_with_persona(_cdr(root), personas, "caller"), personas, "callee")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_seed_gives_identical_files(tmp_path: Path, fmt: str) -> None:
    a = generate_world(tmp_path / "a", seed=3, fmt=fmt, evasion=0.3, **SMALL)
    b = generate_world(tmp_path / "b", seed=3, fmt=fmt, evasion=0.3, **SMALL)
    assert a == b
    files_a, files_b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert files_a.keys() == files_b.keys()
    assert all(files_a[name] == files_b[name] for name in files_a)


def test_different_seed_gives_different_world(tmp_path: Path) -> None:
    generate_world(tmp_path / "a", seed=1, **SMALL)
    generate_world(tmp_path / "b", seed=2, **SMALL)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    for name in ("subscribers.csv", "labels.csv", "cdr/cdr_2026-11-02.parquet"):
        assert a[name] != b[name]


def test_files_layout_and_schema(tmp_path: Path) -> None:
    generate_world(tmp_path / "p", start_date=dt.date(2026, 1, 30), **SMALL)
    generate_world(tmp_path / "c", fmt="csv", start_date=dt.date(2026, 1, 30), **SMALL)
    names = ["cdr_2026-01-30", "cdr_2026-01-31", "cdr_2026-02-01"]
    assert sorted(p.stem for p in (tmp_path / "p" / "cdr").iterdir()) == names
    assert sorted(p.name for p in (tmp_path / "c" / "cdr").iterdir()) == [n + ".csv" for n in names]
    schema = pl.read_parquet_schema(tmp_path / "p" / "cdr" / "cdr_2026-01-30.parquet")
    assert list(schema) == CDR_COLUMNS
    assert schema["start_time"] == pl.Datetime("us") and schema["start_time"].time_zone is None
    assert schema["duration_s"] == pl.Int64 and schema["answered"] == pl.Boolean
    assert all(schema[c] == pl.Utf8 for c in ("caller", "callee", "event_type", "cell_id", "imei"))
    header = (tmp_path / "c" / "cdr" / "cdr_2026-01-30.csv").read_text().splitlines()[0]
    assert header == ",".join(CDR_COLUMNS)
    registry = pl.read_csv(tmp_path / "c" / "subscribers.csv", infer_schema=False)
    assert registry.columns == [
        "msisdn",
        "activation_time",
        "dealer_id",
        "id_number",
        "subscription_type",
        "iccid",
        "imsi",
        "activation_cell",
    ]
    assert registry.height == SMALL["subscribers"] and registry["msisdn"].is_unique().all()
    assert registry["msisdn"].str.contains(r"^84\d{9}$").all()
    assert registry["activation_time"].str.to_datetime("%Y-%m-%d %H:%M:%S").null_count() == 0
    assert set(registry["subscription_type"]) <= {"prepaid", "postpaid", "enterprise"}


def test_every_persona_and_label_is_present(clean: tuple[Path, WorldSummary]) -> None:
    root, summary = clean
    personas = _personas(root)
    assert set(personas["persona"]) == set(PERSONA_NAMES)
    assert personas["msisdn"].is_unique().all()
    labels = pl.read_csv(root / "labels.csv", schema_overrides={"msisdn": pl.Utf8})
    assert labels.columns == ["msisdn", "label"]
    assert set(labels["label"]) == set(CATEGORIES)
    assert labels.is_unique().all()
    assert summary.labels == {c: int((labels["label"] == c).sum()) for c in CATEGORIES}
    assert summary.personas == {p: int((personas["persona"] == p).sum()) for p in PERSONA_NAMES}
    # Only home subscribers are labelled, and honest personas never are.
    registry = pl.read_csv(root / "subscribers.csv", schema_overrides={"msisdn": pl.Utf8})
    assert labels["msisdn"].is_in(registry["msisdn"].implode()).all()
    labelled = labels.join(personas, on="msisdn")
    honest = {
        "ordinary",
        "family",
        "new_subscriber",
        "enterprise_employee",
        "delivery_driver",
        "salesperson",
        "taxi_dispatch",
        "call_centre",
        "offnet",
        "international",
    }
    assert not set(labelled["persona"]) & honest
    # Fraud positives are a few percent of home subscribers.
    assert 0.01 < labels["msisdn"].n_unique() / registry.height < 0.12
    # Pre-activated SIMs that became spam SIMs carry both labels.
    both = labels.group_by("msisdn").agg(pl.col("label"))
    assert both.filter(pl.col("label").list.len() > 1).height > 0


def test_allowlist_holds_the_call_centres(clean: tuple[Path, WorldSummary]) -> None:
    root, _ = clean
    allow = pl.read_csv(root / "allowlist.csv", schema_overrides={"msisdn": pl.Utf8})
    personas = _personas(root)
    assert allow.columns == ["msisdn"] and allow.height >= 3
    assert set(allow.join(personas, on="msisdn")["persona"]) == {"call_centre"}
    assert allow.height == (personas["persona"] == "call_centre").sum()


def test_noise_zero_is_canonical(clean: tuple[Path, WorldSummary], clean_cdr: pl.DataFrame) -> None:
    root, summary = clean
    assert summary.duplicates == 0 and summary.garbage_rows == 0
    cdr = clean_cdr
    for col in ("caller", "callee"):
        normalised = cdr.select(normalise_number(pl.col(col))).to_series()
        assert (normalised == cdr[col]).all()
        assert cdr[col].str.contains(r"^\d{10,14}$").all()
    assert cdr.select(CDR_COLUMNS).is_duplicated().sum() == 0
    assert cdr["answered"].null_count() == 0 and cdr["event_type"].is_in(["voice", "sms"]).all()
    assert (cdr["duration_s"] >= 0).all()
    assert ((cdr["duration_s"] > 0) == cdr["answered"]).all()
    # Cell and handset are known exactly for this carrier's own SIMs.
    home = cdr["caller_persona"].is_in(["offnet", "international"]).not_()
    assert (cdr["cell_id"].is_not_null() == home).all() and (cdr["imei"].is_not_null() == home).all()
    for path in sorted((root / "cdr").glob("*.parquet")):
        day = pl.read_parquet(path)
        assert day["start_time"].is_sorted()
        assert (day["start_time"].dt.date().cast(pl.Utf8) == path.stem.removeprefix("cdr_")).all()


def test_noise_only_changes_the_export(tmp_path: Path) -> None:
    """With noise the same events come out, in other number forms, with duplicates and garbage."""
    generate_world(tmp_path / "clean", seed=5, noise=0.0, **SMALL)
    summary = generate_world(tmp_path / "noisy", seed=5, noise=1.0, **SMALL)
    assert summary.duplicates > 0 and summary.garbage_rows >= SMALL["days"]
    key = ["caller", "callee", "start_time", "duration_s", "event_type"]
    clean = _cdr(tmp_path / "clean").select(key)
    noisy = _cdr(tmp_path / "noisy")
    assert noisy.height == clean.height + summary.duplicates + summary.garbage_rows
    forms = noisy["caller"].drop_nulls()
    assert forms.str.starts_with("0").any() and forms.str.starts_with("+84 ").any()
    assert forms.str.starts_with("0084").any() and forms.str.contains(r"^(84|0)1\d{9}$").any()  # retired forms
    assert noisy["cell_id"].null_count() > 0 and noisy["answered"].null_count() > 0
    garbage = noisy["caller"].is_null() | (noisy["duration_s"] < 0) | ~noisy["event_type"].is_in(["voice", "sms"])
    assert int(garbage.sum()) == summary.garbage_rows
    repaired = noisy.filter(~garbage).select(
        normalise_number(pl.col("caller")).alias("caller"),
        normalise_number(pl.col("callee")).alias("callee"),
        *key[2:],
    )
    assert repaired.height == clean.height + summary.duplicates
    assert repaired.unique().sort(key).equals(clean.unique().sort(key))


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_manifest_counts_match_files(tmp_path: Path, fmt: str) -> None:
    summary = generate_world(tmp_path, fmt=fmt, seed=11, **SMALL)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["parameters"]["subscribers"] == SMALL["subscribers"] and manifest["parameters"]["fmt"] == fmt
    rows = manifest["summary"]["rows_per_file"]
    assert rows == summary.rows_per_file and len(rows) == SMALL["days"]
    for name, count in rows.items():
        path = tmp_path / name
        if fmt == "csv":
            assert path.read_bytes().count(b"\n") - 1 == count
        else:
            assert pl.read_parquet(path).height == count
    assert manifest["summary"]["total_rows"] == sum(rows.values()) == summary.total_rows
    assert manifest["summary"]["garbage_rows"] == summary.garbage_rows > 0
    assert manifest["summary"]["duplicates"] == summary.duplicates > 0


def test_progress_is_reported_once_per_day_and_once_for_the_population(tmp_path: Path) -> None:
    messages: list[str] = []
    generate_world(tmp_path, progress=messages.append, **SMALL)
    assert len(messages) == SMALL["days"] + 1


@pytest.mark.parametrize(
    "kwargs", [{"subscribers": 10}, {"days": 0}, {"fmt": "xlsx"}, {"evasion": 1.5}, {"noise": -1.0}]
)
def test_bad_parameters_are_refused(tmp_path: Path, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        generate_world(tmp_path, **{**SMALL, **kwargs})


# --- behaviour of each persona --------------------------------------------------------------------


def _per_caller(cdr: pl.DataFrame) -> pl.DataFrame:
    """Per caller and active day: calls, distinct callees, answer rate, SMS."""
    return (
        cdr.with_columns(pl.col("start_time").dt.date().alias("date"))
        .group_by("caller", "caller_persona", "date")
        .agg(
            (pl.col("event_type") == "voice").sum().alias("calls"),
            pl.col("callee").filter(pl.col("event_type") == "voice").n_unique().alias("distinct"),
            pl.col("answered").filter(pl.col("event_type") == "voice").mean().alias("answer_rate"),
            (pl.col("event_type") == "sms").sum().alias("sms"),
        )
    )


def test_simbox_sims_only_call_out_with_normal_calls(clean_cdr: pl.DataFrame) -> None:
    box = clean_cdr.filter(pl.col("caller_persona") == "simbox")
    assert box.height > 0
    assert clean_cdr.filter(pl.col("callee_persona") == "simbox").height == 0  # never receive
    assert (box["event_type"] == "voice").all()  # never text
    assert box.group_by("caller").agg(pl.col("cell_id").n_unique())["cell_id"].max() == 1  # never move
    answered = box.filter(pl.col("answered"))
    assert answered["duration_s"].median() > 45 and box["answered"].mean() > 0.7
    assert (box["start_time"].dt.hour() < 6).mean() > 0.1  # around the clock
    # A farm shares its cells.
    assert box["cell_id"].n_unique() <= 3 * max(1, box["imei"].n_unique())


def test_bulk_voice_spam_sweeps_strangers(clean_cdr: pl.DataFrame) -> None:
    daily = _per_caller(clean_cdr)
    spam = daily.filter(pl.col("caller_persona") == "voice_spam_bulk")
    ordinary = daily.filter(pl.col("caller_persona") == "ordinary")
    assert spam["distinct"].median() > 20 * ordinary["distinct"].quantile(0.9)
    assert spam["answer_rate"].median() < 0.4 < ordinary["answer_rate"].median()
    calls = clean_cdr.filter((pl.col("caller_persona") == "voice_spam_bulk") & (pl.col("event_type") == "voice"))
    assert calls.filter(pl.col("answered"))["duration_s"].median() < 15
    # Several SIMs rotate through one handset.
    assert calls.group_by("imei").agg(pl.col("caller").n_unique())["caller"].max() >= 2
    # Strangers never call back.
    callers = set(calls["caller"])
    assert (
        clean_cdr.filter(pl.col("callee").is_in(list(callers)) & (pl.col("event_type") == "voice")).height
        < 0.01 * calls.height
    )


def test_wangiri_rings_once_and_victims_call_back(clean_cdr: pl.DataFrame) -> None:
    rings = clean_cdr.filter((pl.col("caller_persona") == "wangiri") & (pl.col("event_type") == "voice"))
    assert rings.height > 100
    assert (rings["duration_s"] == 0).all() and not rings["answered"].any()
    people = ["ordinary", "family", "enterprise_employee", "offnet"]
    back = clean_cdr.filter((pl.col("callee_persona") == "wangiri") & pl.col("caller_persona").is_in(people))
    assert back.height > 0.03 * rings.height and back["answered"].all()


def test_sms_spam_sends_in_bulk_without_replies(clean_cdr: pl.DataFrame) -> None:
    daily = _per_caller(clean_cdr)
    bulk = daily.filter(pl.col("caller_persona") == "sms_spam_bulk")
    spread = daily.filter(pl.col("caller_persona") == "sms_spam_spread")
    assert bulk["sms"].median() > 200 and spread["sms"].median() > 30
    sent = clean_cdr.filter(pl.col("caller_persona").is_in(["sms_spam_bulk", "sms_spam_spread"]))
    # Nobody replies (another spammer's sweep may still hit a spam SIM now and then).
    replies = clean_cdr.join(
        sent.select(pl.col("callee").alias("caller"), pl.col("caller").alias("callee")).unique(),
        on=["caller", "callee"],
    )
    assert replies.height < 0.001 * sent.height


def test_low_and_slow_spam_stays_under_thresholds(clean_cdr: pl.DataFrame) -> None:
    daily = _per_caller(clean_cdr)
    slow = daily.filter(pl.col("caller_persona") == "voice_spam_lowslow")
    assert 10 <= slow["calls"].median() <= 60
    # It has a thin cover: a few people who call it.
    assert clean_cdr.filter(pl.col("callee_persona") == "voice_spam_lowslow").height > 0


def test_mobile_workers_look_busy_but_honest(clean_cdr: pl.DataFrame) -> None:
    daily = _per_caller(clean_cdr)
    drivers = daily.filter(pl.col("caller_persona") == "delivery_driver")
    assert drivers["distinct"].median() > 20 and drivers["answer_rate"].median() > 0.8
    calls = clean_cdr.filter(pl.col("caller_persona") == "delivery_driver")
    assert calls.group_by("caller").agg(pl.col("cell_id").n_unique())["cell_id"].median() > 5
    assert clean_cdr.filter(pl.col("callee_persona") == "delivery_driver").height > 0.2 * calls.height


def test_ordinary_traffic_is_reciprocal_with_a_daily_rhythm(clean_cdr: pl.DataFrame) -> None:
    voice = clean_cdr.filter(pl.col("event_type") == "voice")
    pairs = voice.select("caller", "callee", "caller_persona").unique()
    reverse = pairs.select(
        pl.col("callee").alias("caller"), pl.col("caller").alias("callee"), pl.lit(True).alias("back")
    )
    ordinary = pairs.filter(pl.col("caller_persona") == "ordinary").join(reverse, on=["caller", "callee"], how="left")
    assert ordinary["back"].fill_null(False).mean() > 0.4
    hours = clean_cdr.filter(pl.col("caller_persona") == "ordinary")["start_time"].dt.hour()
    assert (hours < 6).mean() < 0.05
    assert 0.65 < voice.filter(pl.col("caller_persona") == "ordinary")["answered"].mean() < 0.95


def test_preactivated_batches_break_the_id_cap_unless_careful(tmp_path: Path) -> None:
    def batches(evasion: float) -> pl.DataFrame:
        root = tmp_path / str(evasion)
        generate_world(root, evasion=evasion, noise=0.0, **SMALL)
        registry = pl.read_csv(root / "subscribers.csv", schema_overrides={"msisdn": pl.Utf8})
        labels = pl.read_csv(root / "labels.csv", schema_overrides={"msisdn": pl.Utf8})
        registry = registry.with_columns(pl.len().over("id_number").alias("sims_per_id"))
        pre = labels.filter(pl.col("label") == "preactivated_sim").select("msisdn")
        return registry.join(pre, on="msisdn")

    textbook = batches(0.0)
    assert textbook["sims_per_id"].median() > 3
    numbers = textbook["msisdn"].cast(pl.Int64).sort()
    assert (numbers.diff() == 1).mean() > 0.5  # consecutive numbers
    careful = batches(1.0)
    assert careful["sims_per_id"].max() <= 3
    careful_numbers = careful["msisdn"].cast(pl.Int64).sort()
    assert (careful_numbers.diff() == 1).mean() < 0.2


def test_preactivated_used_sims_start_far_from_the_shop(
    clean: tuple[Path, WorldSummary], clean_cdr: pl.DataFrame
) -> None:
    root, _ = clean
    registry = pl.read_csv(root / "subscribers.csv", schema_overrides={"msisdn": pl.Utf8})
    used = clean_cdr.filter(pl.col("caller_persona") == "preactivated_used").select(
        pl.col("caller").alias("msisdn"), pl.col("cell_id").str.split("-").list.first().alias("lac")
    )
    shop = registry.select("msisdn", pl.col("activation_cell").str.split("-").list.first().alias("shop_lac"))
    joined = used.join(shop, on="msisdn")
    assert joined.height > 0 and (joined["lac"] != joined["shop_lac"]).all()


def test_enterprise_batch_is_one_id_consecutive_and_unlabelled(clean: tuple[Path, WorldSummary]) -> None:
    root, _ = clean
    registry = pl.read_csv(root / "subscribers.csv", schema_overrides={"msisdn": pl.Utf8})
    staff = registry.join(_personas(root).filter(pl.col("persona") == "enterprise_employee"), on="msisdn")
    assert staff.height >= 20 and staff["id_number"].n_unique() == 1 and staff["dealer_id"].n_unique() == 1
    assert (staff["subscription_type"] == "enterprise").all()
    assert (staff["msisdn"].cast(pl.Int64).sort().diff().drop_nulls() == 1).all()
    families = registry.join(_personas(root).filter(pl.col("persona") == "family"), on="msisdn")
    assert families.group_by("id_number").len()["len"].max() <= 3


def test_evasion_tones_fraud_down(tmp_path: Path) -> None:
    def volume(evasion: float) -> tuple[float, float]:
        root = tmp_path / str(evasion)
        generate_world(root, evasion=evasion, noise=0.0, **SMALL)
        personas = _personas(root)
        daily = _per_caller(_with_persona(_cdr(root), personas, "caller"))
        spam = daily.filter(pl.col("caller_persona") == "voice_spam_bulk")
        return float(spam["calls"].median()), float(spam["answer_rate"].median())

    calls0, answer0 = volume(0.0)
    calls_half, answer_half = volume(0.5)
    calls1, answer1 = volume(1.0)
    assert calls0 > calls_half > calls1
    assert answer0 < answer_half < answer1
    assert np.isfinite([calls0, calls1]).all()
