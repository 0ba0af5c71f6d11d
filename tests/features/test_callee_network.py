"""Where the other party is: the export's ``callee_network`` where it says, else the number and
the carrier's ``home_prefixes``; the shares are null where nothing tells."""

from __future__ import annotations

import polars as pl
import pytest

from detector.engine.pipeline import feature_table, read_inputs
from detector.errors import InputError
from detector.inputs.mapping import load_mapping

HEADER = "A_NUMBER,B_NUMBER,START,DURATION,TYPE,DEST\n"
#: One caller, six calls: two on-net (8491…), two off-net (8498…), one abroad (+44), one to a
#: short code; the export's own category says the same, and one row's category is an unknown code.
ROWS = [
    ("0912000001", "0912000002", "ONNET"),
    ("0912000001", "0912000003", "ONNET"),
    ("0912000001", "0987000001", "OTHER_MNO"),
    ("0912000001", "0987000002", "OTHER_MNO"),
    ("0912000001", "+447911123456", "IDD"),
    ("0912000001", "1900", "???"),
]


def export(tmp_path, rows=ROWS, name="d.csv"):
    lines = [f"{a},{b},2026-11-02 08:0{i}:00,30,VOICE,{dest}\n" for i, (a, b, dest) in enumerate(rows)]
    path = tmp_path / name
    path.write_text(HEADER + "".join(lines))
    return path


def mapping(tmp_path, *, network=True, home=None):
    text = ('[columns]\ncaller = "A_NUMBER"\ncallee = "B_NUMBER"\nstart_time = "START"\nduration_s = "DURATION"\n'
            'event_type = "TYPE"\n')
    if network:
        text += 'callee_network = "DEST"\n[values.callee_network]\nOTHER_MNO = "offnet"\nIDD = "international"\n'
    if home is not None:
        text += f"[format]\nhome_prefixes = {home!r}\n".replace("'", '"')
    path = tmp_path / "m.toml"
    path.write_text(text)
    return path


def shares(tmp_path, data, **options) -> dict:
    table = feature_table(read_inputs([data], None, load_mapping(mapping(tmp_path, **options))))
    return table.filter(pl.col("msisdn") == "84912000001").select("intl_out_ratio", "offnet_out_ratio").row(0, named=True)


def test_the_export_says_where_the_callee_is(tmp_path):
    # 5 rows say (the unknown code tells nothing there, and "1900" is a number: it falls back to
    # the number's rule, which counts a short code with abroad).
    assert shares(tmp_path, export(tmp_path)) == {"intl_out_ratio": 2 / 6, "offnet_out_ratio": 2 / 5}


def test_home_prefixes_tell_on_net_from_off_net_without_the_column(tmp_path):
    got = shares(tmp_path, export(tmp_path), network=False, home=["8491"])
    assert got == {"intl_out_ratio": 2 / 6, "offnet_out_ratio": 2 / 6}


def test_nothing_tells_off_net_share_is_null_not_zero(tmp_path):
    got = shares(tmp_path, export(tmp_path), network=False)
    assert got == {"intl_out_ratio": 2 / 6, "offnet_out_ratio": None}


def test_anonymised_numbers_are_not_everyone_abroad(tmp_path):
    hashed = [(a, f"h{abs(hash(b)) % 10**12:x}", dest) for a, b, dest in ROWS]
    assert shares(tmp_path, export(tmp_path, hashed), network=False) == {"intl_out_ratio": None,
                                                                          "offnet_out_ratio": None}
    # With the export's category the shares are known again (the "???" row still tells nothing).
    assert shares(tmp_path, export(tmp_path, hashed)) == {"intl_out_ratio": 1 / 5, "offnet_out_ratio": 2 / 5}


@pytest.mark.parametrize("text, fragment", [
    ('[values.callee_network]\nX = "elsewhere"\n', "expected onnet, offnet, international"),
    ('[format]\nhome_prefixes = "8491"\n', "must be a list of E.164 prefixes"),
    ('[format]\nhome_prefixes = ["4491"]\n', "not under country code 84"),
])
def test_bad_network_settings_are_one_line(tmp_path, text, fragment):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=fragment):
        load_mapping(path)


def test_partitions_read_the_network_as_memory_does(tmp_path):
    from polars.testing import assert_frame_equal

    from detector.engine.pipeline import Engine, partitioned_features

    rows = ROWS + [(b, a, dest) for a, b, dest in ROWS[:4]] + [("0987000001", "0912000009", "OTHER_MNO")]
    data = export(tmp_path, rows)
    m = load_mapping(mapping(tmp_path, home=["8491"]))
    whole = feature_table(read_inputs([data], None, m))
    partitioned_features([data], tmp_path / "parts.parquet", Engine(), 3, mapping=m)
    assert_frame_equal(pl.read_parquet(tmp_path / "parts.parquet"), whole, check_exact=True)
    assert whole["offnet_out_ratio"].drop_nulls().len() == whole.height


def test_an_incoming_legs_callee_is_on_net(tmp_path):
    from detector.inputs.cdr import read_cdrs

    path = tmp_path / "legs.csv"
    path.write_text(HEADER + "0912000001,+447911123456,2026-11-02 08:00:00,30,MTC,IDD\n")
    text = mapping(tmp_path).read_text().replace("[values.callee_network]",
                                                 '[values.event_type]\nMTC = "voice_in"\n[values.callee_network]')
    (tmp_path / "legs.toml").write_text(text)
    cdrs = read_cdrs([path], load_mapping(tmp_path / "legs.toml")).cdrs
    assert cdrs.select("caller", "callee", "callee_network").row(0) == ("447911123456", "84912000001", "onnet")
