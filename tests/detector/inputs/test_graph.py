"""Reading call-graph edge lists: columns, normalisation, rejects, repeated edges, one-line errors."""

import polars as pl
import pytest

from detector.errors import InputError
from detector.inputs.cdr import REJECTS_SCHEMA
from detector.inputs.graph import read_graph
from detector.inputs.mapping import Mapping


def write(tmp_path, text, name="g.csv"):
    f = tmp_path / name
    f.write_text(text)
    return f


def test_numbers_are_normalised_and_repeated_edges_added_up(tmp_path):
    f = write(tmp_path, "Caller, CALLEE ,calls,voice_calls,first_time,last_time\n"
                        "0912345678,0987654321,2,2,2026-11-02 08:00:00,2026-11-02 09:00:00\n"
                        "+84 912 345 678,84987654321,3,1,2026-11-01 08:00:00,2026-11-02 08:30:00\n")
    graph = read_graph([f])
    assert graph.columns == {"voice_calls", "sms", "first_time", "last_time"}
    assert graph.rows_read == 2 and graph.duplicates == 1 and graph.rejects.height == 0
    edge = graph.edges.row(0, named=True)
    assert (edge["caller"], edge["callee"], edge["calls"], edge["voice_calls"], edge["sms"]) == (
        "84912345678", "84987654321", 5, 3, 2)
    assert str(edge["first_time"]) == "2026-11-01 08:00:00" and str(edge["last_time"]) == "2026-11-02 09:00:00"


def test_the_mapping_country_code_applies(tmp_path):
    f = write(tmp_path, "caller,callee,calls\n020 7946 0018,07700 900123,1\n")
    edge = read_graph([f], Mapping(country_code="44")).edges.row(0, named=True)
    assert (edge["caller"], edge["callee"]) == ("442079460018", "447700900123")


def test_bad_rows_are_rejected_with_a_reason_and_their_text(tmp_path):
    f = write(tmp_path, "caller,callee,calls,voice_calls,sms,answered_calls\n"
                        "84900000001,84900000002,2,1,1,1\n"
                        ",84900000002,2,1,1,0\n"
                        "84900000001,,2,1,1,0\n"
                        "84900000001,84900000003,two,1,1,0\n"
                        "84900000001,84900000004,2.5,1,1,0\n"
                        "84900000001,84900000005,2,2,1,0\n"
                        "84900000001,84900000006,2,1,1,2\n"
                        "84900000001,84900000007,,1,1,0\n")
    graph = read_graph([f])
    assert graph.edges.height == 1
    assert graph.rejects.schema == REJECTS_SCHEMA
    assert graph.rejects["reason"].to_list() == [
        "missing caller", "missing callee", "bad calls", "bad calls", "voice_calls + sms differ from calls",
        "answered_calls exceeds voice_calls", "missing calls"]
    assert graph.rejects["row"].to_list() == [3, 4, 5, 6, 7, 8, 9]
    assert graph.rejects["raw"][2] == "84900000001,84900000003,two,1,1,0"


def test_files_directories_and_globs_with_parquet(tmp_path):
    d = tmp_path / "graph"
    d.mkdir()
    write(d, "caller,callee,calls\n84900000001,84900000002,1\n", "a.csv")
    pl.DataFrame({"caller": ["84900000001"], "callee": ["84900000002"], "calls": [2.0]}).write_parquet(d / "b.parquet")
    assert read_graph([d]).edges["calls"].to_list() == [3]
    assert read_graph([str(d / "*.parquet")]).edges["calls"].to_list() == [2]


def test_an_optional_column_counts_only_if_every_file_has_it(tmp_path):
    a = write(tmp_path, "caller,callee,calls,sms\n84900000001,84900000002,1,1\n", "a.csv")
    b = write(tmp_path, "caller,callee,calls\n84900000001,84900000003,1\n", "b.csv")
    assert read_graph([a, b]).columns == frozenset()


@pytest.mark.parametrize(("text", "fragment"), [
    ("caller,callee,voice_calls\n84900000001,84900000002,1\n", "required column 'calls' is missing"),
    ("caller,callee,calls\n84900000001,84900000002,-2\n", "row 2: negative calls (-2)"),
    ("caller,callee,calls,sms\n84900000001,84900000002,3,-1\n", "negative sms"),
    ("caller,callee,calls\n84900000001,84900000002,many\n", "column 'calls' holds no counts"),
    ("caller,callee,calls\n", "no edges"),
    ("", "is empty"),
])
def test_bad_input_is_one_input_error(tmp_path, text, fragment):
    with pytest.raises(InputError, match=fragment.replace("(", r"\(").replace(")", r"\)")) as err:
        read_graph([write(tmp_path, text)])
    assert "\n" not in str(err.value)


def test_a_count_column_of_another_type_is_refused(tmp_path):
    pl.DataFrame({"caller": ["1"], "callee": ["2"], "calls": [True]}).write_parquet(tmp_path / "g.parquet")
    with pytest.raises(InputError, match="not a count"):
        read_graph([tmp_path / "g.parquet"])


def test_no_graph_files_names_the_option(tmp_path):
    with pytest.raises(InputError, match="--graph"):
        read_graph([])
