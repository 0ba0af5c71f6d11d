"""numba kernels for the per-subscriber sequential work.

Every kernel works on *segments*: rows sorted by subscriber (and within a subscriber in event
order), with ``starts`` the int64 offsets where each subscriber's rows begin plus a final offset
equal to the row count (CSR layout, ``len(starts) == n_segments + 1``). A kernel returns one value
per segment. Nulls are NaN in float64 outputs. Kernels take only contiguous numpy arrays of
int64/float64/bool, never Python objects, and are cached on disk (``cache=True``) so a CLI run
does not pay the compile time again. They release the GIL (``nogil=True``): a run computes two
partitions at once on threads, and a kernel holding the GIL stopped the other partition's
kernels and Python alike.

Each kernel ``_name`` has a public wrapper ``name`` that checks and casts its inputs; the tests
compare each wrapper with a plain numpy version (``tests/features/naive.py``).
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, prange

#: Sort key of a callee that is not an integer: after every integer.
NOT_AN_INTEGER = np.iinfo(np.int64).max

#: Bit flags of one event, as :func:`event_counts` reads them.
VOICE, ANSWERED, HAS_CELL, HAS_IMEI = 1, 2, 4, 8
#: Columns of :func:`event_counts`.
EVENT_COUNTS = ("voice_out", "answered_n", "short_n", "sms_out", "night_n", "answered_seconds", "very_short_n")
US_PER_HOUR = 3_600_000_000
US_PER_DAY = 24 * US_PER_HOUR


@njit(cache=True, parallel=True, nogil=True)
def _event_counts(starts, flags, duration, ts_us):
    n_seg = starts.shape[0] - 1
    out = np.zeros((n_seg, 7), dtype=np.int64)
    for s in prange(n_seg):
        for i in range(starts[s], starts[s + 1]):
            f = flags[i]
            if f & VOICE:
                out[s, 0] += 1
                if f & ANSWERED:
                    out[s, 1] += 1
                    out[s, 5] += duration[i]
                    if duration[i] < 10:
                        out[s, 2] += 1
                    if 1 <= duration[i] <= 3:
                        out[s, 6] += 1
            else:
                out[s, 3] += 1
            if (ts_us[i] // US_PER_HOUR) % 24 < 6:
                out[s, 4] += 1
    return out


def event_counts(starts: np.ndarray, flags: np.ndarray, duration: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
    """Per segment, in the columns of :data:`EVENT_COUNTS`: voice events, answered voice events,
    answered ones under 10 s, SMS, events in local hours 0-5, the answered seconds, and answered
    voice events of 1 to 3 s.
    ``flags``: :data:`VOICE` | :data:`ANSWERED` | ... bits per event."""
    return _event_counts(_int64(starts), np.ascontiguousarray(flags, dtype=np.int8), _int64(duration), _int64(ts_us))


@njit(cache=True, parallel=True, nogil=True)
def _gap_cv(starts, ts_us):
    n_seg = starts.shape[0] - 1
    out = np.full(n_seg, np.nan)
    for s in prange(n_seg):
        lo, hi = starts[s], starts[s + 1]
        n_gaps = hi - lo - 1
        if n_gaps < 2:
            continue
        total = 0.0
        for i in range(lo + 1, hi):
            total += (ts_us[i] - ts_us[i - 1]) / 1e6
        mean = total / n_gaps
        if mean == 0.0:
            continue
        # Two passes: the spread around the mean, not sum(g^2) - n*mean^2, which cancels badly.
        sq = 0.0
        for i in range(lo + 1, hi):
            d = (ts_us[i] - ts_us[i - 1]) / 1e6 - mean
            sq += d * d
        out[s] = np.sqrt(sq / n_gaps) / mean
    return out


def gap_cv(starts: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
    """Coefficient of variation (population std / mean) of the gaps between consecutive events.

    ``ts_us``: event times in microseconds, in event order within each segment. NaN for a segment
    with fewer than 2 gaps or a zero mean gap.
    """
    return _gap_cv(_int64(starts), _int64(ts_us))


@njit(cache=True, parallel=True, nogil=True)
def _seq_callee_ratio(starts, callee_key, max_step):
    n_seg = starts.shape[0] - 1
    out = np.full(n_seg, np.nan)
    for s in prange(n_seg):
        lo, hi = starts[s], starts[s + 1]
        if hi - lo < 2:
            continue
        hits = 0
        for i in range(lo + 1, hi):
            a, b = callee_key[i - 1], callee_key[i]
            if a == NOT_AN_INTEGER or b == NOT_AN_INTEGER:
                continue
            # A difference of two int64 numbers can overflow; as uint64 the larger minus the
            # smaller is exact (it lies in 1 .. 2**64 - 1).
            if a < b:
                hit = np.uint64(b) - np.uint64(a) <= np.uint64(max_step)
            elif b < a:
                hit = np.uint64(a) - np.uint64(b) <= np.uint64(max_step)
            else:
                hit = False
            if hit:
                hits += 1
        out[s] = hits / (hi - lo - 1)
    return out


def seq_callee_ratio(starts: np.ndarray, callee_key: np.ndarray, max_step: int = 10) -> np.ndarray:
    """Share of consecutive event pairs whose callees, as integers, differ by 1 to ``max_step``.

    ``callee_key``: callee as int64, :data:`NOT_AN_INTEGER` where it is not an integer (such a
    pair is never sequential). NaN for a segment with fewer than 2 events.
    """
    return _seq_callee_ratio(_int64(starts), _int64(callee_key), np.int64(max_step))


@njit(cache=True, nogil=True)
def _window_count(starts, values, half_width):
    out = np.zeros(values.shape[0], dtype=np.int64)
    for s in range(starts.shape[0] - 1):
        lo, hi = starts[s], starts[s + 1]
        left = lo
        right = lo
        for i in range(lo, hi):
            while values[left] < values[i] - half_width:
                left += 1
            if right < i:
                right = i
            while right + 1 < hi and values[right + 1] <= values[i] + half_width:
                right += 1
            out[i] = right - left + 1
    return out


def window_count(starts: np.ndarray, values: np.ndarray, half_width: int) -> np.ndarray:
    """For each row, the rows of its segment whose value is within ``half_width`` either side
    (inclusive), itself included. ``values`` must be sorted ascending within each segment.
    One value per row, not per segment.
    """
    return _window_count(_int64(starts), _int64(values), np.int64(half_width))


@njit(cache=True, nogil=True)
def _run_length(starts, values):
    out = np.zeros(values.shape[0], dtype=np.int64)
    for s in range(starts.shape[0] - 1):
        lo, hi = starts[s], starts[s + 1]
        run_start = lo
        for i in range(lo, hi + 1):
            # A run ends at the segment's end or where the next value is not previous + 1
            # (a repeated value also ends it: values are expected to be distinct).
            if i == hi or (i > lo and values[i] != values[i - 1] + 1):
                for j in range(run_start, i):
                    out[j] = i - run_start
                run_start = i
    return out


def run_length(starts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """For each row, the length of the run of consecutive integers (step 1) containing it, within
    its segment. ``values`` must be sorted ascending and distinct within each segment. One value
    per row.
    """
    return _run_length(_int64(starts), _int64(values))


@njit(cache=True, nogil=True)
def _masked_starts(starts, mask):
    """CSR offsets of the rows where ``mask``, per segment (serial prefix sum)."""
    n_seg = starts.shape[0] - 1
    out = np.zeros(n_seg + 1, dtype=np.int64)
    for s in range(n_seg):
        k = 0
        for i in range(starts[s], starts[s + 1]):
            if mask[i]:
                k += 1
        out[s + 1] = out[s] + k
    return out


#: Segments per chunk of a parallel kernel that needs scratch space (one per chunk, not per segment).
_SEGMENTS_PER_CHUNK = 4096


@njit(cache=True, nogil=True)
def _chunks(n_seg):
    """Bounds of chunks of :data:`_SEGMENTS_PER_CHUNK` segments: ``n_chunks + 1`` offsets."""
    n_chunks = max(1, (n_seg + _SEGMENTS_PER_CHUNK - 1) // _SEGMENTS_PER_CHUNK)
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    for c in range(n_chunks + 1):
        bounds[c] = min(c * _SEGMENTS_PER_CHUNK, n_seg)
    return bounds


#: Segments up to this long are sorted by insertion: most numbers have a handful of events, and
#: on those the library sort's per-call overhead is most of the time (a partition's 2.1M rows in
#: 154k callers sorted in 21 ms instead of 37).
SMALL_SEGMENT = 16


@njit(cache=True, nogil=True)
def _insertion_sort(buf, lo, hi):
    """Sort ``buf[lo:hi]`` in place, NaN last as ``np.sort`` puts it."""
    for a in range(lo + 1, hi):
        v = buf[a]
        b = a - 1
        while b >= lo and (buf[b] > v or (math.isnan(buf[b]) and not math.isnan(v))):
            buf[b + 1] = buf[b]
            b -= 1
        buf[b + 1] = v


@njit(cache=True, nogil=True)
def _is_sorted(buf, lo, hi):
    """Whether ``buf[lo:hi]`` is in ``np.sort``'s order (ascending, NaN last)."""
    for a in range(lo + 1, hi):
        x, y = buf[a - 1], buf[a]
        if not (x <= y or y != y):
            return False
    return True


