"""``--features`` (a ready per-number table) and labels for some categories, as a user meets them:
train and score on a table of custom columns, its one-line errors, and a model of one category."""

import json

import polars as pl
import pytest

from detector.simulate import generate_world
from models.model_file import load_model
from tests.detector.test_cli import assert_one_line_error, detector

#: One OpenMP thread: on a few thousand numbers the trees' threads cost more than they give.
ONE_THREAD = {"OMP_NUM_THREADS": "1"}
#: A carrier's own names for a few of the engine's columns.
OWN_NAMES = {"voice_out_per_day_mean": "calls_a_day", "reciprocity": "called_back",
             "sms_out_per_day_mean": "texts_a_day", "voice_answered_ratio": "answered",
             "sims_per_id": "sims_on_id", "prepaid": "is_prepaid", "voice_dur_mean": "call_length"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli_features")
    generate_world(base, subscribers=3000, days=2, seed=31, fmt="parquet", evasion=0.1, noise=0.0)
    made = detector("features", "--cdr", base / "cdr", "--subscribers", base / "subscribers.csv",
                    "--out", base / "features.parquet")
    assert made.returncode == 0, made.stderr
    own = pl.read_parquet(base / "features.parquet").select("msisdn", *(pl.col(k).alias(v) for k, v in OWN_NAMES.items()))
    own.write_parquet(base / "own.parquet")
    own.write_csv(base / "own.csv")
    labels = pl.read_csv(base / "labels.csv", schema_overrides={"msisdn": pl.Utf8})
    labels.filter(pl.col("label") == "simbox").write_csv(base / "simbox_labels.csv")
    return base


@pytest.fixture(scope="module")
def own_model(world):
    model = world / "own.skops"
    trained = detector("train", "--features", world / "own.parquet", "--labels", world / "labels.csv",
                       "--model", model, "--max-iter", "30", env=ONE_THREAD)
    assert trained.returncode == 0, trained.stderr
    assert "Note" not in trained.stderr  # all four categories have labels
    return model


def test_train_and_score_on_a_table_of_own_columns(world, own_model, tmp_path):
    assert load_model(own_model).features == list(OWN_NAMES.values())
    out = tmp_path / "run"
    scored = detector("score", "--features", world / "own.csv", "--model", own_model, "--out", out, env=ONE_THREAD)
    assert scored.returncode == 0, scored.stderr
    assert "subscriber registry" not in scored.stderr  # a ready table has the evidence it has
    assert sorted(p.name for p in out.iterdir()) == ["flagged.csv", "rejects.csv", "report.html", "scores.parquet"]
    scores = pl.read_parquet(out / "scores.parquet")
    assert scores.height == pl.read_parquet(world / "own.parquet").height
    assert scores.select(pl.all().is_null().any()).row(0) == (False,) * scores.width
    flagged = pl.read_csv(out / "flagged.csv", schema_overrides={"msisdn": pl.Utf8})
    assert flagged.height > 0 and set(flagged["category"]) <= {"voice_spam", "sms_spam", "simbox", "preactivated_sim"}
    evaluated = detector("evaluate", "--scores", out / "scores.parquet", "--labels", world / "labels.csv", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    assert all(r["pr_auc"] > 0.5 for r in json.loads(evaluated.stdout)["categories"])


@pytest.mark.parametrize(("text", "fragments"), [
    ("msisdn,calls_a_day\n84900000001,3\n", ["lacks 6 column(s)", "called_back", "call_length"]),
    ("msisdn,calls_a_day,name\n84900000001,3,bob\n", ["column 'name' is not numeric"]),
    ("msisdn,calls_a_day\n", ["no rows"]),
    ("number,calls_a_day\n84900000001,3\n", ["required column 'msisdn' is missing"]),
    ("msisdn,calls_a_day\n0900000001,3\n84900000001,4\n", ["msisdn 84900000001 is on 2 rows"]),
])
def test_a_table_the_model_cannot_score_is_one_line_exit_2(own_model, tmp_path, text, fragments):
    table = tmp_path / "t.csv"
    table.write_text(text)
    result = detector("score", "--features", table, "--model", own_model, "--out", tmp_path / "run")
    assert_one_line_error(result, *fragments)
    assert not (tmp_path / "run").exists()


def test_features_is_a_third_input_of_its_own(world, tmp_path):
    own = world / "own.parquet"
    assert_one_line_error(detector("score", "--features", own, "--cdr", world / "cdr", "--out", tmp_path / "r"),
                          "not both --cdr and --features")
    assert_one_line_error(detector("train", "--labels", world / "labels.csv", "--model", tmp_path / "m.skops"),
                          "--cdr", "--graph", "--features")
    assert_one_line_error(detector("train", "--features", own, "--subscribers", world / "subscribers.csv",
                                   "--labels", world / "labels.csv", "--model", tmp_path / "m.skops"),
                          "--subscribers does not apply to --features")
    assert_one_line_error(detector("score", "--features", own, "--out", tmp_path / "r", "--partitions", "3"),
                          "--features is read in memory")


@pytest.mark.parametrize("source", ["cdr", "features"])
def test_labels_of_one_category_train_and_score_that_category_only(world, tmp_path, source):
    inputs = ["--cdr", world / "cdr"] if source == "cdr" else ["--features", world / "own.parquet"]
    model = tmp_path / "simbox.skops"
    trained = detector("train", *inputs, "--labels", world / "simbox_labels.csv", "--model", model,
                       "--max-iter", "30", env=ONE_THREAD)
    assert trained.returncode == 0, trained.stderr
    assert ("Note: no voice_spam labels; no sms_spam labels; no preactivated_sim labels: those categories are "
            "not trained") in trained.stderr
    assert "simbox" in trained.stdout
    assert load_model(model).categories == ["simbox"]
    out = tmp_path / "run"
    scored = detector("score", *inputs, "--model", model, "--out", out, env=ONE_THREAD)
    assert scored.returncode == 0, scored.stderr
    assert "not trained for voice_spam, sms_spam and preactivated_sim" in scored.stderr
    scores = pl.read_parquet(out / "scores.parquet")
    assert scores["score_simbox"].is_not_null().all()
    for category in ("voice_spam", "sms_spam", "preactivated_sim"):
        assert scores[f"score_{category}"].is_null().all()
    flagged = pl.read_csv(out / "flagged.csv")
    assert flagged.height > 0 and set(flagged["category"]) == {"simbox"}

    evaluated = detector("evaluate", "--scores", out / "scores.parquet", "--labels", world / "labels.csv", "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    rows = {r["category"]: r for r in json.loads(evaluated.stdout)["categories"]}
    assert rows["simbox"]["pr_auc"] > 0.5 and rows["sms_spam"]["pr_auc"] is None
    assert "sms_spam" in evaluated.stderr and "no scores" in evaluated.stderr
