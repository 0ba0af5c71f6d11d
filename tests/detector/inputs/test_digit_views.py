"""plain_digits reads Polars' string views directly: against the rule written in plain Python."""

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from detector.inputs.digit_views import MAX_DIGITS, edges_may_be_space, plain_digits, prefixed_digits


def naive(values: list[str | None]) -> tuple[list[int], list[int]]:
    plain = [v is not None and 0 < len(v) <= MAX_DIGITS and all("0" <= c <= "9" for c in v) and v[0] != "0"
             for v in values]
    return [int(v) if p else 0 for v, p in zip(values, plain)], [len(v) if p else 0 for v, p in zip(values, plain)]


def check(series: pl.Series) -> None:
    value, digits = plain_digits(series)
    want_value, want_digits = naive(series.to_list())
    assert value.dtype == np.int64 and digits.dtype == np.int8
    assert value.tolist() == want_value
    assert digits.tolist() == want_digits


texts = st.one_of(
    st.none(),
    st.text(alphabet="0123456789", max_size=22),  # inline (<= 12 bytes) and in a data buffer
    st.text(alphabet="0123456789+- a٣", max_size=20),  # signs, spaces, letters, a non-ASCII digit
    st.integers(0, 10**19).map(str),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, max_size=40), st.integers(0, 5))
def test_equals_the_rule_on_random_text(values, skip):
    series = pl.Series("n", values, dtype=pl.Utf8)
    check(series)
    check(series.slice(min(skip, len(values))))  # a view that starts inside its buffers


def test_empty_single_and_all_null():
    check(pl.Series("n", [], dtype=pl.Utf8))
    check(pl.Series("n", ["84912345678"]))
    check(pl.Series("n", [None, None], dtype=pl.Utf8))
    check(pl.concat([pl.Series("n", [], dtype=pl.Utf8), pl.Series("n", ["1"]), pl.Series("n", [], dtype=pl.Utf8)],
                    rechunk=False))  # empty chunks among others


def test_many_chunks_and_data_buffers():
    """Long values in several chunks, and one chunk whose views point into several buffers."""
    rng = np.random.default_rng(0)
    parts = [pl.Series("n", [str(v) for v in rng.integers(10**14, 10**17, 3000)] + ["0123456789012345", "x" * 30])
             for _ in range(4)]
    check(pl.concat(parts, rechunk=False))
    joined = pl.concat(parts, rechunk=True)
    assert len(joined.to_arrow(compat_level=pl.CompatLevel.newest()).buffers()) > 3  # several data buffers
    check(joined)


def _edge_is_space(value: str) -> bool:
    def suspicious(b: int) -> bool:  # ASCII whitespace, or a byte of a multi-byte character
        return b == 32 or 9 <= b <= 13 or b >= 128
    raw = value.encode()
    return bool(raw) and (suspicious(raw[0]) or suspicious(raw[-1]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | st.text(alphabet="ab9 \t\n\u00a0é", max_size=16), max_size=12), st.integers(0, 3))
def test_edges_may_be_space_reads_the_first_and_last_byte_of_each_value(values, skip):
    """Inline (up to 12 bytes) and longer values, sliced views, nulls; False is a promise that
    nothing needs stripping."""
    series = pl.Series("t", values, dtype=pl.Utf8).slice(min(skip, len(values)))
    kept = values[min(skip, len(values)):]
    got = edges_may_be_space(series)
    assert got == any(v is not None and _edge_is_space(v) for v in kept)
    if not got:
        assert all(v is None or v == v.strip() for v in kept)


def test_edges_in_empty_all_null_and_many_chunks():
    assert not edges_may_be_space(pl.Series("t", [], dtype=pl.Utf8))
    assert not edges_may_be_space(pl.Series("t", [None, None], dtype=pl.Utf8))
    long = "x" * 20
    clean = pl.concat([pl.Series("t", [long]), pl.Series("t", [], dtype=pl.Utf8), pl.Series("t", ["ab"])], rechunk=False)
    assert not edges_may_be_space(clean)
    assert edges_may_be_space(pl.concat([clean, pl.Series("t", [long + " "])], rechunk=False))  # in a later chunk's buffer
    assert edges_may_be_space(pl.concat([clean, pl.Series("t", [" " + long])], rechunk=True))


@settings(max_examples=300, deadline=None)
@given(st.lists(texts, max_size=40), st.sampled_from(["0", "1", "8", "00"]), st.data())
def test_digits_after_a_prefix_equal_the_rule_where_asked(values, prefix, data):
    """prefixed_digits is plain_digits of what follows the prefix, at the rows asked for only."""
    values = [v if v is None or data.draw(st.booleans()) else prefix + v for v in values]
    where = np.array(data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values))), dtype=bool)
    value, digits = prefixed_digits(pl.Series("n", values, dtype=pl.Utf8), prefix, where)
    rests = [v[len(prefix):] if w and v is not None and v.startswith(prefix) else None for v, w in zip(values, where)]
    want_value, want_digits = naive(rests)
    assert value.tolist() == want_value and digits.tolist() == want_digits
