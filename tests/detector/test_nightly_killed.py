"""A night killed at any moment (SIGKILL, several times, at random points of its run) leaves the
state as the previous night left it or as the whole night leaves it, never between; running the
night again then gives what an uninterrupted run gives (nightly.md, issue 26)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from detector.state.store import State


def nightly(world, night_file, state, out):
    return [sys.executable, "-m", "detector", "nightly", "--cdr", str(night_file), "--state", str(state),
            "--subscribers", str(world / "subscribers.csv"), "--out", str(out), "--window", "2", "--top", "0"]


def run(args):
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done


def snapshot(state) -> tuple[int, pl.DataFrame, pl.DataFrame]:
    held = State.open(state)
    events = held.events().collect().sort(pl.all())
    return held.night, events, held.cases()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("killed")
    run([sys.executable, "-m", "detector", "generate", "--out", str(root), "--subscribers", "1500", "--days", "2",
         "--seed", "9", "--format", "parquet"])
    return root


def test_a_night_killed_at_random_moments_commits_whole_or_not_at_all(world, tmp_path):
    first, second = sorted((world / "cdr").glob("*.parquet"))
    reference = tmp_path / "reference"
    for f in (first, second):  # uninterrupted
        run(nightly(world, f, reference, tmp_path / f"ref_{f.stem}"))
    state = tmp_path / "state"
    run(nightly(world, first, state, tmp_path / "night1"))
    before = snapshot(state)
    whole = snapshot(reference)
    rng = random.Random(7)
    outcomes = []
    for attempt in range(5):
        child = subprocess.Popen(nightly(world, second, state, tmp_path / f"killed_{attempt}"),
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 4.0))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        now = snapshot(state)
        if now[0] == before[0]:  # not committed: exactly the previous night's state
            assert_frame_equal(now[1], before[1])
            assert_frame_equal(now[2], before[2])
            outcomes.append("before")
        else:  # committed: the whole night, as the uninterrupted run left it
            assert now[0] == before[0] + 1 + outcomes.count("after")
            assert_frame_equal(now[1], whole[1])
            outcomes.append("after")
    assert "before" in outcomes  # at least one kill landed inside a night
    run(nightly(world, second, state, tmp_path / "night2"))
    assert_frame_equal(snapshot(state)[1], whole[1])
    assert_frame_equal(pl.read_parquet(tmp_path / "night2" / "scores.parquet"),
                       pl.read_parquet(tmp_path / f"ref_{second.stem}" / "scores.parquet"))
    ours, theirs = (pl.read_csv(p / "flagged.csv", infer_schema=False) for p in (tmp_path / "night2",
                                                                                 tmp_path / f"ref_{second.stem}"))
    assert ours.equals(theirs)
