import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.inputs.numbers import RETIRED_PREFIXES, national_to_retired, normalise_number, plain_integers


def norm(values, country_code="84"):
    s = pl.Series("n", values, dtype=pl.Utf8)
    return pl.DataFrame({"n": s}).select(normalise_number(pl.col("n"), country_code)).to_series().to_list()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("0912345678", "84912345678"),
        ("84912345678", "84912345678"),
        ("+84912345678", "84912345678"),
        ("+84 912 345 678", "84912345678"),
        ("0084912345678", "84912345678"),
        ("0084 912 345 678", "84912345678"),
        ("091.234.5678", "84912345678"),
        ("091-234-5678", "84912345678"),
        ("(091) 234 5678", "84912345678"),
        ("+84 (0) 912 345 678", "84912345678"),
        ("  0912345678  ", "84912345678"),
        ("02439876543", "842439876543"),  # Hanoi landline, 12 digits
        ("01621234567", "84321234567"),  # retired Viettel 11-digit form
        ("84 162 123 4567", "84321234567"),
        ("+84 162 123 4567", "84321234567"),
        ("0084 162 123 4567", "84321234567"),
        ("001 555 123 4567", "15551234567"),  # another country's number via 00
        ("+44 20 7946 0958", "442079460958"),
        ("1900 1234", "19001234"),  # short codes kept as digits
        ("9029", "9029"),
        ("113", "113"),
        ("VIETTEL", "VIETTEL"),  # alphanumeric senders kept as text
        ("Shopee VN", "Shopee VN"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_forms(raw, expected):
    assert norm([raw]) == [expected]


@pytest.mark.parametrize("old, new", sorted(RETIRED_PREFIXES.items()))
def test_every_retired_prefix_converts(old, new):
    subscriber = "1234567"
    expected = "84" + new[1:] + subscriber
    assert norm([old + subscriber, "84" + old[1:] + subscriber, "+84 " + old[1:] + " " + subscriber]) == [
        expected
    ] * 3
    # The 10-digit successor is already current and stays as it is.
    assert norm([new + subscriber]) == [expected]
    assert national_to_retired(new + subscriber) == old + subscriber


def test_retired_table_is_the_2018_conversion():
    assert len(RETIRED_PREFIXES) == 21
    assert len(set(RETIRED_PREFIXES.values())) == 21
    assert all(k.startswith("01") and len(k) == 4 for k in RETIRED_PREFIXES)
    assert all(v.startswith("0") and len(v) == 3 for v in RETIRED_PREFIXES.values())


def test_retired_conversion_only_applies_to_full_length_numbers():
    # 84 + 162 + 6 digits is not a retired mobile number (too short): left as digits.
    assert norm(["84162123456"]) == ["84162123456"]


def test_other_country_code():
    assert norm(["0612345678", "+33 6 12 34 56 78", "0033612345678"], country_code="33") == [
        "33612345678"
    ] * 3


number_text = st.one_of(
    st.text(alphabet="0123456789 +-.()", max_size=20),
    st.from_regex(r"(\+84|0084|84|0)?[ ]?(1[2-9]|[3-9])[0-9]{1,2}[ .-]?[0-9]{3}[ .-]?[0-9]{3,4}", fullmatch=True),
    st.text(max_size=15),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), number_text), max_size=30))
def test_normalising_twice_equals_once_and_never_raises(values):
    once = norm(values)
    assert norm(once) == once
    assert len(once) == len(values)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"[35789][0-9]{8}", fullmatch=True))
def test_all_national_forms_agree(subscriber):
    forms = ["0" + subscriber, "84" + subscriber, "+84 " + subscriber, "0084" + subscriber]
    assert norm(forms) == ["84" + subscriber] * 4


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), number_text, st.from_regex(r"84[01][0-9]{7,11}", fullmatch=True)),
                max_size=30))
def test_fast_path_agrees_with_the_rules(values):
    from detector.inputs.numbers import _normalise_values, normalise_series

    s = pl.Series("n", values, dtype=pl.Utf8)
    assert normalise_series(s).to_list() == _normalise_values(s, "84").to_list()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.none(), number_text, st.from_regex(r"84[01][0-9]{7,11}", fullmatch=True)),
                max_size=30), st.sampled_from(["84", "1"]))
def test_ids_from_one_parse_are_those_of_the_normalised_numbers(values, country_code):
    from detector.inputs.numbers import normalise_columns, normalise_series, normalise_with_ids, number_ids

    s = pl.Series("n", values, dtype=pl.Utf8)
    normal, ids = normalise_with_ids(s, country_code)
    assert normal.equals(normalise_series(s, country_code))
    assert ids.dtype == pl.Int64 and ids.equals(number_ids(normal))
    both = normalise_columns(pl.DataFrame({"a": s, "b": s.reverse()}), ["a", "b"], country_code, ids=True)
    assert both.columns == ["a", "b", "a_id", "b_id"]
    assert both["b"].equals(normal.reverse().alias("b")) and both["b_id"].equals(ids.reverse().alias("b_id"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | st.text(alphabet="0123456789+- a", max_size=20), max_size=30))
def test_plain_integers_is_exactly_the_digit_rule(values):
    as_int, plain = plain_integers(pl.Series(values, dtype=pl.Utf8))
    want = [v is not None and v.isdigit() and not v.startswith("0") and len(v) <= 18 for v in values]
    assert plain.to_list() == want
    assert [int(v) for v, p in zip(values, want) if p] == as_int.filter(plain).to_list()
