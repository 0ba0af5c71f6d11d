import numpy as np
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


# Other countries' plans (data-contract.md: the configured country's dialling plan).
COUNTRY_FORMS = {
    "1": [  # North America: IDD 011, trunk 1 (the country code), 10-digit national numbers
        ("(650) 555-1234", "16505551234"),  # national, written bare
        ("650.555.1234", "16505551234"),
        ("1 650 555 1234", "16505551234"),  # with the trunk prefix
        ("+1 650 555 1234", "16505551234"),
        ("011 84 912 345 678", "84912345678"),  # another country's number via 011
        ("+84 912 345 678", "84912345678"),
        ("10234567890", "10234567890"),  # "10…": no trunk 0 here, nothing is stripped
        ("0012015550123", "0012015550123"),  # 00 is not this plan's international prefix
        ("911", "911"),
        ("+65 9123 4567", "+6591234567"),  # a 10-digit foreign number keeps its +
        ("garbage-12", "garbage-12"),
    ],
    "213": [  # Algeria: 00, trunk 0, 8-9 digit national numbers
        ("0551 23 45 67", "213551234567"),
        ("021 12 34 56", "21321123456"),
        ("+213 551 23 45 67", "213551234567"),
        ("00213551234567", "213551234567"),
        ("213551234567", "213551234567"),
        ("+213 (0) 551 23 45 67", "213551234567"),
        ("1548", "1548"),
        ("0033612345678", "33612345678"),
        ("0", "0"),
    ],
    "44": [  # the UK: 00, trunk 0, 7/9/10-digit national numbers
        ("07400 123456", "447400123456"),
        ("020 7946 0958", "442079460958"),
        ("+44 20 7946 0958", "442079460958"),
        ("0044 20 7946 0958", "442079460958"),
        ("+44 (0)20 7946 0958", "442079460958"),
        ("447400123456", "447400123456"),
        ("999", "999"),
        ("0800 00 1066", "44800001066"),
        ("07400 12345678901", "0740012345678901"),  # too long for a national number: kept
    ],
    "91": [  # India: 00, trunk 0
        ("098765 43210", "919876543210"),
        ("+91 98765 43210", "919876543210"),
        ("0091 98765 43210", "919876543210"),
        ("919876543210", "919876543210"),
        ("011 2345 6789", "911123456789"),  # Delhi landline
        ("100", "100"),
        ("+91-(0)98765-43210", "919876543210"),
    ],
    "84": [
        ("0912345678", "84912345678"),
        ("+84912345678", "84912345678"),
        ("0084912345678", "84912345678"),
        ("01621234567", "84321234567"),
        ("1900 1234", "19001234"),
        ("912345678", "912345678"),  # bare digits in a trunk-0 country: kept as written
        ("VIETTEL", "VIETTEL"),
    ],
}


@pytest.mark.parametrize("country_code, raw, expected",
                         [(cc, raw, want) for cc, forms in COUNTRY_FORMS.items() for raw, want in forms])
def test_country_forms(country_code, raw, expected):
    assert norm([raw], country_code) == [expected]


COUNTRIES = {"84": "VN", "1": "US", "213": "DZ", "44": "GB", "91": "IN"}


def _reference(text: str, region: str) -> str | None:
    """E.164 digits of ``text`` by ``phonenumbers``, one number at a time (slow, independent)."""
    import phonenumbers

    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return f"{number.country_code}{phonenumbers.national_significant_number(number)}"


def _national_numbers(region: str) -> st.SearchStrategy[str]:
    from phonenumbers import PhoneMetadata

    meta = PhoneMetadata.metadata_for_region(region)
    return st.one_of(*(st.from_regex(f"^(?:{desc.national_number_pattern})$", fullmatch=True, alphabet="0123456789")
                       for desc in (meta.mobile, meta.fixed_line)))


@pytest.mark.parametrize("country_code", sorted(COUNTRIES))
def test_every_written_form_of_a_national_number_agrees_with_phonenumbers(country_code):
    from detector.inputs.dialling_plan import dialling_plan

    plan, region = dialling_plan(country_code), COUNTRIES[country_code]

    @settings(max_examples=150, deadline=None, database=None)
    @given(_national_numbers(region))
    def check(nsn):
        cc = country_code
        forms = [f"+{cc} {nsn}", cc + nsn, f"{plan.international_prefix}{cc}{nsn}",
                 f"+{cc} ({plan.trunk_prefix}) {nsn}", plan.trunk_prefix + nsn]
        if plan.bare_national:
            forms.append(nsn)
        want = [_reference(f, region) for f in forms]
        assert norm(forms, cc) == want == [cc + nsn] * len(forms)

    check()