@njit(cache=True, nogil=True)
def _sort_range(buf, lo, hi):
    """Sort ``buf[lo:hi]`` in place: by insertion up to :data:`SMALL_SEGMENT` values, else by
    the library sort (NaN last either way). A range in order already is left as it is after
    one look: callers sorted by number before their rows were sorted by callee, a caller's
    distinct callees divided into blocks."""
    if _is_sorted(buf, lo, hi):
        return
    if hi - lo <= SMALL_SEGMENT:
        _insertion_sort(buf, lo, hi)
    else:
        buf[lo:hi].sort()


@njit(cache=True, parallel=True, nogil=True)
def _sorted_masked(starts, values, mask, kept_starts):
    """The masked values of each segment, each segment sorted, laid out at ``kept_starts``."""
    buf = np.empty(kept_starts[-1], dtype=values.dtype)
    for s in prange(starts.shape[0] - 1):
        k = kept_starts[s]
        for i in range(starts[s], starts[s + 1]):
            if mask[i]:
                buf[k] = values[i]
                k += 1
        _sort_range(buf, kept_starts[s], k)
    return buf


@njit(cache=True, parallel=True, nogil=True)
def _distinct_sorted(starts, values, mask):
    kept_starts = _masked_starts(starts, mask)
    buf = _sorted_masked(starts, values, mask, kept_starts)
    n_seg = starts.shape[0] - 1
    counts = np.zeros(n_seg, dtype=np.int64)
    for s in prange(n_seg):
        c = 0
        for j in range(kept_starts[s], kept_starts[s + 1]):
            if j == kept_starts[s] or buf[j] != buf[j - 1]:
                c += 1
        counts[s] = c
    out_starts = np.zeros(n_seg + 1, dtype=np.int64)
    for s in range(n_seg):
        out_starts[s + 1] = out_starts[s] + counts[s]
    out_values = np.empty(out_starts[-1], dtype=np.int64)
    out_counts = np.zeros(out_starts[-1], dtype=np.int64)
    for s in prange(n_seg):
        pos = out_starts[s] - 1
        for j in range(kept_starts[s], kept_starts[s + 1]):
            if j == kept_starts[s] or buf[j] != buf[j - 1]:
                pos += 1
                out_values[pos] = buf[j]
            out_counts[pos] += 1
    return out_starts, out_values, out_counts


