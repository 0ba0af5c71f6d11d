"""train -> score -> evaluate as a carrier runs them: real subprocesses, files on disk."""

import json
import pickle

import polars as pl
import pytest

from detector.simulate import generate_world
from models.model_file import load_model, save_model
from tests.detector.test_cli import assert_one_line_error, detector


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli_models")
    generate_world(base / "train", subscribers=3000, days=2, seed=31, fmt="parquet", evasion=0.1, noise=0.0)
    generate_world(base / "new", subscribers=3000, days=2, seed=32, fmt="csv", evasion=0.3, noise=0.5)
    model = base / "model.skops"
    # One OpenMP thread: on ~5k numbers the trees' threads cost more than they give (a busy 2-core
    # machine: 55 s against 115 s, over the 120 s that tells a hung run).
    trained = detector("train", "--cdr", base / "train" / "cdr", "--subscribers", base / "train" / "subscribers.csv",
                       "--labels", base / "train" / "labels.csv", "--model", model, "--max-iter", "30",
                       env={"OMP_NUM_THREADS": "1"})
    assert trained.returncode == 0, trained.stderr
    out = base / "out"
    scored = detector("score", "--cdr", base / "new" / "cdr", "--subscribers", base / "new" / "subscribers.csv",
                      "--allowlist", base / "new" / "allowlist.csv", "--model", model, "--out", out)
    assert scored.returncode == 0, scored.stderr
    return base, model, out, scored, trained


def test_score_writes_the_contract_outputs(run):
    base, _, out, scored, _ = run
    assert sorted(p.name for p in out.iterdir()) == ["flagged.csv", "rejects.csv", "report.html", "scores.parquet"]
    flagged = pl.read_csv(out / "flagged.csv", schema_overrides={"msisdn": pl.Utf8})
    assert flagged.columns[:4] == ["msisdn", "category", "score", "reasons"]
    assert flagged.height > 0 and flagged["reasons"].str.len_chars().min() > 0
    assert set(flagged["source"]) <= {"model", "rule", "both"}
    assert flagged["score"].is_sorted(descending=True)
    scores = pl.read_parquet(out / "scores.parquet")
    assert scores.columns == ["msisdn", "score_voice_spam", "score_sms_spam", "score_simbox",
                              "score_preactivated_sim", "flagged"]
    # Registry SIMs without traffic are scored too.
    registry = pl.read_csv(base / "new" / "subscribers.csv", columns=["msisdn"], schema_overrides={"msisdn": pl.Utf8})
    assert registry["msisdn"].is_in(scores["msisdn"].implode()).all()
    assert set(flagged["msisdn"]) == set(scores.filter("flagged")["msisdn"])
    allowlist = pl.read_csv(base / "new" / "allowlist.csv", schema_overrides={"msisdn": pl.Utf8})["msisdn"]
    assert not flagged["msisdn"].is_in(allowlist.implode()).any()
    assert flagged["msisdn"][0] in scored.stdout  # the top of the list is printed
    assert "report.html" in scored.stdout
    assert pl.read_csv(out / "rejects.csv").height > 0  # the noisy CSV had garbage rows


def test_evaluate_reports_every_category(run):
    base, _, out, _, _ = run
    result = detector("evaluate", "--scores", out / "scores.parquet", "--labels", base / "new" / "labels.csv", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    rows = {r["category"]: r for r in report["categories"]}
    assert set(rows) == {"voice_spam", "sms_spam", "simbox", "preactivated_sim"}
    assert all(0 <= r["pr_auc"] <= 1 and r["flagged"] >= 0 for r in rows.values())
    assert 0 < report["flagged_list_precision"] <= 1


def test_precision_option_re_picks_thresholds(run):
    base, model, out, _, _ = run
    strict = base / "strict"
    result = detector("score", "--cdr", base / "new" / "cdr", "--model", model, "--out", strict, "--precision", "1.0",
                      "--top", "0")
    assert result.returncode == 0, result.stderr
    loose = pl.read_csv(out / "flagged.csv").filter(pl.col("source") != "rule").height
    assert pl.read_csv(strict / "flagged.csv").filter(pl.col("source") != "rule").height <= loose


def test_a_pickle_is_refused_with_one_line(run, tmp_path):
    base, _, _, _, _ = run
    bad = tmp_path / "model.skops"
    bad.write_bytes(pickle.dumps({"estimator": "not really"}))
    result = detector("score", "--cdr", base / "new" / "cdr", "--model", bad, "--out", tmp_path / "out")
    assert_one_line_error(result, str(bad))
    assert not (tmp_path / "out").exists()


def test_a_model_reading_unknown_features_is_refused(run, tmp_path):
    base, model, _, _, _ = run
    other = load_model(model)
    other.features = ["no_such_feature", *other.features[1:]]
    path = tmp_path / "other.skops"
    save_model(other, path)
    result = detector("score", "--cdr", base / "new" / "cdr", "--model", path, "--out", tmp_path / "out")
    assert_one_line_error(result, "no_such_feature")


def test_unknown_label_is_exit_2(run, tmp_path):
    base, _, out, _, _ = run
    labels = tmp_path / "labels.csv"
    labels.write_text("msisdn,label\n84912345678,spam\n")
    result = detector("evaluate", "--scores", out / "scores.parquet", "--labels", labels)
    assert_one_line_error(result, "unknown label", "spam")


def test_a_score_run_leaves_the_garbage_collector_as_it_found_it(run, tmp_path, monkeypatch):
    """Paused while the model loads, start-up's objects frozen while the numbers are scored, and
    all as before once the command ends: after a run, and after a model that is refused."""
    import gc

    import detector.engine.pipeline
    import models.model_file
    from detector.cli import main

    base, model, _, _, _ = run
    seen = []

    def observed(function):
        def call(*args, **kwargs):
            seen.append((function.__name__, gc.isenabled(), gc.get_freeze_count() > 0))
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(models.model_file, "load_model", observed(models.model_file.load_model))
    monkeypatch.setattr(detector.engine.pipeline, "score_inputs", observed(detector.engine.pipeline.score_inputs))
    assert gc.isenabled() and gc.get_freeze_count() == 0
    bad = tmp_path / "bad.skops"
    bad.write_bytes(b"not a model")
    for model_file, code in ((model, 0), (bad, 2)):
        try:
            main(["--quiet", "score", "--cdr", str(base / "new" / "cdr"), "--model", str(model_file),
                  "--out", str(tmp_path / "out"), "--top", "0"])
        except SystemExit as exc:
            assert (exc.code or 0) == code
        assert gc.isenabled() and gc.get_freeze_count() == 0
    assert seen == [("load_model", False, False), ("score_inputs", True, True), ("load_model", False, False)]


def test_train_shows_progress_lines_when_not_on_a_terminal(run):
    """A cron job's log shows that a training of minutes is alive: one line per fit."""
    *_, trained = run
    lines = [line for line in trained.stderr.splitlines() if line.startswith("training: ")]
    assert [line.split(" (")[0] for line in lines] == [
        "training: fold 1 of 4", "training: fold 2 of 4", "training: fold 3 of 4", "training: fold 4 of 4",
        "training: final model"]
