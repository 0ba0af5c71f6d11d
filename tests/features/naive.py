"""Slow, obviously correct twins of the numba kernels in features/kernels.py."""

from __future__ import annotations

import numpy as np

from features.kernels import NOT_AN_INTEGER


def segments(starts):
    return [(int(starts[i]), int(starts[i + 1])) for i in range(len(starts) - 1)]


def gap_cv(starts, ts_us):
    out = []
    for lo, hi in segments(starts):
        gaps = np.diff(np.asarray(ts_us[lo:hi], dtype=np.float64)) / 1e6
        if len(gaps) < 2 or gaps.mean() == 0:
            out.append(np.nan)
        else:
            out.append(gaps.std() / gaps.mean())
    return np.array(out, dtype=np.float64)


def seq_callee_ratio(starts, keys, max_step=10):
    out = []
    for lo, hi in segments(starts):
        seg = [int(k) for k in keys[lo:hi]]
        if len(seg) < 2:
            out.append(np.nan)
            continue
        hits = sum(
            1 for a, b in zip(seg, seg[1:])
            if a != NOT_AN_INTEGER and b != NOT_AN_INTEGER and 1 <= abs(a - b) <= max_step
        )
        out.append(hits / (len(seg) - 1))
    return np.array(out, dtype=np.float64)


def window_count(starts, values, half_width):
    out = []
    for lo, hi in segments(starts):
        seg = [int(v) for v in values[lo:hi]]
        out.extend(sum(1 for w in seg if abs(w - v) <= half_width) for v in seg)
    return np.array(out, dtype=np.int64)


def run_length(starts, values):
    out = []
    for lo, hi in segments(starts):
        seg = set(int(v) for v in values[lo:hi])
        for v in values[lo:hi]:
            v = int(v)
            a = v
            while a - 1 in seg:
                a -= 1
            b = v
            while b + 1 in seg:
                b += 1
            out.append(b - a + 1)
    return np.array(out, dtype=np.int64)


