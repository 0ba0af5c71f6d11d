"""Whatever bytes arrive, ``validate`` answers with exit 0 or 2 and never a traceback.

Exit 1 would mean an unexpected exception inside the engine (a bug), so it fails these tests.
"""

import gzip
import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from detector.cli import app

HEADER = "caller,callee,start_time,duration_s,event_type,answered,cell_id,imei\n"
ROWS = [
    "0912345678,0987654321,2026-11-02 08:00:00,35,voice,true,C1,355\n",
    "+84 162 123 4567,0084912345678,2026-11-02T08:01:00+07:00,,sms,,,\n",
    "84912345678,1900,2026-11-02 08:02:00,00:01:05,voice,0,C2,356\n",
]
runner = CliRunner()


def run_validate(tmp_path, name, data: bytes):
    f = tmp_path / name
    f.write_bytes(data)
    result = runner.invoke(app, ["validate", "--cdr", str(f), "--rejects", str(tmp_path / "r.csv")])
    assert result.exit_code in (0, 2), (result.exit_code, result.output, data[:200])
    assert "Traceback" not in result.output
    return result


fuzz = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@fuzz
@given(st.binary(min_size=0, max_size=2000))
def test_random_bytes(tmp_path, data):
    run_validate(tmp_path, "random.csv", data)


@fuzz
@given(st.binary(min_size=0, max_size=600))
def test_random_bytes_after_a_valid_header(tmp_path, data):
    run_validate(tmp_path, "tail.csv", HEADER.encode() + data)


@st.composite
def mutated_csv(draw):
    text = bytearray((HEADER + "".join(draw(st.lists(st.sampled_from(ROWS), min_size=1, max_size=20)))).encode())
    for _ in range(draw(st.integers(0, 12))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        if op == "flip":
            text[i] = draw(st.integers(0, 255))
        elif op == "delete":
            del text[i]
        elif op == "insert":
            text[i:i] = draw(st.sampled_from([b",", b"\n", b'"', b"\x00", b";", b":", b"\xff", b"-1"]))
        else:
            del text[i:]
    return bytes(text)


@fuzz
@given(mutated_csv())
def test_mutated_csv(tmp_path, data):
    run_validate(tmp_path, "mutated.csv", data)


@fuzz
@given(mutated_csv(), st.integers(1, 400))
def test_mutated_and_truncated_gzip(tmp_path, data, cut):
    packed = gzip.compress(data)
    run_validate(tmp_path, "mutated.csv.gz", packed[: max(1, len(packed) - cut)])


def test_garbage_through_a_real_process(tmp_path):
    f = tmp_path / "junk.parquet"
    f.write_bytes(b"PAR1" + bytes(range(256)) * 4)
    result = subprocess.run(
        [sys.executable, "-m", "detector", "validate", "--cdr", str(f), "--rejects", str(tmp_path / "r.csv")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
