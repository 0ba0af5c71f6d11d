"""``--graph`` as a user meets it: features, train and score on an edge list, and its one-line errors."""

import polars as pl
import pytest

from detector.engine.pipeline import read_inputs
from detector.simulate import generate_world
from features.catalogue import FEATURES
from tests.detector.test_cli import assert_one_line_error, detector
from tests.features.test_graph import edge_list

EDGES = "caller,callee,calls\n84900000001,84900000002,3\n"


@pytest.fixture(scope="module")
def graph_world(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli_graph")
    generate_world(base, subscribers=1500, days=2, seed=41, fmt="parquet", evasion=0.1, noise=0.0)
    edge_list(read_inputs([base / "cdr"]).batch.cdrs).write_parquet(base / "edges.parquet")
    return base


def test_features_train_and_score_on_a_graph(graph_world, tmp_path):
    base = graph_world
    features = detector("features", "--graph", base / "edges.parquet", "--subscribers", base / "subscribers.csv",
                        "--out", tmp_path / "f.parquet")
    assert features.returncode == 0, features.stderr
    assert "edges" in features.stdout
    table = pl.read_parquet(tmp_path / "f.parquet")
    assert table.columns == ["msisdn", *FEATURES]
    assert table["gap_cv"].is_null().all() and table["voice_out"].is_not_null().all()

    model = tmp_path / "graph.skops"
    trained = detector("train", "--graph", base / "edges.parquet", "--subscribers", base / "subscribers.csv",
                       "--labels", base / "labels.csv", "--model", model, "--max-iter", "30",
                       env={"OMP_NUM_THREADS": "1"})
    assert trained.returncode == 0, trained.stderr
    for model_args in ([], ["--model", model]):  # the shipped model, and the one trained on graphs
        out = tmp_path / f"run{len(model_args)}"
        scored = detector("score", "--graph", base / "edges.parquet", "--subscribers", base / "subscribers.csv",
                          "--out", out, *model_args, env={"OMP_NUM_THREADS": "1"})
        assert scored.returncode == 0, scored.stderr
        assert sorted(p.name for p in out.iterdir()) == ["flagged.csv", "rejects.csv", "report.html", "scores.parquet"]
        flagged = pl.read_csv(out / "flagged.csv", schema_overrides={"msisdn": pl.Utf8})
        assert flagged.height > 0 and flagged["reasons"].str.len_chars().min() > 0
        assert pl.read_parquet(out / "scores.parquet").height == table.height


def test_reasons_never_cite_a_feature_the_graph_lacks(graph_world, tmp_path):
    """Every statement a reason may make, for a table where what the graph lacks is null: none of
    those statements fires, and no fallback states a null value."""
    from features.graph import computed_features
    from models.reasons import EVIDENCE, FALLBACK, explain

    base = graph_world
    result = detector("features", "--graph", base / "edges.parquet", "--out", tmp_path / "f.parquet")
    assert result.returncode == 0, result.stderr
    table = pl.read_parquet(tmp_path / "f.parquet")
    computed = set(computed_features({"voice_calls", "sms", "answered_calls", "duration_s_total", "first_time",
                                      "last_time"}))
    for category, evidence in EVIDENCE.items():
        reasons = explain(table, category)
        missing = [e for e in evidence if not set(e.needs) <= computed]
        for e in missing:
            fired = table.select(e.when.fill_null(False)).to_series()
            assert not fired.any(), (category, e.needs)
        for needs, text in FALLBACK[category]:
            if not set(needs) <= computed:
                assert table.select(text).to_series().is_null().all(), needs
        assert reasons.str.len_chars().min() > 0


def test_both_or_neither_input_is_one_line_exit_2(tmp_path):
    g = tmp_path / "g.csv"
    g.write_text(EDGES)
    for command, extra in (("features", ["--out", tmp_path / "f.parquet"]),
                           ("train", ["--labels", tmp_path / "l.csv", "--model", tmp_path / "m.skops"]),
                           ("score", ["--out", tmp_path / "run"])):
        assert_one_line_error(detector(command, *extra), "--cdr", "--graph")
        assert_one_line_error(detector(command, "--graph", g, "--cdr", g, *extra), "not both")


@pytest.mark.parametrize(("text", "fragment"), [
    ("caller,callee,calls\n84900000001,84900000002,-1\n", "negative calls"),
    ("caller,callee\n84900000001,84900000002\n", "required column 'calls' is missing"),
    ("caller,callee,calls\n", "no edges"),
])
def test_bad_edge_lists_are_one_line_exit_2(tmp_path, text, fragment):
    g = tmp_path / "g.csv"
    g.write_text(text)
    assert_one_line_error(detector("features", "--graph", g, "--out", tmp_path / "f.parquet"), fragment)
    assert_one_line_error(detector("score", "--graph", g, "--out", tmp_path / "run"), fragment)


def test_a_graph_is_not_partitioned(tmp_path):
    g = tmp_path / "g.csv"
    g.write_text(EDGES)
    assert_one_line_error(detector("features", "--graph", g, "--out", tmp_path / "f.parquet", "--partitions", "4"),
                          "--graph is read in memory")
