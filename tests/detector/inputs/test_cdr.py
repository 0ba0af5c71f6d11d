import datetime as dt
import gzip

import polars as pl
import pytest

from detector.errors import InputError
from detector.inputs.cdr import CDR_SCHEMA, find_cdr_files, read_cdrs
from detector.inputs.mapping import Mapping, load_mapping

HEADER = "caller,callee,start_time,duration_s,event_type,answered,cell_id,imei\n"
GOOD = [
    "0912345678,+84 912 345 679,2026-11-02 08:00:00,35,voice,true,C1,355\n",
    "84912345678,01621234567,2026-11-02 08:01:00,,sms,,C1,\n",
    "84912345678,0084 162 123 4567,2026-11-02T01:02:00Z,65,VOICE,,,\n",
    "84912345678,0321234567,2026-11-02 08:03:00,0,voice,false,C2,356\n",
]
GARBAGE = {
    "lorem ipsum dolor sit amet\n": "malformed row (too few fields)",
    "84912345678,0321234567,yesterday,12,voice,1,C2,356\n": "bad start_time",
    "84912345678,0321234567,2026-11-02 08:03:00,abc,voice,1,C2,356\n": "bad duration_s",
    "84912345678,0321234567,2026-11-02 08:03:00,-4,voice,1,C2,356\n": "negative duration_s",
    "84912345678,0321234567,2026-11-02 08:03:00,12,data,1,C2,356\n": "unknown event_type",
    ",0321234567,2026-11-02 08:03:00,12,voice,1,C2,356\n": "missing caller",
    "84912345678,,2026-11-02 08:03:00,12,voice,1,C2,356\n": "missing callee",
    "84912345678,0321234567,2026-11-02 08:03:00,,voice,1,C2,356\n": "missing duration_s",
}


def write(path, lines, header=HEADER):
    path.write_text(header + "".join(lines))
    return path


def test_good_rows_are_kept_and_garbage_is_rejected_with_a_reason(tmp_path):
    lines = [GOOD[0], *GARBAGE, GOOD[1], GOOD[2], GOOD[3]]
    f = write(tmp_path / "day.csv", lines)
    batch = read_cdrs([f])
    assert batch.cdrs.schema == CDR_SCHEMA
    assert batch.cdrs.height == 4
    assert batch.rejects.columns == ["file", "row", "reason", "raw"]
    got = dict(zip(batch.rejects["raw"].to_list(), batch.rejects["reason"].to_list()))
    assert got == {line.rstrip("\n"): reason for line, reason in GARBAGE.items()}
    # Row numbers are file line numbers (header = line 1).
    assert batch.rejects["row"].to_list() == list(range(3, 3 + len(GARBAGE)))
    assert batch.rows_read == len(lines)


def test_canonical_values(tmp_path):
    batch = read_cdrs([write(tmp_path / "d.csv", GOOD)])
    rows = batch.cdrs.to_dicts()
    assert rows[0] == {
        "caller": "84912345678", "callee": "84912345679",
        "start_time": dt.datetime(2026, 11, 2, 8, 0), "duration_s": 35, "event_type": "voice",
        "answered": True, "cell_id": "C1", "imei": "355", "callee_network": None,
    }
    # SMS with blank duration: 0 seconds, answered defaults to duration > 0.
    assert rows[1]["duration_s"] == 0 and rows[1]["answered"] is False and rows[1]["imei"] is None
    assert rows[1]["callee"] == "84321234567"
    # Zoned timestamps are converted to local network time (UTC+7).
    assert rows[2]["start_time"] == dt.datetime(2026, 11, 2, 8, 2)
    assert rows[2]["answered"] is True and rows[2]["event_type"] == "voice"
    assert rows[3]["answered"] is False


def test_exact_duplicates_dropped_and_counted_across_files(tmp_path):
    a = write(tmp_path / "a.csv", [GOOD[0], GOOD[0], GOOD[1]])
    b = write(tmp_path / "b.csv", [GOOD[0], GOOD[3]])
    batch = read_cdrs([a, b])
    assert batch.duplicates == 2
    assert batch.cdrs.height == 3
    # Same event written in two number forms is the same event after normalisation.
    c = write(tmp_path / "c.csv", [GOOD[0], GOOD[0].replace("0912345678", "+84912345678")])
    assert read_cdrs([c]).duplicates == 1


