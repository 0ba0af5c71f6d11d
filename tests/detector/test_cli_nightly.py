"""detector nightly and detector state from the command line: three nights give what one score
over the same files gives, a night run again changes nothing, the state says what it holds."""

from __future__ import annotations

import json
import subprocess
import sys

import polars as pl
import pytest
from polars.testing import assert_frame_equal


def detector(*args):
    return subprocess.run([sys.executable, "-m", "detector", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("nightly_cli")
    done = detector("generate", "--out", root, "--subscribers", 1500, "--days", 3, "--seed", 5, "--format", "csv")
    assert done.returncode == 0, done.stderr
    return root


@pytest.fixture(scope="module")
def nights(world, tmp_path_factory):
    out = tmp_path_factory.mktemp("nights")
    for f in sorted((world / "cdr").glob("*.csv")):
        done = detector("nightly", "--cdr", f, "--state", out / "state", "--subscribers", world / "subscribers.csv",
                        "--allowlist", world / "allowlist.csv", "--out", out / f.stem, "--window", 3, "--top", 0)
        assert done.returncode == 0, done.stderr
    return out


def test_the_third_night_gives_the_batch_answer(world, nights, tmp_path):
    batch = detector("score", "--cdr", world / "cdr", "--subscribers", world / "subscribers.csv",
                     "--allowlist", world / "allowlist.csv", "--out", tmp_path, "--top", 0)
    assert batch.returncode == 0, batch.stderr
    last = sorted(p for p in nights.iterdir() if p.name.startswith("cdr_"))[-1]
    assert_frame_equal(pl.read_parquet(last / "scores.parquet"), pl.read_parquet(tmp_path / "scores.parquet"))
    ours, theirs = (pl.read_csv(p / "flagged.csv", infer_schema=False) for p in (last, tmp_path))
    assert ours.height and ours.select(theirs.columns).equals(theirs)
    # ... and each flag's case: opened on one of the three nights, flagged on at most three, open.
    assert ours.columns[len(theirs.columns):] == ["first_flagged", "nights_flagged", "status"]
    assert set(ours["first_flagged"]) <= {"2026-11-02", "2026-11-03", "2026-11-04"}
    assert set(ours["nights_flagged"]) <= {"1", "2", "3"} and set(ours["status"]) == {"open"}
    changes = pl.read_csv(last / "changes.csv", infer_schema=False)
    assert changes.columns == ["msisdn", "category", "change", "reason"] and set(changes["change"]) <= {"opened", "closed"}
    verify = pl.read_csv(last / "verify.csv", infer_schema=False)
    assert verify.columns == ["flagged_msisdn", "category", "callee", "last_contact", "contacts", "answered"]
    assert set(verify["flagged_msisdn"]) <= set(ours["msisdn"]) and set(verify["category"]) <= {"voice_spam", "sms_spam"}
    assert verify["callee"].n_unique() == verify.height and not set(verify["callee"]) & set(ours["msisdn"])
    # The state remembers each night's flags and who was asked: no callee twice in a week.
    from detector.state.store import State

    held = State.open(nights / "state")
    flags = held.flags()
    assert flags.filter(pl.col("as_of") == flags["as_of"].max()).height == ours.height
    assert flags.group_by("as_of").agg(pl.col("new").sum())["new"].sum() == held.cases().height
    asked = held.surveys().collect()
    assert asked.height > verify.height and asked["callee"].n_unique() == asked.height
    assert {"report.html", "rejects.csv"} <= {p.name for p in last.iterdir()}
    first = pl.read_csv(sorted(p for p in nights.iterdir() if p.name.startswith("cdr_"))[0] / "changes.csv")
    assert first.height and set(first["change"]) == {"opened"}  # the first night opens every case


def test_a_night_run_again_changes_nothing(world, nights, tmp_path):
    last = sorted((world / "cdr").glob("*.csv"))[-1]
    before = json.loads(detector("state", "--state", nights / "state", "--json").stdout)
    again = detector("nightly", "--cdr", last, "--state", nights / "state", "--subscribers", world / "subscribers.csv",
                     "--allowlist", world / "allowlist.csv", "--out", tmp_path, "--window", 3, "--top", 0)
    assert again.returncode == 0, again.stderr
    assert "0 rows added" in again.stdout
    after = json.loads(detector("state", "--state", nights / "state", "--json").stdout)
    assert after["days"] == before["days"] and len(after["days"]) == 3
    assert after["nights"] == before["nights"] + 1 and after["last_night"]["rows_added"] == 0
    assert after["cases"] == before["cases"] and after["cases"].get("open", 0) > 0
    assert_frame_equal(pl.read_parquet(tmp_path / "scores.parquet"),
                       pl.read_parquet(nights / last.stem / "scores.parquet"))


def test_a_directory_that_is_no_state_is_one_line(tmp_path):
    (tmp_path / "state.json").write_text('{"format": 99}')
    done = detector("state", "--state", tmp_path)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "format 99" in done.stderr and "Traceback" not in done.stderr


def test_the_case_ledger_lists_and_filters(nights, tmp_path):
    listed = detector("cases", "--state", nights / "state", "--out", tmp_path / "cases.csv")
    assert listed.returncode == 0, listed.stderr
    ledger = pl.read_csv(tmp_path / "cases.csv", infer_schema=False)
    assert ledger.height and ledger.select("msisdn", "category").is_unique().all()
    one = ledger.row(0, named=True)
    national = "0" + one["msisdn"][2:]  # the number as the carrier writes it
    shown = detector("cases", "--state", nights / "state", "--msisdn", national, "--category", one["category"])
    assert shown.returncode == 0 and one["msisdn"] in shown.stdout and "1 case" in shown.stdout
    closed = detector("cases", "--state", nights / "state", "--status", "no-such-status")
    assert closed.returncode == 0 and "no cases" in closed.stdout


def test_a_second_writer_is_one_line_and_touches_nothing(world, nights, tmp_path):
    import os
    import socket
    import time

    state = nights / "state"
    before = json.loads(detector("state", "--state", state, "--json").stdout)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:  # a live run on this host holds the state
        (state / "writer.lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(),
                                                       "since": time.strftime("%Y-%m-%dT%H:%M:%S")}))
        done = detector("nightly", "--cdr", sorted((world / "cdr").glob("*.csv"))[-1], "--state", state,
                        "--out", tmp_path, "--top", 0)
    finally:
        holder.kill()
        holder.wait()
        os.unlink(state / "writer.lock")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "being written by pid" in done.stderr
    assert json.loads(detector("state", "--state", state, "--json").stdout) == before
    assert not (tmp_path / "flagged.csv").exists()


