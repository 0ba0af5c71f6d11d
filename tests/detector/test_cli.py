"""The command line as a user meets it: real subprocesses, exit codes and one-line errors."""

import gzip
import os
import subprocess
import sys

import pytest

HEADER = "caller,callee,start_time,duration_s,event_type,answered,cell_id,imei\n"
ROW = "0912345678,0987654321,2026-11-02 08:00:00,35,voice,true,C1,355\n"


def detector(*args, cwd=None, env=None):
    return subprocess.run(
        [sys.executable, "-m", "detector", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=120, env=None if env is None else os.environ | env,
    )


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("command", ["generate", "validate", "features", "train", "score", "evaluate"])
def test_every_command_has_help_with_an_example(command):
    for flag in ("--help", "-h"):
        result = detector(command, flag)
        assert result.returncode == 0
        assert "Example" in result.stdout
        assert f"detector {command}" in result.stdout


def test_top_level_help_lists_commands():
    result = detector("--help")
    assert result.returncode == 0
    assert "generate" in result.stdout and "validate" in result.stdout
    assert "Example" in result.stdout


def test_validate_reports_exact_counts(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text(HEADER + ROW + ROW + "garbage\n" + ROW.replace("08:00", "09:00"))
    result = detector("validate", "--cdr", f, "--rejects", tmp_path / "rej.csv", "--json")
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    assert report["rows_read"] == 4
    assert report["rows_kept"] == 2
    assert report["duplicates"] == 1
    assert report["rows_rejected"] == 1
    assert report["rejects_by_reason"] == {"malformed row (too few fields)": 1}
    assert (tmp_path / "rej.csv").read_text().splitlines()[1].endswith("garbage")


def test_missing_required_column_exits_2_naming_it(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("caller,start_time,duration_s,event_type\n0912345678,2026-11-02 08:00:00,3,voice\n")
    assert_one_line_error(detector("validate", "--cdr", f), "'callee'", "--mapping")


def test_bad_inputs_exit_2_with_one_line(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    trunc = tmp_path / "t.csv.gz"
    data = gzip.compress((HEADER + ROW * 5000).encode())
    trunc.write_bytes(data[: len(data) // 2])
    nocdr = tmp_path / "nocdr"
    nocdr.mkdir()
    (nocdr / "notes.txt.bak").write_text("x")
    good = tmp_path / "good.csv"
    good.write_text(HEADER + ROW)
    bad_mapping = tmp_path / "m.toml"
    bad_mapping.write_text("[columns\n")
    cases = [
        (["--cdr", tmp_path / "missing.csv"], "no such file"),
        (["--cdr", empty], "is empty"),
        (["--cdr", trunc], "cannot read"),
        (["--cdr", nocdr], "no CDR files"),
        (["--cdr", good, "--mapping", bad_mapping], "not valid TOML"),
        (["--cdr", good, "--mapping", tmp_path / "nope.toml"], "mapping file not found"),
    ]
    for args, fragment in cases:
        assert_one_line_error(detector("validate", *args, "--rejects", tmp_path / "r.csv"), fragment)


def test_all_rows_rejected_is_exit_2(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text(HEADER + "garbage\nmore garbage\n")
    result = detector("validate", "--cdr", f, "--rejects", tmp_path / "r.csv")
    assert result.returncode == 2
    assert "no usable CDR rows" in result.stderr
    assert len((tmp_path / "r.csv").read_text().splitlines()) == 3


def test_bad_option_is_exit_2():
    assert detector("validate").returncode == 2
    assert detector("generate", "--out", "x", "--subscribers", "nope").returncode == 2


def test_debug_shows_traceback(tmp_path):
    result = detector("--debug", "validate", "--cdr", tmp_path / "missing.csv")
    assert result.returncode != 0
    assert "Traceback" in result.stderr


def test_global_options_after_the_command(tmp_path):
    result = detector("validate", "--cdr", tmp_path / "missing.csv", "--debug")
    assert result.returncode != 0
    assert "Traceback" in result.stderr
    f = tmp_path / "d.csv"
    f.write_text(HEADER + ROW)
    result = detector("validate", "--cdr", f, "--rejects", tmp_path / "rej.csv", "-q")
    assert result.returncode == 0, result.stderr


def test_global_flags_move_before_the_command_but_not_past_a_double_dash():
    from detector.cli import global_flags_first

    assert global_flags_first(["features", "--cdr", "x", "-q"]) == ["-q", "features", "--cdr", "x"]
    assert global_flags_first(["--debug", "score", "--quiet"]) == ["--debug", "--quiet", "score"]
    assert global_flags_first(["validate", "--", "-q"]) == ["validate", "--", "-q"]


def test_validate_a_week_from_a_different_simulator(tmp_path):
    from tests.detector.foreign import write_foreign_week

    rows = write_foreign_week(tmp_path / "week")
    result = detector("validate", "--cdr", tmp_path / "week", "--rejects", tmp_path / "r.csv", "--json")
    assert result.returncode == 0, result.stderr
    import json

    report = json.loads(result.stdout)
    assert report["rows_read"] == rows
    assert report["rows_rejected"] == 0
    assert report["rows_kept"] + report["duplicates"] == rows
    assert report["days"] == 7
    assert len(report["files"]) == 7


def test_a_readme_beside_the_exports_is_skipped_and_named(tmp_path):
    exports = tmp_path / "exports"
    exports.mkdir()
    (exports / "day.csv").write_text(HEADER + ROW)
    (exports / "README.txt").write_text("Exports of 2026-11-02, one file per switch.\n")
    (exports / ".checksums").write_text("x")
    result = detector("validate", "--cdr", exports, "--rejects", tmp_path / "rej.csv")
    assert result.returncode == 0, result.stderr
    assert "Note: skipped 1 file that is not CSV (.csv, .csv.gz) or Parquet:" in result.stderr
    assert "README.txt" in result.stderr and ".checksums" not in result.stderr
    assert "rejected" not in result.stderr
    # Named explicitly, a file is read whatever its name (and is no CDR file here).
    assert_one_line_error(detector("validate", "--cdr", exports / "README.txt"), "README.txt", "required column")


def test_score_says_what_it_flagged_and_what_it_lacks(tmp_path):
    world = tmp_path / "world"
    assert detector("generate", "--out", world, "--subscribers", 300, "--days", 2, "--seed", 3).returncode == 0
    result = detector("score", "--cdr", world / "cdr", "--out", tmp_path / "run", "--top", 3)
    assert result.returncode == 0, result.stderr
    # Without a registry pre-activation cannot be judged: said once on stderr and in the report.
    assert result.stderr.count("Note: no subscriber registry (--subscribers)") == 1
    report = (tmp_path / "run" / "report.html").read_text()
    assert "no subscriber registry (--subscribers)" in report
    assert "traffic window" in report and "duplicate rows dropped" in report
    import polars as pl

    flagged = pl.read_csv(tmp_path / "run" / "flagged.csv", schema_overrides={"msisdn": pl.Utf8})
    assert flagged.height
    numbers = flagged["msisdn"].n_unique()
    # The table's title and the summary count the same things, and say which.
    assert f"of {flagged.height:,} flags ({numbers:,} number" in result.stdout
    assert f"flagged {numbers:,} of " in result.stdout and f"({flagged.height:,} flag" in result.stdout


def test_an_interrupt_inside_compiled_code_is_interrupted_exit_130(monkeypatch, capsys):
    """numba's dispatcher reports a Ctrl-C that lands in a kernel as a SystemError whose cause is
    the KeyboardInterrupt; either way the run says "interrupted" and exits 130."""
    import detector.cli as cli

    def kernel_interrupted(*_args, **_kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("CPUDispatcher(<function _distinct_per_day>) returned a result with an "
                              "exception set") from exc

    monkeypatch.setattr(cli, "_cdr_file_count", kernel_interrupted)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["validate", "--cdr", "x.csv"])
    assert exit_.value.code == 130
    assert capsys.readouterr().err.strip() == "Error: interrupted"


def test_ctrl_c_during_a_run_is_interrupted_exit_130(tmp_path):
    import signal
    import time

    world = tmp_path / "world"
    assert detector("generate", "--out", world, "--subscribers", 3000, "--days", 3, "--format", "csv").returncode == 0
    interrupted = 0
    for delay in (0.3, 0.9, 1.6, 2.4):  # while importing, reading, scoring
        proc = subprocess.Popen([sys.executable, "-m", "detector", "score", "--cdr", str(world / "cdr"),
                                 "--out", str(tmp_path / "run")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
        if proc.returncode == 0:  # finished before the signal: nothing to check at this delay
            continue
        assert proc.returncode == 130, err
        assert err.strip().splitlines()[-1] == "Error: interrupted", err
        assert "Traceback" not in err
        interrupted += 1
    assert interrupted  # the run outlived at least one of the delays, or the test checked nothing


@pytest.mark.parametrize("command", ["generate", "validate", "features", "train", "score", "evaluate"])
def test_help_keeps_examples_whole_and_switches_untyped(command):
    import inspect

    import detector.cli as cli

    result = detector(command, "--help")
    assert result.returncode == 0
    assert "<bool>" not in result.stdout and "00:00:00" not in result.stdout
    doc = inspect.getdoc(getattr(cli, command))
    examples = [line.strip() for line in doc.split("Example:")[1].splitlines() if line.strip()]
    for line in examples:  # an example is copied into a shell: it must not be re-wrapped
        assert line in result.stdout, line
    if command == "generate":
        assert "[default: 2026-11-02]" in result.stdout
