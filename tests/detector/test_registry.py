import datetime as dt

import pytest

from detector.errors import InputError
from detector.registry import REGISTRY_SCHEMA, read_registry

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


def test_registry_missing_column(tmp_path):
    f = tmp_path / "reg.csv"
    f.write_text("msisdn,activation_time\n0912345678,2026-10-01 10:00:00\n")
    with pytest.raises(InputError, match="'dealer_id' is missing"):
        read_registry(f)


def test_registry_missing_file(tmp_path):
    with pytest.raises(InputError, match="no such registry file"):
        read_registry(tmp_path / "nope.csv")
