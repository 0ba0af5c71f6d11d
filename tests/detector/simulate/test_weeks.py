"""A generated month behaves like a month (issue 26 item 9): spam rigs replace blocked SIMs in the
same handset and go on with the same target list, pre-activated SIMs sleep and wake, subscribers
join and leave, low-and-slow spam lasts the month, and ``operations.csv`` is its ground truth."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from detector.simulate import generate_world

DAYS = 28
START = dt.date(2026, 11, 2)
#: Seed 3 gives both kinds of rig with successors: two sweeping in number order, one on a leaked list.
WORLD = dict(subscribers=3000, days=DAYS, seed=3, evasion=0.3, noise=0.0, start_date=START)
POOL_PERSONAS = ["ordinary", "family", "enterprise_employee", "offnet"]


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("month")
    generate_world(root, **WORLD)
    return root


def _csv(root: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(root / name, infer_schema=False)


@pytest.fixture(scope="module")
def cdr(month: Path) -> pl.DataFrame:
    return pl.read_parquet(sorted((month / "cdr").glob("*.parquet"))).with_columns(
        pl.col("start_time").dt.date().alias("date")
    )


@pytest.fixture(scope="module")
def traffic_days(cdr: pl.DataFrame) -> pl.DataFrame:
    """First and last day with traffic (made or received) of every number."""
    sides = pl.concat([cdr.select(pl.col(side).alias("msisdn"), "date") for side in ("caller", "callee")])
    return sides.group_by("msisdn").agg(pl.col("date").min().alias("first"), pl.col("date").max().alias("last"),
                                        pl.col("date").n_unique().alias("active_days"))


@pytest.fixture(scope="module")
def rig_calls(month: Path, cdr: pl.DataFrame) -> pl.DataFrame:
    """Every voice call of a rig's SIMs, in time order, with the rig and the SIM's first day."""
    rigs = _csv(month, "operations.csv").filter(pl.col("operation").str.starts_with("rig-"))
    return (cdr.filter(pl.col("event_type") == "voice")
            .join(rigs.select(pl.col("msisdn").alias("caller"), "operation", "first_day"), on="caller")
            .with_columns(pl.col("callee").cast(pl.Int64).alias("callee_n"))
            .sort("operation", "start_time"))


def test_a_rigs_successor_sims_keep_its_handset(rig_calls: pl.DataFrame) -> None:
    per_rig = rig_calls.group_by("operation").agg(pl.col("caller").n_unique().alias("sims"),
                                                  pl.col("imei").n_unique().alias("imeis"))
    burning = per_rig.filter(pl.col("sims") > 1)
    assert burning.height >= 2
    assert (burning["imeis"] == 1).mean() >= 0.5  # most rigs; a careful few change handset


def _boundaries(rig_calls: pl.DataFrame) -> pl.DataFrame:
    """Per SIM of a rig after its first: the last callees of the SIM before it, and its own first."""
    per_sim = (rig_calls.group_by("operation", "caller", maintain_order=True)
               .agg(pl.col("start_time").min().alias("t"), pl.col("callee_n").head(5).alias("head"),
                    pl.col("callee_n").tail(5).alias("tail"))
               .sort("operation", "t"))
    return per_sim.with_columns(pl.col("tail").shift(1).over("operation").alias("before")).drop_nulls("before")


def test_a_sweeping_rigs_successor_continues_the_sweep(rig_calls: pl.DataFrame) -> None:
    rising = rig_calls.group_by("operation").agg((pl.col("callee_n").diff() > 0).mean().alias("rising"))
    sweeping = rising.filter(pl.col("rising") > 0.9)["operation"]
    edges = _boundaries(rig_calls.filter(pl.col("operation").is_in(sweeping.implode())))
    assert edges.height >= 3
    # The successor's first numbers follow its predecessor's last ones (steps of 1-10; a few
    # calls can share a second, so a handful on each side), not a fresh stretch somewhere else.
    gap = edges["head"].list.min() - edges["before"].list.max()
    assert ((gap > -60) & (gap < 120)).mean() >= 0.8


def test_a_rig_on_a_leaked_list_reads_on_instead_of_starting_over(rig_calls: pl.DataFrame, month: Path) -> None:
    personas = _csv(month, "personas.csv")
    pool = int(personas["persona"].is_in(POOL_PERSONAS).sum())
    rising = rig_calls.group_by("operation").agg((pl.col("callee_n").diff() > 0).mean().alias("rising"),
                                                 pl.col("caller").n_unique().alias("sims"))
    reading = rising.filter((pl.col("rising") < 0.7) & (pl.col("sims") > 1))["operation"]
    assert reading.len() >= 1
    for rig in reading:
        first_pass = rig_calls.filter(pl.col("operation") == rig)["callee"].head(pool // 2)
        # Before the list comes round again every number on it is called once, by whichever SIM
        # the rig had then; only the rig's few cover calls (to a circle of its own) repeat.
        assert first_pass.n_unique() >= 0.99 * first_pass.len()


def test_some_preactivated_sims_sleep_for_weeks_then_wake(month: Path, traffic_days: pl.DataFrame) -> None:
    registry = _csv(month, "subscribers.csv")
    used = _csv(month, "personas.csv").filter(pl.col("persona") == "preactivated_used")
    woke = (used.join(registry, on="msisdn").join(traffic_days, on="msisdn")
            .with_columns(pl.col("activation_time").str.to_datetime().dt.date().alias("activated")))
    late = woke.filter((pl.col("first") - pl.lit(START)).dt.total_days() >= 7)
    assert late.height >= 3
    assert ((late["first"] - late["activated"]).dt.total_days() >= 14).all()  # dormant for weeks


def test_subscribers_join_and_leave_during_the_month(month: Path, traffic_days: pl.DataFrame) -> None:
    registry = _csv(month, "subscribers.csv").with_columns(
        pl.col("activation_time").str.to_datetime().dt.date().alias("activated"))
    seen = registry.join(traffic_days, on="msisdn")
    # Nobody has traffic before the SIM was sold.
    assert (seen["first"] >= seen["activated"]).all()
    joiners = seen.filter(pl.col("activated") > pl.lit(START))
    assert 0.005 <= joiners.height / registry.height <= 0.03
    assert ((joiners["first"] - joiners["activated"]).dt.total_days() <= 3).mean() > 0.8
    ordinary = _csv(month, "personas.csv").filter(pl.col("persona") == "ordinary").join(traffic_days, on="msisdn")
    end = START + dt.timedelta(days=DAYS - 1)
    leavers = ordinary.filter((pl.lit(end) - pl.col("last")).dt.total_days() >= 4)
    assert 0.004 <= leavers.height / ordinary.height <= 0.03


def test_low_and_slow_spam_lasts_the_whole_month(month: Path, traffic_days: pl.DataFrame) -> None:
    slow = _csv(month, "personas.csv").filter(pl.col("persona") == "voice_spam_lowslow").join(traffic_days, on="msisdn")
    assert slow.height >= 3
    assert (slow["first"] == START).all() and (slow["last"] == START + dt.timedelta(days=DAYS - 1)).all()
    assert (slow["active_days"] >= DAYS - 1).all()


def test_operations_are_fraud_groups_whose_days_match_their_traffic(month: Path, traffic_days: pl.DataFrame) -> None:
    ops = _csv(month, "operations.csv")
    assert ops.columns == ["msisdn", "operation", "first_day", "last_day"]
    assert ops.select("msisdn", "operation").is_unique().all()
    assert set(ops["operation"].str.extract(r"^([a-z]+)-\d+$")) == {"rig", "campaign", "farm", "batch"}
    labels = _csv(month, "labels.csv")
    assert ops["msisdn"].is_in(labels["msisdn"].implode()).all()
    rigs = ops.filter(pl.col("operation").str.starts_with("rig-")).join(labels, on="msisdn")
    assert rigs.filter(pl.col("label") == "voice_spam").select("msisdn").n_unique() == rigs["msisdn"].n_unique()
    joined = ops.join(traffic_days, on="msisdn", how="left")
    assert (joined["first_day"] == joined["first"].cast(pl.Utf8)).fill_null(False).sum() == joined["first"].count()
    assert (joined["last_day"] == joined["last"].cast(pl.Utf8)).fill_null(False).sum() == joined["last"].count()
    assert (joined["first_day"].is_null() == joined["first"].is_null()).all()  # dormant: no days
    assert joined["first_day"].is_null().any()