country_text = st.one_of(
    number_text,
    st.from_regex(r"(\+|00|011|0|1)?[ ]?(1|44|91|213|84)?[ ]?\(?0?\)?[0-9 ]{3,14}", fullmatch=True),
)


@pytest.mark.parametrize("country_code", sorted(COUNTRIES))
def test_every_plan_is_idempotent_never_raises_and_its_fast_path_agrees(country_code):
    from detector.inputs.numbers import _normalise_values, normalise_series

    @settings(max_examples=150, deadline=None)
    @given(st.lists(st.one_of(st.none(), country_text), max_size=30))
    def check(values):
        once = norm(values, country_code)
        assert norm(once, country_code) == once
        s = pl.Series("n", values, dtype=pl.Utf8)
        assert normalise_series(s, country_code).to_list() == _normalise_values(s, country_code).to_list() == once

    check()


def test_a_code_no_country_has_is_refused(tmp_path):
    from detector.errors import InputError
    from detector.inputs.mapping import load_mapping

    (tmp_path / "m.toml").write_text('[format]\ncountry_code = "999"\n')
    with pytest.raises(InputError, match="no country's calling code"):
        load_mapping(tmp_path / "m.toml")


@pytest.mark.parametrize("country_code", sorted(COUNTRIES))
def test_fast_path_kernel_on_empty_and_single_values(country_code):
    from detector.inputs.digit_views import plain_digits
    from detector.inputs.numbers import _already_normal, _normalise_values

    empty = np.zeros(0, dtype=np.int64)
    assert _already_normal(empty, empty.astype(np.int8), country_code).shape == (0,)
    for text in ["", "7", country_code + "912345678", "6505551234", "0912345678", None]:
        s = pl.Series([text], dtype=pl.Utf8)
        normal = _already_normal(*plain_digits(s), country_code)
        # "already normal" must never be said of a value the rules change
        assert not normal[0] or _normalise_values(s, country_code).to_list() == [text]


@pytest.mark.parametrize("country_code", sorted(COUNTRIES))
def test_national_numbers_behind_the_trunk_prefix_take_the_fast_path_as_the_rules_do(country_code):
    """An export in national form (``0912345678``) is read by the kernel, not the rules: both
    must agree on every length around the plan's, with separators, doubled trunk prefixes,
    international prefixes and Vietnam's retired prefixes mixed in."""
    from detector.inputs.dialling_plan import dialling_plan
    from detector.inputs.numbers import _normalise_values, _trunk_national, normalise_series, plain_digits

    plan = dialling_plan(country_code)
    trunk = plan.trunk_prefix or ""
    national = st.tuples(st.sampled_from(["", trunk, trunk + trunk, "00", "0", "01", "011"]),
                         st.sampled_from(["", "1", "16", "162", "12", "9", "8"]),
                         st.integers(1, 13).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n)),
                         ).map("".join)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(st.one_of(national, country_text, st.none()), max_size=40))
    def check(values):
        s = pl.Series("n", values, dtype=pl.Utf8)
        assert normalise_series(s, country_code).to_list() == _normalise_values(s, country_code).to_list()

    check()
    if trunk:  # the fast path is taken at all
        length = max(n for n in plan.national_lengths if n + len(country_code) <= 18)
        s = pl.Series([trunk + "5" * length])
        value, digits = plain_digits(s)
        assert _trunk_national(s, np.ones(1, bool), value, digits, country_code).tolist() == [True]
        assert str(value[0]) == normalise_series(s, country_code)[0] == _normalise_values(s, country_code)[0]


@pytest.mark.parametrize("values", [[], ["0912345678"], [None, None], ["0912345678", None, "VIETTEL", "01621234567"]])
def test_national_fast_path_on_empty_single_and_null_columns(values):
    from detector.inputs.numbers import _normalise_values, normalise_series, normalise_with_ids, number_ids

    s = pl.Series("n", values, dtype=pl.Utf8)
    assert normalise_series(s, "84").to_list() == _normalise_values(s, "84").to_list()
    text, ids = normalise_with_ids(s, "84")
    assert text.to_list() == _normalise_values(s, "84").to_list()
    assert ids.to_list() == number_ids(text).to_list()  # a national number's id is its canonical integer