def active_hours(starts, ts_us):
    return np.array([len({(int(t) // 3_600_000_000) % 24 for t in ts_us[lo:hi]}) for lo, hi in segments(starts)],
                    dtype=np.int64)


def distinct_sorted(starts, values, mask):
    out_starts, out_values, out_counts = [0], [], []
    for lo, hi in segments(starts):
        kept = [int(v) for v, m in zip(values[lo:hi], mask[lo:hi]) if m]
        seg = sorted(set(kept))
        out_values.extend(seg)
        out_counts.extend(kept.count(v) for v in seg)
        out_starts.append(len(out_values))
    return (np.array(out_starts, dtype=np.int64), np.array(out_values, dtype=np.int64),
            np.array(out_counts, dtype=np.int64))


def segment_median(starts, values, mask):
    out = []
    for lo, hi in segments(starts):
        seg = [float(v) for v, m in zip(values[lo:hi], mask[lo:hi]) if m]
        out.append(float(np.median(seg)) if seg else np.nan)
    return np.array(out, dtype=np.float64)


def masked_event_order(starts, mask, ts, key):
    out_starts, out_ts, out_key = [0], [], []
    for lo, hi in segments(starts):
        seg = sorted((int(t), int(k)) for t, k, m in zip(ts[lo:hi], key[lo:hi], mask[lo:hi]) if m)
        out_ts.extend(t for t, _ in seg)
        out_key.extend(k for _, k in seg)
        out_starts.append(len(out_ts))
    return (np.array(out_starts, dtype=np.int64), np.array(out_ts, dtype=np.int64),
            np.array(out_key, dtype=np.int64))


def contacted_by(segment_ids, pair_starts, pair_values, back_ids, back_starts, back_values):
    back = {int(back_ids[b]): set(int(v) for v in back_values[back_starts[b]:back_starts[b + 1]])
            for b in range(len(back_ids))}
    return np.array([int(pair_values[p]) in back.get(int(segment_ids[s]), ())
                     for s in range(len(segment_ids)) for p in range(pair_starts[s], pair_starts[s + 1])],
                    dtype=bool)


def reciprocated(segment_ids, pair_starts, pair_values):
    """Per segment, how many of its partners have it among their own partners."""
    partners = {int(segment_ids[s]): set(int(v) for v in pair_values[pair_starts[s]:pair_starts[s + 1]])
                for s in range(len(segment_ids))}
    return np.array([sum(1 for b in partners[int(a)] if int(a) in partners.get(b, ())) for a in segment_ids],
                    dtype=np.int64)


def event_counts(starts, flags, duration, ts_us):
    out = []
    for lo, hi in segments(starts):
        row = [0] * 7
        for f, d, t in zip(flags[lo:hi], duration[lo:hi], ts_us[lo:hi]):
            voice, answered = bool(f & 1), bool(f & 2)
            row[0] += voice
            row[1] += voice and answered
            row[2] += voice and answered and d < 10
            row[3] += not voice
            row[4] += (int(t) // 3_600_000_000) % 24 < 6
            row[5] += int(d) if voice and answered else 0
            row[6] += voice and answered and 1 <= d <= 3
        out.append(row)
    return np.array(out, dtype=np.int64).reshape(-1, 7)


def per_day(starts, day, mask, n_days):
    active, busiest = [], []
    for lo, hi in segments(starts):
        days = [int(d) for d, m in zip(day[lo:hi], mask[lo:hi]) if m]
        active.append(len(set(days)))
        busiest.append(max((days.count(d) for d in set(days)), default=0))
    return np.array(active, dtype=np.int64), np.array(busiest, dtype=np.int64)


def max_in_window(starts, ts_us, width_us):
    out = []
    for lo, hi in segments(starts):
        seg = [int(t) for t in ts_us[lo:hi]]
        out.append(max((sum(1 for u in seg if t <= u < t + width_us) for t in seg), default=0))
    return np.array(out, dtype=np.int64)


def first_event(starts, ts_us, values, mask):
    first_ts, first_value, found = [], [], []
    for lo, hi in segments(starts):
        first_ts.append(min(int(t) for t in ts_us[lo:hi]))
        kept = sorted((int(t), int(v)) for t, v, m in zip(ts_us[lo:hi], values[lo:hi], mask[lo:hi]) if m)
        first_value.append(kept[0][1] if kept else 0)
        found.append(bool(kept))
    return (np.array(first_ts, dtype=np.int64), np.array(first_value, dtype=np.int64),
            np.array(found, dtype=bool))


def distinct_per_day(starts, day, values, mask):
    total, busiest = [], []
    for lo, hi in segments(starts):
        by_day = {}
        for d, v, m in zip(day[lo:hi], values[lo:hi], mask[lo:hi]):
            if m:
                by_day.setdefault(int(d), set()).add(int(v))
        total.append(sum(len(x) for x in by_day.values()))
        busiest.append(max((len(x) for x in by_day.values()), default=0))
    return np.array(total, dtype=np.int64), np.array(busiest, dtype=np.int64)


def histogram_entropy(starts, values, mask, edges):
    out = []
    for lo, hi in segments(starts):
        bins = [sum(1 for e in edges if e <= v) for v, m in zip(values[lo:hi], mask[lo:hi]) if m]
        if not bins:
            out.append(np.nan)
            continue
        p = np.array([bins.count(b) for b in set(bins)]) / len(bins)
        out.append(float(-(p * np.log2(p)).sum()))
    return np.array(out, dtype=np.float64)


def masked_counts(starts, mask):
    return np.array([int(np.sum(mask[lo:hi])) for lo, hi in segments(starts)], dtype=np.int64)


def segment_sums(starts, values):
    return np.array([int(sum(int(v) for v in values[lo:hi])) for lo, hi in segments(starts)], dtype=np.int64)
