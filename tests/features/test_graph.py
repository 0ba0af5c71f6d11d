"""The feature table of a call graph against build_features on the CDRs it summarises."""

import datetime as dt

import polars as pl
import pytest

from detector.engine.pipeline import feature_table, read_graph_inputs, read_inputs
from features.catalogue import FEATURES
from features.graph import computed_features

ALL = ("voice_calls", "sms", "answered_calls", "duration_s_total", "first_time", "last_time")


def edge_list(cdrs: pl.DataFrame) -> pl.DataFrame:
    """The call graph of canonical CDRs: one row per (caller, callee) with every optional column."""
    voice = pl.col("event_type") == "voice"
    answered = voice & pl.col("answered")
    return cdrs.group_by("caller", "callee").agg(
        pl.len().alias("calls"), voice.sum().alias("voice_calls"), (~voice).sum().alias("sms"),
        answered.sum().alias("answered_calls"), pl.col("duration_s").filter(answered).sum().alias("duration_s_total"),
        pl.col("start_time").min().alias("first_time"), pl.col("start_time").max().alias("last_time"),
    ).sort("caller", "callee")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A small noisy generated carrier, its CDR features and its call graph on disk."""
    from detector.simulate import generate_world

    root = tmp_path_factory.mktemp("graph_world")
    generate_world(root, subscribers=1200, days=2, seed=7, evasion=0.3, noise=1.0)
    inputs = read_inputs([root / "cdr"], root / "subscribers.csv")
    edges = edge_list(inputs.batch.cdrs)
    edges.write_csv(root / "edges.csv")
    return root, inputs, edges


def as_numbers(s: pl.Series) -> pl.Series:
    return (s.dt.epoch("us") if s.dtype == pl.Datetime("us") else s).cast(pl.Float64)


def assert_graph_table(ours: pl.DataFrame, ref: pl.DataFrame, computed: list[str]):
    assert ours.schema == ref.schema
    assert ours["msisdn"].to_list() == ref["msisdn"].to_list()
    for c in FEATURES:
        if c not in computed:
            assert ours[c].is_null().all(), c
            continue
        a, r = as_numbers(ours[c]), as_numbers(ref[c])
        assert (a.is_null() == r.is_null()).all(), c
        differ = ((a - r).abs() > 1e-9 * (1 + r.abs())).fill_null(False)
        assert not differ.any(), (c, pl.DataFrame({"msisdn": ours["msisdn"], "graph": a, "cdr": r}).filter(differ))


@pytest.mark.parametrize("registry", [True, False])
def test_every_feature_the_graph_gives_equals_the_cdrs(world, registry):
    root, inputs, _ = world
    subscribers = root / "subscribers.csv" if registry else None
    graph = read_graph_inputs([root / "edges.csv"], subscribers)
    assert graph.graph.columns == frozenset(ALL) and graph.rejects.height == (inputs.registry.rejects.height
                                                                                if registry else 0)
    if not registry:
        inputs = type(inputs)(batch=inputs.batch, registry=None)
    computed = computed_features(graph.graph.columns, registry)
    assert {"reciprocity", "voice_unrelated_ratio", "voice_callee_block_ratio", "voice_dur_mean"} <= set(computed)
    assert_graph_table(feature_table(graph), feature_table(inputs), computed)


@pytest.mark.parametrize("columns", [(), ("voice_calls",), ("sms", "answered_calls"), ("first_time",)])
def test_fewer_columns_give_fewer_features_never_other_values(world, tmp_path, columns):
    root, inputs, edges = world
    edges.select("caller", "callee", "calls", *columns).write_parquet(tmp_path / "edges.parquet")
    graph = read_graph_inputs([tmp_path / "edges.parquet"])
    expected = set(columns) | ({"voice_calls", "sms"} if {"voice_calls", "sms"} & set(columns) else set())
    assert graph.graph.columns == expected
    computed = computed_features(graph.graph.columns)
    if not expected & {"voice_calls", "sms"}:
        assert "voice_out" not in computed and "reciprocity" not in computed
    assert_graph_table(feature_table(graph), feature_table(type(inputs)(batch=inputs.batch, registry=None)),
                       computed)


def test_a_graph_by_hand(tmp_path):
    """A calls B twice (once answered, 30 s) and texts C; B calls A back; C only receives."""
    f = tmp_path / "g.csv"
    f.write_text("caller,callee,calls,voice_calls,sms,answered_calls,duration_s_total\n"
                 "84900000001,84900000002,2,2,0,1,30\n"
                 "84900000001,84900000003,1,0,1,0,0\n"
                 "84900000002,84900000001,1,1,0,1,5\n"
                 "84900000001,4470000000,1,1,0,0,0\n")
    table = feature_table(read_graph_inputs([f])).filter(pl.col("msisdn").str.ends_with("1"))
    row = table.row(0, named=True)
    assert table.height == 1 and row["msisdn"] == "84900000001"
    assert (row["voice_out"], row["voice_out_distinct"], row["sms_out"], row["voice_in"], row["sms_in"]) == (3, 2, 1, 1, 0)
    assert row["reciprocity"] == 0.5
    assert row["voice_unrelated_ratio"] == 0.5  # the foreign number, called once, never back
    assert row["voice_answered_ratio"] == pytest.approx(1 / 3) and row["voice_dur_mean"] == 30.0
    assert row["in_out_ratio"] == 0.25 and row["intl_out_ratio"] == 0.25
    assert row["voice_callee_block_ratio"] == 1.0
    assert row["gap_cv"] is None and row["window_days"] is None and row["imei_max_sims"] is None
    everyone = feature_table(read_graph_inputs([f]))
    assert everyone["msisdn"].to_list() == ["84900000001", "84900000002"]  # C and the foreign number only received


def test_empty_graph_after_rejects_gives_the_empty_table(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("caller,callee,calls\n,84900000002,1\n")
    graph = read_graph_inputs([f])
    assert graph.rejects["reason"].to_list() == ["missing caller"]
    table = feature_table(graph)
    assert table.height == 0 and table.columns == ["msisdn", *FEATURES]


def test_first_and_last_time_give_the_span(tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("caller,callee,calls,first_time,last_time\n"
                 "84900000001,84900000002,2,2026-11-02 08:00:00,2026-11-03 08:00:00\n"
                 "84900000001,84900000003,0,,\n")
    row = feature_table(read_graph_inputs([f])).row(0, named=True)
    assert row["first_out_time"] == dt.datetime(2026, 11, 2, 8) and row["active_span_days"] == 1.0
