"""Each numba kernel against its plain-Python twin (tests/features/naive.py) on random input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features import kernels
from features.kernels import NOT_AN_INTEGER
from tests.features import naive


@st.composite
def segmented(draw, values, sort=False, distinct=False, max_segments=8, max_rows=12):
    """CSR starts plus values; segments may be empty, single-row, or full of ties."""
    sizes = draw(st.lists(st.integers(0, max_rows), max_size=max_segments))
    segs = []
    for n in sizes:
        seg = draw(st.lists(values, min_size=n, max_size=n, unique=distinct))
        segs.append(sorted(seg) if sort else seg)
    starts = np.concatenate(([0], np.cumsum(sizes))).astype(np.int64)
    flat = np.array([v for seg in segs for v in seg], dtype=np.int64)
    return starts, flat


times = st.one_of(st.integers(0, 10**12), st.sampled_from([0, 1_000_000, 5_000_000]))  # many ties
callees = st.one_of(st.integers(84_900_000_000, 84_900_000_030), st.just(NOT_AN_INTEGER),
                    st.integers(-(2**62), 2**62))


@settings(max_examples=300, deadline=None)
@given(segmented(times, sort=True))
def test_gap_cv(data):
    starts, ts = data
    np.testing.assert_allclose(kernels.gap_cv(starts, ts), naive.gap_cv(starts, ts), rtol=1e-9, atol=1e-12)


@settings(max_examples=300, deadline=None)
@given(segmented(callees))
def test_seq_callee_ratio(data):
    starts, keys = data
    np.testing.assert_array_equal(kernels.seq_callee_ratio(starts, keys), naive.seq_callee_ratio(starts, keys))


def test_seq_callee_ratio_does_not_overflow_on_far_apart_keys():
    # Found by hypothesis: 2**62 - (-2**62) wraps around to a negative "step" in int64.
    starts, keys = np.array([0, 2]), np.array([2**62, -(2**62)])
    np.testing.assert_array_equal(kernels.seq_callee_ratio(starts, keys), [0.0])


@settings(max_examples=300, deadline=None)
@given(segmented(st.integers(0, 20_000), sort=True), st.integers(0, 5_000))
def test_window_count(data, half_width):
    starts, values = data
    np.testing.assert_array_equal(
        kernels.window_count(starts, values, half_width), naive.window_count(starts, values, half_width)
    )


@settings(max_examples=300, deadline=None)
@given(segmented(st.integers(0, 40), sort=True, distinct=True))
def test_run_length(data):
    starts, values = data
    np.testing.assert_array_equal(kernels.run_length(starts, values), naive.run_length(starts, values))


@settings(max_examples=200, deadline=None)
@given(segmented(st.integers(-(10**13), 10**13)))
def test_active_hours(data):
    starts, ts = data
    np.testing.assert_array_equal(kernels.active_hours(starts, ts), naive.active_hours(starts, ts))


@pytest.mark.parametrize("fn", [kernels.gap_cv, kernels.seq_callee_ratio])
def test_empty_input_gives_no_segments(fn):
    assert fn(np.zeros(1, np.int64), np.zeros(0, np.int64)).shape == (0,)


def test_single_row_and_all_ties():
    one = np.array([0, 1])
    assert np.isnan(kernels.gap_cv(one, np.array([5])))[0]
    assert np.isnan(kernels.seq_callee_ratio(one, np.array([5])))[0]
    ties = np.array([0, 4])
    assert np.isnan(kernels.gap_cv(ties, np.array([7, 7, 7, 7])))[0]  # zero mean gap: null
    assert kernels.window_count(ties, np.array([7, 7, 7, 7]), 0).tolist() == [4] * 4


def test_all_non_integer_callees_are_never_sequential():
    keys = np.full(5, NOT_AN_INTEGER)
    assert kernels.seq_callee_ratio(np.array([0, 5]), keys).tolist() == [0.0]


def test_segment_starts():
    assert kernels.segment_starts(np.array([], np.int64)).tolist() == [0]
    assert kernels.segment_starts(np.array([3, 3, 5, 9, 9, 9])).tolist() == [0, 2, 3, 6]


@st.composite
def with_mask(draw, values, sort=False, max_rows=12):
    starts, flat = draw(segmented(values, sort=sort, max_rows=max_rows))
    mask = np.array(draw(st.lists(st.booleans(), min_size=len(flat), max_size=len(flat))), dtype=bool)
    return starts, flat, mask


@settings(max_examples=200, deadline=None)
@given(with_mask(st.integers(-5, 5) | st.integers(-(2**62), 2**62), max_rows=2 * kernels.SMALL_SEGMENT))
def test_distinct_sorted(data):
    starts, values, mask = data
    got, want = kernels.distinct_sorted(starts, values, mask), naive.distinct_sorted(starts, values, mask)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=200, deadline=None)
@given(with_mask(st.integers(0, 5_000), max_rows=2 * kernels.SMALL_SEGMENT))
def test_segment_median(data):
    starts, values, mask = data
    np.testing.assert_array_equal(kernels.segment_median(starts, values, mask),
                                  naive.segment_median(starts, values, mask))


def test_segments_sort_nan_last_whatever_their_length():
    """As ``np.sort`` does, short segments (sorted by insertion) and long ones alike."""
    for n in (3, kernels.SMALL_SEGMENT, kernels.SMALL_SEGMENT + 5):
        values = np.random.default_rng(n).permutation(np.r_[np.arange(n - 2, dtype=np.float64), np.nan, np.nan])
        starts = np.array([0, n], dtype=np.int64)
        got = kernels._sorted_masked(starts, values, np.ones(n, dtype=np.bool_), starts)
        np.testing.assert_array_equal(got, np.sort(values))


@settings(max_examples=200, deadline=None)
@given(with_mask(st.integers(0, 4)), st.randoms())
def test_masked_event_order(data, rnd):
    starts, ts, mask = data
    keys = np.array([rnd.randint(0, 3) for _ in ts], dtype=np.int64)  # many ties in time and key
    got = kernels.masked_event_order(starts, mask, ts, keys)
    want = naive.masked_event_order(starts, mask, ts, keys)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def _csr(lists):
    starts = np.concatenate(([0], np.cumsum([len(x) for x in lists]))).astype(np.int64)
    return starts, np.array([v for x in lists for v in x], dtype=np.int64)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 8), max_size=6), max_size=8),
       st.lists(st.tuples(st.integers(0, 12), st.lists(st.integers(0, 8), max_size=6)), max_size=8))
def test_contacted_by(pair_lists, back_lists):
    # Even ids are the segments; contacts may name numbers that are no segment (odd, or past the last).
    ids = np.arange(len(pair_lists), dtype=np.int64) * 2
    back = {}
    for number, contacts in back_lists:
        back.setdefault(number, set()).update(contacts)
    back_ids = np.array(sorted(back), dtype=np.int64)
    args = (ids, *_csr([sorted(set(x)) for x in pair_lists]), back_ids,
            *_csr([sorted(back[b]) for b in back_ids.tolist()]))
    np.testing.assert_array_equal(kernels.contacted_by(*args), naive.contacted_by(*args))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.integers(0, 8), max_size=6), max_size=8))
def test_contacted_by_reversed_pairs_is_reciprocity(partner_lists):
    # Numbers 0, 2, ... call the partners listed (partners may also be odd numbers that never
    # call); the same pairs turned around say who contacted whom, as _contacts builds them.
    ids = np.arange(len(partner_lists), dtype=np.int64) * 2
    lists = [sorted({2 * p if p % 2 == 0 else p for p in lst}) for lst in partner_lists]
    callers_of = {}
    for a, lst in zip(ids.tolist(), lists):
        for b in lst:
            callers_of.setdefault(b, set()).add(a)
    back_ids = np.array(sorted(callers_of), dtype=np.int64)
    starts, values = _csr(lists)
    back = kernels.contacted_by(ids, starts, values, back_ids, *_csr([sorted(callers_of[b]) for b in back_ids.tolist()]))
    np.testing.assert_array_equal(kernels.masked_counts(starts, back), naive.reciprocated(ids, starts, values))


@settings(max_examples=200, deadline=None)
@given(with_mask(st.integers(0, 15)), st.randoms())
def test_event_counts(data, rnd):
    starts, flags, _ = data
    duration = np.array([rnd.choice([0, 3, 9, 10, 600]) for _ in flags], dtype=np.int64)
    ts = np.array([rnd.randint(0, 10**12) for _ in flags], dtype=np.int64)
    np.testing.assert_array_equal(kernels.event_counts(starts, flags, duration, ts),
                                  naive.event_counts(starts, flags, duration, ts))


@settings(max_examples=200, deadline=None)
@given(with_mask(st.integers(0, 6)))
def test_per_day(data):
    starts, day, mask = data
    for g, w in zip(kernels.per_day(starts, day, mask, 7), naive.per_day(starts, day, mask, 7), strict=True):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=200, deadline=None)
@given(segmented(st.integers(0, 3_000), sort=True), st.integers(1, 1_000))
def test_max_in_window(data, width):
    starts, ts = data
    np.testing.assert_array_equal(kernels.max_in_window(starts, ts, width), naive.max_in_window(starts, ts, width))


@settings(max_examples=200, deadline=None)
@given(with_mask(st.integers(0, 5)), st.randoms())
def test_first_event(data, rnd):
    starts, ts, mask = data
    keep = np.diff(starts) > 0  # the kernel is for non-empty segments (one per caller)
    starts = np.concatenate(([0], np.cumsum(np.diff(starts)[keep]))).astype(np.int64)
    values = np.array([rnd.randint(0, 3) for _ in ts], dtype=np.int64)
    for g, w in zip(kernels.first_event(starts, ts, values, mask), naive.first_event(starts, ts, values, mask),
                    strict=True):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=200, deadline=None)
@given(with_mask(st.integers(0, 3)), st.randoms())
def test_distinct_per_day(data, rnd):
    starts, day, mask = data
    values = np.array([rnd.choice([5, 6, 7, -(2**62)]) for _ in day], dtype=np.int64)  # ties in day and value
    for g, w in zip(kernels.distinct_per_day(starts, day, values, mask),
                    naive.distinct_per_day(starts, day, values, mask), strict=True):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=200, deadline=None)
@given(with_mask(st.integers(0, 3), sort=True, max_rows=3 * kernels.SMALL_SEGMENT), st.randoms())
def test_distinct_per_day_with_days_in_order(data, rnd):
    """The usual case, each day's rows one run: days in order within every segment, runs longer
    than SMALL_SEGMENT too, and many distinct values."""
    starts, day, mask = data
    values = np.array([rnd.choice([rnd.randint(0, 40), -(2**62)]) for _ in day], dtype=np.int64)
    for g, w in zip(kernels.distinct_per_day(starts, day, values, mask),
                    naive.distinct_per_day(starts, day, values, mask), strict=True):
        np.testing.assert_array_equal(g, w)


@settings(max_examples=200, deadline=None)
@given(with_mask(st.integers(0, 700) | st.sampled_from([0, 3, 4, 10, 600])))
def test_histogram_entropy(data):
    starts, values, mask = data
    edges = np.array([4, 11, 31, 61, 181, 601])
    np.testing.assert_allclose(kernels.histogram_entropy(starts, values, mask, edges),
                               naive.histogram_entropy(starts, values, mask, edges), rtol=1e-12, atol=1e-12)


@settings(max_examples=100, deadline=None)
@given(with_mask(st.integers(0, 1)))
def test_masked_counts(data):
    starts, _, mask = data
    np.testing.assert_array_equal(kernels.masked_counts(starts, mask), naive.masked_counts(starts, mask))


def test_new_kernels_on_empty_and_all_masked_out():
    none = np.zeros(1, np.int64)
    empty = np.zeros(0, np.int64)
    assert kernels.distinct_per_day(none, empty, empty, empty.astype(bool))[0].shape == (0,)
    assert kernels.histogram_entropy(none, empty, empty.astype(bool), np.array([1])).shape == (0,)
    two = np.array([0, 2])
    off = np.zeros(2, bool)
    assert np.isnan(kernels.histogram_entropy(two, np.array([1, 2]), off, np.array([1]))[0])
    assert kernels.distinct_per_day(two, np.array([0, 1]), np.array([5, 5]), off)[1].tolist() == [0]
    # One value per row, all in one bin: entropy 0; two equal bins: 1 bit.
    assert kernels.histogram_entropy(two, np.array([1, 1]), ~off, np.array([5])).tolist() == [0.0]
    assert kernels.histogram_entropy(two, np.array([1, 9]), ~off, np.array([5])).tolist() == [1.0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.integers(-2**63, 2**63 - 1), st.integers(84_000_000_000, 84_000_000_050),
                          st.sampled_from([0, -1, 2**63 - 1, -2**63])), max_size=300))
def test_stable_argsort(values):
    """Equal keys keep their order; negative, extreme and nearly equal keys (phone numbers)."""
    keys = np.array(values, dtype=np.int64)
    np.testing.assert_array_equal(kernels.stable_argsort(keys), np.argsort(keys, kind="stable"))


@pytest.mark.parametrize("seed", [0, 1])
def test_stable_argsort_in_parallel_chunks(seed):
    """Enough rows for several chunks on several threads: still stable, equal keys far apart."""
    rng = np.random.default_rng(seed)
    n = 3 * kernels._RADIX_CHUNK + 12_345
    keys = rng.choice(np.array([84_900_000_000, 84_900_000_001, -7, 2**40], dtype=np.int64), n)
    keys = np.where(rng.random(n) < 0.3, rng.integers(84_000_000_000, 84_999_999_999, n), keys)
    np.testing.assert_array_equal(kernels.stable_argsort(keys), np.argsort(keys, kind="stable"))


def test_stable_argsort_empty_single_and_all_equal():
    for keys in (np.empty(0, np.int64), np.array([5]), np.full(9, 84912345678)):
        np.testing.assert_array_equal(kernels.stable_argsort(keys), np.arange(keys.size))


@settings(max_examples=200, deadline=None)
@given(segmented(st.integers(0, 10**9)))
def test_segment_sums(data):
    starts, values = data
    np.testing.assert_array_equal(kernels.segment_sums(starts, values), naive.segment_sums(starts, values))


def test_segment_sums_empty_single_and_empty_segments():
    assert kernels.segment_sums(np.zeros(1, np.int64), np.zeros(0, np.int64)).shape == (0,)
    assert kernels.segment_sums(np.array([0, 1]), np.array([7])).tolist() == [7]
    assert kernels.segment_sums(np.array([0, 0, 2, 2]), np.array([3, 4])).tolist() == [0, 7, 0]
