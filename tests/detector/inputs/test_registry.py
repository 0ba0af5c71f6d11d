import datetime as dt

import pytest

from detector.errors import InputError
from detector.inputs.registry import REGISTRY_SCHEMA, read_registry

HEADER = "msisdn,activation_time,dealer_id,id_number,subscription_type,iccid\n"


def test_registry_normalises_dedups_and_rejects(tmp_path):
    f = tmp_path / "reg.csv"
    f.write_text(
        HEADER
        + "0912345678,2026-10-01 10:00:00,D1,ID1,prepaid,\n"
        + "84912345678,2026-10-05 10:00:00,D2,ID2,prepaid,\n"  # same number, later: wins
        + "01621234567,2026-10-01 10:30:00,D1,ID1,prepaid,8984\n"
        + ",2026-10-01 10:30:00,D1,ID1,prepaid,\n"
        + "0987654321,soon,D1,ID1,prepaid,\n"
    )
    reg = read_registry(f)
    assert reg.subscribers.schema == REGISTRY_SCHEMA
    rows = {r["msisdn"]: r for r in reg.subscribers.to_dicts()}
    assert set(rows) == {"84912345678", "84321234567"}
    assert rows["84912345678"]["dealer_id"] == "D2"
    assert rows["84912345678"]["activation_time"] == dt.datetime(2026, 10, 5, 10)
    assert reg.duplicates == 1
    assert dict(zip(reg.rejects["row"], reg.rejects["reason"])) == {5: "missing msisdn", 6: "bad activation_time"}
    # Each rejected row as it was written, in file order.
    assert reg.rejects["raw"].to_list() == [",2026-10-01 10:30:00,D1,ID1,prepaid,", "0987654321,soon,D1,ID1,prepaid,"]
    assert set(reg.rejects["file"]) == {str(f)}


def test_registry_rejects_of_a_parquet_file_show_their_values(tmp_path):
    import polars as pl

    f = tmp_path / "reg.parquet"
    pl.DataFrame({"msisdn": ["0912345678", None, "0987654321"],
                  "activation_time": [dt.datetime(2026, 10, 1, 10), dt.datetime(2026, 10, 2, 11), None],
                  "dealer_id": ["D1", "D2", "D3"], "id_number": ["ID1", None, "ID3"],
                  "subscription_type": ["prepaid"] * 3}).write_parquet(f)
    reg = read_registry(f)
    assert reg.subscribers["msisdn"].to_list() == ["84912345678"]
    assert reg.rejects.select("reason", "raw").rows() == [
        ("missing msisdn", ",2026-10-02 11:00:00.000000,D2,,prepaid"),
        ("missing activation_time", "0987654321,,D3,ID3,prepaid"),
    ]


def test_registry_missing_column(tmp_path):
    f = tmp_path / "reg.csv"
    f.write_text("msisdn,activation_time\n0912345678,2026-10-01 10:00:00\n")
    with pytest.raises(InputError, match="'dealer_id' is missing"):
        read_registry(f)


def test_registry_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such registry file"):
        read_registry(tmp_path / "nope.csv")


def test_registry_keeps_each_numbers_latest_activation_and_of_ties_the_files_last_row(tmp_path):
    """Against a plain Python reference, on enough rows for Polars to sort them in parallel:
    one row per msisdn, sorted by it, and which row wins must not depend on that sort."""
    import random

    import polars as pl

    rng = random.Random(7)
    rows = [(f"09{rng.randrange(3000):08d}", dt.datetime(2026, 10, 1 + rng.randrange(3)), f"D{i}")
            for i in range(60_000)]
    f = tmp_path / "reg.parquet"
    pl.DataFrame(rows, schema=["msisdn", "activation_time", "dealer_id"], orient="row").with_columns(
        id_number=pl.lit("ID"), subscription_type=pl.lit("prepaid")).write_parquet(f)
    latest = {}
    for msisdn, activated, dealer in rows:  # a later row in the file wins a tie
        key = "84" + msisdn[1:]
        if key not in latest or activated >= latest[key][0]:
            latest[key] = (activated, dealer)
    reg = read_registry(f)
    assert reg.subscribers.select("msisdn", "activation_time", "dealer_id").rows() == [
        (msisdn, *latest[msisdn]) for msisdn in sorted(latest)]
    assert reg.duplicates == len(rows) - len(latest)