def test_gzip_parquet_directories_and_globs_mixed(tmp_path):
    day1 = tmp_path / "exports" / "d1"
    day1.mkdir(parents=True)
    write(day1 / "part1.csv", GOOD[:2])
    with gzip.open(day1 / "part2.csv.gz", "wt") as fh:
        fh.write(HEADER + GOOD[2])
    pq = read_cdrs([day1 / "part1.csv"]).cdrs
    pq.write_parquet(tmp_path / "exports" / "d2.parquet")
    (tmp_path / "exports" / "README.md").write_text("not a CDR")
    files = find_cdr_files([tmp_path / "exports"])
    root = tmp_path / "exports"
    assert [str(f.relative_to(root)) for f in files] == ["d1/part1.csv", "d1/part2.csv.gz", "d2.parquet"]
    batch = read_cdrs([str(tmp_path / "exports" / "*.parquet"), day1])
    assert batch.rows_read == 5
    assert batch.duplicates == 2  # the parquet file repeats part1.csv


def test_separator_is_sniffed_and_headers_trimmed(tmp_path):
    header = " caller ; callee;start_time;duration_s;event_type\n"
    f = write(tmp_path / "semi.csv", ["0912345678;0987654321;2026-11-02 08:00:00;5;sms\n"], header)
    batch = read_cdrs([f])
    assert batch.cdrs["callee"].to_list() == ["84987654321"]


def test_missing_required_column_names_column_and_option(tmp_path):
    f = write(tmp_path / "d.csv", ["0912345678,2026-11-02 08:00:00,3,voice\n"],
              "caller,start_time,duration_s,event_type\n")
    with pytest.raises(InputError, match=r"required column 'callee' is missing.*--mapping"):
        read_cdrs([f])


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.csv", "no such file"),
        (lambda p: (p / "empty.csv").write_text("") and None or p / "empty.csv", "is empty"),
        (lambda p: p, "no CDR files"),
        (lambda p: p / "*.csv", "no file matches"),
    ],
)
def test_bad_paths(tmp_path, make, message):
    with pytest.raises(InputError, match=message):
        read_cdrs([make(tmp_path)])


def test_truncated_gzip_is_an_input_error(tmp_path):
    f = tmp_path / "day.csv.gz"
    data = gzip.compress((HEADER + "".join(GOOD) * 2000).encode())
    f.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cannot read"):
        read_cdrs([f])


def test_header_only_input_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no CDR rows"):
        read_cdrs([write(tmp_path / "h.csv", [])])


def test_unrecognised_timestamps_ask_for_a_format(tmp_path):
    f = write(tmp_path / "d.csv", ["0912345678,0987654321,2nd of November,5,sms\n"],
              "caller,callee,start_time,duration_s,event_type\n")
    with pytest.raises(InputError, match=r"\[format\] timestamp"):
        read_cdrs([f])


def test_typed_parquet_with_zoned_timestamps(tmp_path):
    df = pl.DataFrame(
        {
            "caller": ["0912345678"], "callee": ["0987654321"],
            "start_time": [dt.datetime(2026, 11, 2, 1, 0)], "duration_s": [12],
            "event_type": ["voice"],
        }
    ).with_columns(pl.col("start_time").dt.replace_time_zone("UTC"))
    df.write_parquet(tmp_path / "d.parquet")
    row = read_cdrs([tmp_path / "d.parquet"]).cdrs.row(0, named=True)
    assert row["start_time"] == dt.datetime(2026, 11, 2, 8, 0)
    assert row["answered"] is True