def test_a_full_disk_is_one_line_exit_1_and_the_state_as_it_was(world, nights, tmp_path):
    """The OS refuses tonight's writes (here: a file-size limit on the process, which the OS
    reports as a full disk is reported, by the same write calls failing): one line, exit 1, the
    state as the first night left it; run again with room, the night gives the uninterrupted answer."""
    import resource

    files = sorted((world / "cdr").glob("*.csv"))
    state = tmp_path / "state"
    args = ["--state", state, "--subscribers", world / "subscribers.csv", "--allowlist", world / "allowlist.csv",
            "--window", 3, "--top", 0]
    first = detector("nightly", "--cdr", files[0], "--out", tmp_path / "first", *args)
    assert first.returncode == 0, first.stderr
    before = json.loads(detector("state", "--state", state, "--json").stdout)

    def small_files() -> None:  # any file this run writes may not grow past 16 KB
        resource.setrlimit(resource.RLIMIT_FSIZE, (16_384, resource.RLIM_INFINITY))

    full = subprocess.run([sys.executable, "-m", "detector", "nightly", "--cdr", str(files[1]), "--out",
                           str(tmp_path / "second"), *map(str, args)], capture_output=True, text=True, timeout=300,
                          preexec_fn=small_files)
    assert full.returncode == 1, full.stderr
    assert full.stderr.strip().count("\n") == 0 and "no room to write (File too large)" in full.stderr
    assert "Traceback" not in full.stderr
    after = json.loads(detector("state", "--state", state, "--json").stdout)
    assert after == before
    again = detector("nightly", "--cdr", files[1], "--out", tmp_path / "second", *args)
    assert again.returncode == 0, again.stderr
    # The same night's answer as the module's uninterrupted nights (which ran the same two files first).
    second = json.loads(detector("state", "--state", state, "--json").stdout)
    assert second["days"] == json.loads(detector("state", "--state", nights / "state", "--json").stdout)["days"][:2]


def test_a_night_within_a_small_memory_limit_gives_the_same_outputs(world, nights, tmp_path):
    import shutil

    state = tmp_path / "state"
    shutil.copytree(nights / "state", state)
    last = sorted((world / "cdr").glob("*.csv"))[-1]
    done = detector("nightly", "--cdr", last, "--state", state, "--subscribers", world / "subscribers.csv",
                    "--allowlist", world / "allowlist.csv", "--out", tmp_path / "out", "--window", 3, "--top", 0,
                    "--memory-limit", "8MiB")
    assert done.returncode == 0, done.stderr
    assert "in 4 partitions" in done.stdout
    assert_frame_equal(pl.read_parquet(tmp_path / "out" / "scores.parquet"),
                       pl.read_parquet(nights / last.stem / "scores.parquet"))
    ours, theirs = (pl.read_csv(p / "flagged.csv", infer_schema=False) for p in (tmp_path / "out", nights / last.stem))
    assert ours.height and ours.equals(theirs)


def test_a_night_before_the_last_one_is_refused_in_one_line(world, nights, tmp_path):
    before = json.loads(detector("state", "--state", nights / "state", "--json").stdout)
    first = sorted((world / "cdr").glob("*.csv"))[0]
    done = detector("nightly", "--cdr", first, "--state", nights / "state", "--out", tmp_path, "--as-of", "2026-11-02")
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert "before the state's last night (2026-11-04)" in done.stderr
    after = json.loads(detector("state", "--state", nights / "state", "--json").stdout)
    assert after == before


@pytest.mark.parametrize(("fmt", "said"), [
    ('home_prefixes = ["8491", "8494"]', "home_prefixes []; the mapping says ['8491', '8494']"),
    ('timezone = "Asia/Bangkok"', "timezone Asia/Ho_Chi_Minh; the mapping says Asia/Bangkok"),
    ("leg_tolerance_s = 30", "leg_tolerance_s 5; the mapping says 30"),
])
def test_another_reading_than_the_state_was_read_with_is_refused_in_one_line(world, nights, tmp_path, fmt, said):
    """The held rows' off-net flags, local days and paired legs follow the mapping they were read
    with: a mapping that reads them otherwise would score one window two ways."""
    before = json.loads(detector("state", "--state", nights / "state", "--json").stdout)
    mapping = tmp_path / "reading.toml"
    mapping.write_text(f"[format]\n{fmt}\n")
    last = sorted((world / "cdr").glob("*.csv"))[-1]
    done = detector("nightly", "--cdr", last, "--state", nights / "state", "--out", tmp_path / "out",
                    "--mapping", mapping)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0
    assert said in done.stderr
    assert json.loads(detector("state", "--state", nights / "state", "--json").stdout) == before
