"""Reading a ready feature table: numbers normalised, types checked, and what is refused in one line."""

import polars as pl
import pytest

from detector.errors import InputError
from detector.inputs.feature_table import read_feature_table


def test_numbers_are_normalised_and_types_kept(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("MSISDN,calls,ratio,business,unknown\n0912345678,3,0.5,true,\n84912345679,,1.5,false,\n")
    read = read_feature_table(path)
    assert read.table["msisdn"].to_list() == ["84912345678", "84912345679"]
    assert read.columns == ["calls", "ratio", "business", "unknown"]
    assert read.table["business"].to_list() == [1, 0]
    assert read.table.schema["unknown"] == pl.Float64 and read.table["unknown"].is_null().all()
    assert read.table["calls"].to_list() == [3, None]
    assert read.rejects.is_empty()


def test_parquet_with_integer_numbers(tmp_path):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"msisdn": [84912345678, 84912345679], "x": [1.0, 2.0]}).write_parquet(path)
    assert read_feature_table(path).table["msisdn"].to_list() == ["84912345678", "84912345679"]


def test_a_row_without_a_number_is_rejected(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("msisdn,x\n84912345678,1\n,2\n")
    read = read_feature_table(path)
    assert read.table.height == 1
    assert read.rejects.select("row", "reason", "raw").rows() == [(3, "missing msisdn", ",2")]


@pytest.mark.parametrize(("text", "fragment"), [
    ("msisdn,x,name\n84912345678,1,bob\n", "column 'name' is not numeric (text)"),
    ("number,x\n84912345678,1\n", "required column 'msisdn' is missing"),
    ("msisdn,x\n", "no rows"),
    ("msisdn\n84912345678\n", "no feature column"),
    ("msisdn,x\n0912345678,1\n84912345678,2\n", "msisdn 84912345678 is on 2 rows"),
    ("msisdn,x\n84912345678,inf\n", "column 'x' has infinite values"),
    ("msisdn,x\n,1\n", "no row has a msisdn"),
])
def test_refused_in_one_line(tmp_path, text, fragment):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_feature_table(path)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_a_missing_file_is_one_line(tmp_path):
    with pytest.raises(InputError, match="no such feature table file"):
        read_feature_table(tmp_path / "nope.parquet")