def test_mapping_drop_rows_are_counted_not_rejected(tmp_path):
    header = "A,B,T,TS,D\n"
    f = write(tmp_path / "d.csv", ["0912345678,0987654321,MOC,2026-11-02 08:00:00,5\n",
                                   "0987654321,0912345678,MTC,2026-11-02 08:00:00,5\n"], header)
    m = tmp_path / "m.toml"
    m.write_text('[columns]\ncaller="A"\ncallee="B"\nevent_type="T"\nstart_time="TS"\nduration_s="D"\n'
                 '[values.event_type]\nMOC="voice"\nMTC="drop"\n')
    batch = read_cdrs([f], load_mapping(m))
    assert batch.cdrs.height == 1 and batch.rejects.height == 0 and batch.rows_dropped == 1


def test_source_timezone_converts_naive_timestamps(tmp_path):
    f = write(tmp_path / "d.csv", ["0912345678,0987654321,2026-11-02 01:00:00,5,sms\n"],
              "caller,callee,start_time,duration_s,event_type\n")
    batch = read_cdrs([f], Mapping(source_timezone="UTC"))
    assert batch.cdrs["start_time"].to_list() == [dt.datetime(2026, 11, 2, 8, 0)]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[columns\n", "not valid TOML"),
        ("[colums]\n", "unknown section"),
        ('[columns]\nnumber = "A"\n', "unknown canonical column"),
        ('[values.event_type]\nMOC = "call"\n', "expected voice, sms, voice_in, sms_in or drop"),
        ('[format]\ntimezone = "Mars/Olympus"\n', "not a known time zone"),
        ('[format]\nduration = "minutes"\n', "duration"),
    ],
)
def test_bad_mapping_files(tmp_path, text, message):
    m = tmp_path / "m.toml"
    m.write_text(text)
    with pytest.raises(InputError, match=message):
        load_mapping(m)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from detector.inputs.cdr import drop_exact_duplicates  # noqa: E402


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", None]), st.integers(0, 3) | st.none(),
                          st.booleans() | st.none()), max_size=40))
def test_drop_exact_duplicates_equals_unique_keep_first(rows):
    df = pl.DataFrame(rows, schema={"s": pl.Utf8, "i": pl.Int64, "b": pl.Boolean}, orient="row")
    got, n = drop_exact_duplicates(df)
    expected = df.unique(maintain_order=True, keep="first")
    assert got.equals(expected)
    assert n == df.height - expected.height
    # Hashes handed in: the same rows go, even when every hash collides (the rows are compared).
    for hashes in (df.hash_rows(seed=3), pl.Series([7] * df.height, dtype=pl.UInt64)):
        kept, dropped = drop_exact_duplicates(df, hashes)
        assert kept.equals(got) and dropped == n


@pytest.mark.parametrize("batch_rows", [10_000, 1_000_000])
def test_a_stream_of_batches_reads_what_read_cdrs_reads(noisy_world, batch_rows):
    """Batches together are read_cdrs' rows before de-duplication; rejects and per-file counts
    are the same."""
    from detector.inputs.cdr import CdrStream
    from detector.inputs.numbers import number_ids

    files = sorted((noisy_world / "cdr").glob("*.csv"))[:2]
    whole = read_cdrs(files)
    stream = CdrStream(files, batch_rows=batch_rows)
    batches = list(stream)
    assert len(batches) >= whole.rows_read // batch_rows // 2
    for batch in batches:  # the ids of the normalised numbers, from the same parse
        for column in ("caller", "callee"):
            assert batch[f"{column}_id"].equals(number_ids(batch[column]).alias(f"{column}_id"))
    streamed, duplicates = drop_exact_duplicates(pl.concat(batches).drop("caller_id", "callee_id"))
    assert streamed.equals(whole.cdrs)
    assert duplicates == whole.duplicates > 0
    assert stream.rejects.equals(whole.rejects) and whole.rejects.height > 0
    assert stream.files == whole.files


def test_a_stream_of_header_only_files_is_an_input_error(tmp_path):
    from detector.inputs.cdr import CdrStream

    (tmp_path / "a.csv").write_text("caller,callee,start_time,duration_s,event_type\n")
    with pytest.raises(InputError, match="only headers"):
        list(CdrStream([tmp_path / "a.csv"]))