def distinct_sorted(
    starts: np.ndarray, values: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment, the distinct ``values`` where ``mask`` is true, sorted ascending, and how
    often each occurs.

    Returns CSR offsets (one segment per input segment), the values and their counts; ``np.diff``
    of the offsets is the number of distinct values.
    """
    return _distinct_sorted(_int64(starts), _int64(values), np.ascontiguousarray(mask, dtype=np.bool_))


@njit(cache=True, parallel=True, nogil=True)
def _segment_median(starts, values, mask):
    kept_starts = _masked_starts(starts, mask)
    buf = _sorted_masked(starts, values, mask, kept_starts)
    n_seg = starts.shape[0] - 1
    out = np.full(n_seg, np.nan)
    for s in prange(n_seg):
        lo, k = kept_starts[s], kept_starts[s + 1] - kept_starts[s]
        if k == 0:
            continue
        half = k // 2
        out[s] = buf[lo + half] if k % 2 else (buf[lo + half - 1] + buf[lo + half]) / 2.0
    return out


def segment_median(starts: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per segment, the median of ``values`` where ``mask`` (mean of the two middle values for
    an even count); NaN where there is none."""
    return _segment_median(_int64(starts), np.ascontiguousarray(values, dtype=np.float64),
                           np.ascontiguousarray(mask, dtype=np.bool_))


@njit(cache=True, parallel=True, nogil=True)
def _masked_event_order(starts, mask, ts, key):
    n_seg = starts.shape[0] - 1
    out_starts = _masked_starts(starts, mask)
    out_ts = np.empty(out_starts[-1], dtype=np.int64)
    out_key = np.empty(out_starts[-1], dtype=np.int64)
    for s in prange(n_seg):
        first = out_starts[s]
        pos = first
        in_order = True
        for i in range(starts[s], starts[s + 1]):
            if mask[i]:
                out_ts[pos] = ts[i]
                out_key[pos] = key[i]
                if pos > first and (out_ts[pos] < out_ts[pos - 1]
                                    or (out_ts[pos] == out_ts[pos - 1] and out_key[pos] < out_key[pos - 1])):
                    in_order = False
                pos += 1
        if not in_order:
            # Two stable sorts: by key, then by time, give (time, key) order.
            seg_ts = out_ts[first:pos].copy()
            seg_key = out_key[first:pos].copy()
            by_key = np.argsort(seg_key, kind="mergesort")
            by_time = np.argsort(seg_ts[by_key], kind="mergesort")
            order = by_key[by_time]
            for j in range(pos - first):
                out_ts[first + j] = seg_ts[order[j]]
                out_key[first + j] = seg_key[order[j]]
    return out_starts, out_ts, out_key


def masked_event_order(
    starts: np.ndarray, mask: np.ndarray, ts: np.ndarray, key: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per segment, the rows where ``mask``, in (``ts``, ``key``) order.

    Returns CSR offsets and the reordered ``ts`` and ``key``. Rows usually arrive in time order,
    so a segment is only sorted when it is not already in order.
    """
    return _masked_event_order(_int64(starts), np.ascontiguousarray(mask, dtype=np.bool_), _int64(ts), _int64(key))


@njit(cache=True, parallel=True, nogil=True)
def _contacted_by(segment_ids, pair_starts, pair_values, back_ids, back_starts, back_values):
    out = np.zeros(pair_values.shape[0], dtype=np.bool_)
    for s in prange(segment_ids.shape[0]):
        b = np.searchsorted(back_ids, segment_ids[s])
        if b == back_ids.shape[0] or back_ids[b] != segment_ids[s]:
            continue  # nobody contacted this number
        # Both lists are sorted: one merge, no search per partner.
        j, end = back_starts[b], back_starts[b + 1]
        for p in range(pair_starts[s], pair_starts[s + 1]):
            while j < end and back_values[j] < pair_values[p]:
                j += 1
            out[p] = j < end and back_values[j] == pair_values[p]
    return out


def contacted_by(
    segment_ids: np.ndarray,
    pair_starts: np.ndarray,
    pair_values: np.ndarray,
    back_ids: np.ndarray,
    back_starts: np.ndarray,
    back_values: np.ndarray,
) -> np.ndarray:
    """Per pair (a segment's partner in ``pair_values`` at ``pair_starts``, sorted within each
    segment): whether the partner is among those who contacted the segment's number.

    Who contacted whom comes in segments of its own: ``back_values`` at ``back_starts`` are the
    contacts of number ``back_ids`` (sorted ascending, as ``segment_ids``), sorted within each
    segment, as :func:`distinct_sorted` gives them for rows sorted by callee. A number with no
    segment there was contacted by nobody. Reciprocity counts these per segment
    (:func:`masked_counts`)."""
    return _contacted_by(_int64(segment_ids), _int64(pair_starts), _int64(pair_values), _int64(back_ids),
                         _int64(back_starts), _int64(back_values))


@njit(cache=True, parallel=True, nogil=True)
def _active_hours(starts, ts_us):
    n_seg = starts.shape[0] - 1
    out = np.zeros(n_seg, dtype=np.int64)
    for s in prange(n_seg):
        seen = 0
        for i in range(starts[s], starts[s + 1]):
            seen |= np.int64(1) << ((ts_us[i] // US_PER_HOUR) % 24)
        count = 0
        while seen:
            seen &= seen - 1
            count += 1
        out[s] = count
    return out


def active_hours(starts: np.ndarray, ts_us: np.ndarray) -> np.ndarray:
    """Per segment, the distinct hours of day (0-23) of the events at ``ts_us`` (microseconds
    since the epoch of naive local time). A 24-bit mask per segment, no sorting."""
    return _active_hours(_int64(starts), _int64(ts_us))


@njit(cache=True, parallel=True, nogil=True)
def _per_day(starts, day, mask, n_days):
    n_seg = starts.shape[0] - 1
    active = np.zeros(n_seg, dtype=np.int64)
    busiest = np.zeros(n_seg, dtype=np.int64)
    bounds = _chunks(n_seg)
    for c in prange(bounds.shape[0] - 1):
        counts = np.zeros(n_days, dtype=np.int64)  # one per chunk, cleared as it is read
        for s in range(bounds[c], bounds[c + 1]):
            for i in range(starts[s], starts[s + 1]):
                if mask[i]:
                    counts[day[i]] += 1
            for i in range(starts[s], starts[s + 1]):
                k = counts[day[i]]
                if k > 0:  # first visit of this day in the segment: count it, then clear it
                    active[s] += 1
                    busiest[s] = max(busiest[s], k)
                    counts[day[i]] = 0
    return active, busiest


def per_day(starts: np.ndarray, day: np.ndarray, mask: np.ndarray, n_days: int) -> tuple[np.ndarray, np.ndarray]:
    """Per segment, the days with events where ``mask``, and the most such events on one day.

    ``day``: each event's day as an index 0..``n_days``-1 (in any order within a segment).
    """
    return _per_day(_int64(starts), _int64(day), np.ascontiguousarray(mask, dtype=np.bool_), np.int64(n_days))


@njit(cache=True, parallel=True, nogil=True)
def _max_in_window(starts, ts_us, width_us):
    n_seg = starts.shape[0] - 1
    out = np.zeros(n_seg, dtype=np.int64)
    for s in prange(n_seg):
        left = starts[s]
        for i in range(starts[s], starts[s + 1]):
            while ts_us[i] - ts_us[left] >= width_us:
                left += 1
            out[s] = max(out[s], i - left + 1)
    return out


def max_in_window(starts: np.ndarray, ts_us: np.ndarray, width_us: int) -> np.ndarray:
    """Per segment, the most events in any window of ``width_us`` microseconds (events at most
    ``width_us`` - 1 apart). ``ts_us`` must be sorted within each segment."""
    return _max_in_window(_int64(starts), _int64(ts_us), np.int64(width_us))


@njit(cache=True, parallel=True, nogil=True)
def _first_event(starts, ts_us, values, mask):
    n_seg = starts.shape[0] - 1
    first_ts = np.zeros(n_seg, dtype=np.int64)
    first_value = np.zeros(n_seg, dtype=np.int64)
    found = np.zeros(n_seg, dtype=np.bool_)
    for s in prange(n_seg):
        best = -1
        for i in range(starts[s], starts[s + 1]):
            if i == starts[s] or ts_us[i] < first_ts[s]:
                first_ts[s] = ts_us[i]
            # The earliest row with a value; on a tie in time, the smallest value.
            if mask[i] and (best < 0 or ts_us[i] < ts_us[best]
                            or (ts_us[i] == ts_us[best] and values[i] < values[best])):
                best = i
        if best >= 0:
            first_value[s] = values[best]
            found[s] = True
    return first_ts, first_value, found


def first_event(
    starts: np.ndarray, ts_us: np.ndarray, values: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (non-empty) segment: the earliest time; the value of the earliest row where ``mask``
    (on a tie in time the smallest value); and whether there was such a row."""
    return _first_event(_int64(starts), _int64(ts_us), _int64(values), np.ascontiguousarray(mask, dtype=np.bool_))


@njit(cache=True, parallel=True, nogil=True)
def _distinct_per_day(starts, day, values, mask):
    n_seg = starts.shape[0] - 1
    total = np.zeros(n_seg, dtype=np.int64)
    busiest = np.zeros(n_seg, dtype=np.int64)
    # Each segment sorts its values in its own rows of one buffer: no arrays made per segment.
    buf = np.empty(values.shape[0], dtype=np.int64)
    for s in prange(n_seg):
        lo, hi = starts[s], starts[s + 1]
        in_order = True
        for i in range(lo + 1, hi):
            if day[i] < day[i - 1]:
                in_order = False
                break
        if in_order:
            # The usual case (a number's events come in time order): each day's rows are a run.
            i = lo
            while i < hi:
                k = i
                j = i
                while j < hi and day[j] == day[i]:
                    if mask[j]:
                        buf[k] = values[j]
                        k += 1
                    j += 1
                today = _distinct_count(buf, i, k)
                total[s] += today
                busiest[s] = max(busiest[s], today)
                i = j
            continue
        rows = np.empty(hi - lo, dtype=np.int64)
        k = 0
        for i in range(lo, hi):
            if mask[i]:
                rows[k] = i
                k += 1
        rows = rows[:k]
        # Two stable sorts (by value, then by day) give (day, value) order.
        rows = rows[np.argsort(values[rows], kind="mergesort")]
        rows = rows[np.argsort(day[rows], kind="mergesort")]
        today = 0
        for j in range(k):
            new_day = j == 0 or day[rows[j]] != day[rows[j - 1]]
            if new_day:
                today = 0
            if new_day or values[rows[j]] != values[rows[j - 1]]:
                today += 1
                total[s] += 1
                busiest[s] = max(busiest[s], today)
    return total, busiest


@njit(cache=True, nogil=True)
def _distinct_count(buf, lo, hi):
    """How many distinct values ``buf[lo:hi]`` holds; sorts them in place."""
    _sort_range(buf, lo, hi)
    count = 0
    for j in range(lo, hi):
        if j == lo or buf[j] != buf[j - 1]:
            count += 1
    return count


def distinct_per_day(
    starts: np.ndarray, day: np.ndarray, values: np.ndarray, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per segment, over the rows where ``mask``: the distinct ``values`` of each day summed over
    the days (divide by active days for a daily mean), and the most on one day."""
    return _distinct_per_day(_int64(starts), _int64(day), _int64(values), np.ascontiguousarray(mask, dtype=np.bool_))


@njit(cache=True, parallel=True, nogil=True)
def _histogram_entropy(starts, values, mask, edges):
    n_seg = starts.shape[0] - 1
    n_bins = edges.shape[0] + 1
    out = np.full(n_seg, np.nan)
    bounds = _chunks(n_seg)
    for c in prange(bounds.shape[0] - 1):
        counts = np.zeros(n_bins, dtype=np.int64)  # one per chunk of segments
        for s in range(bounds[c], bounds[c + 1]):
            counts[:] = 0
            n = 0
            for i in range(starts[s], starts[s + 1]):
                if mask[i]:
                    counts[np.searchsorted(edges, values[i], side="right")] += 1
                    n += 1
            if n == 0:
                continue
            h = 0.0
            for b in range(n_bins):
                if counts[b] > 0:
                    p = counts[b] / n
                    h -= p * np.log2(p)
            out[s] = h
    return out


def histogram_entropy(starts: np.ndarray, values: np.ndarray, mask: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Per segment, the Shannon entropy (bits) of the histogram of ``values`` where ``mask``:
    bin ``b`` holds ``edges[b-1] <= v < edges[b]`` (the first and last bins are open). NaN for a
    segment without such values."""
    return _histogram_entropy(_int64(starts), _int64(values), np.ascontiguousarray(mask, dtype=np.bool_),
                              _int64(edges))


@njit(cache=True, nogil=True)
def _segment_sums(starts, values):
    n_seg = starts.shape[0] - 1
    out = np.zeros(n_seg, dtype=np.int64)
    for s in range(n_seg):
        total = 0
        for i in range(starts[s], starts[s + 1]):
            total += values[i]
        out[s] = total
    return out


def segment_sums(starts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per segment, the sum of its int64 ``values`` (0 for an empty segment): a call graph's
    counts per edge added up per number."""
    return _segment_sums(_int64(starts), _int64(values))


def masked_counts(starts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per segment, how many rows have ``mask`` set."""
    return np.diff(_masked_starts(_int64(starts), np.ascontiguousarray(mask, dtype=np.bool_)))


#: Bits of the key sorted per pass of :func:`stable_argsort` (2,048 buckets: the counts stay in L1).
_RADIX_BITS = 11


#: Rows per chunk of :func:`stable_argsort` below which one thread sorts them all.
_RADIX_CHUNK = 1 << 18


@njit(cache=True, nogil=True, parallel=True)
def _stable_argsort(keys, threads):
    """Least-significant-digit radix sort of int64 ``keys``, :data:`_RADIX_BITS` at a time, over
    only the low bits where some key differs from the first (phone numbers share their top ~27).
    Each pass counts and scatters contiguous chunks of the rows on up to ``threads`` threads: a
    chunk's rows of one digit go after the earlier chunks' rows of that digit, so the sort stays
    stable."""
    n = keys.shape[0]
    order = np.arange(n)
    if n < 2:
        return order
    # Sign bit flipped: the keys' order as unsigned integers is their order as signed ones.
    k = keys.view(np.uint64) ^ np.uint64(1 << 63)
    differ = np.uint64(0)
    for i in range(n):
        differ |= k[i] ^ k[0]
    bits = 0
    while bits < 64 and (differ >> np.uint64(bits)) != 0:
        bits += 1
    n_chunks = max(1, min(threads, n // _RADIX_CHUNK))
    bounds = np.linspace(0, n, n_chunks + 1).astype(np.int64)
    mask = np.uint64((1 << _RADIX_BITS) - 1)
    buckets = 1 << _RADIX_BITS
    at = np.empty((n_chunks, buckets), dtype=np.int64)
    order_next = np.empty(n, dtype=np.int64)
    k_next = np.empty(n, dtype=np.uint64)
    for shift in range(0, bits, _RADIX_BITS):
        s = np.uint64(shift)
        for c in prange(n_chunks):
            at[c, :] = 0
            for i in range(bounds[c], bounds[c + 1]):
                at[c, (k[i] >> s) & mask] += 1
        total = 0
        for d in range(buckets):  # where each chunk's rows of each digit start
            for c in range(n_chunks):
                count = at[c, d]
                at[c, d] = total
                total += count
        for c in prange(n_chunks):
            for i in range(bounds[c], bounds[c + 1]):
                d = (k[i] >> s) & mask
                to = at[c, d]
                at[c, d] = to + 1
                order_next[to] = order[i]
                k_next[to] = k[i]
        order, order_next = order_next, order
        k, k_next = k_next, k
    return order


def stable_argsort(keys: np.ndarray) -> np.ndarray:
    """The row order that sorts ``keys`` ascending, equal keys in their input order: what
    ``np.argsort(keys, kind="stable")`` gives. A radix sort, chunks of the rows on numba's
    threads: on a partition's 2.1M callers a fraction of the CPU of Polars' stable sort."""
    return _stable_argsort(_int64(keys), numba.get_num_threads())


def segment_starts(keys: np.ndarray) -> np.ndarray:
    """CSR offsets of the runs of equal values in a sorted key array (``n_runs + 1`` entries)."""
    keys = np.asarray(keys)
    if keys.shape[0] == 0:
        return np.zeros(1, dtype=np.int64)
    change = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    return np.concatenate(([0], change, [keys.shape[0]])).astype(np.int64)


def _int64(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.int64)


def threadsafe() -> bool:
    """Whether numba's threading layer runs parallel kernels launched from several threads at
    once (``tbb``, ``omp``); ``workqueue`` takes one launch at a time and aborts the process on a
    second. The layer is chosen at the first parallel launch, so this makes one."""
    one = np.zeros(1, dtype=np.int64)
    _distinct_sorted(np.array([0, 1], dtype=np.int64), one, np.ones(1, dtype=np.bool_))
    return numba.threading_layer() != "workqueue"
