"""Plain decimal integers, and whether text may need trimming, read straight from Polars' string
views.

Polars keeps text as Arrow string views: 16 bytes a value, holding its length and, for up to 12
bytes, the text itself (every phone number fits), or else its first bytes and where it lies in
one of the column's data buffers. A kernel reads those bytes and parses each value once. This
replaces ``str.to_integer`` with ``str.len_bytes``, a cast and a bounds check (four passes and
three arrays a column), which were ~10% of the CPU of spilling CDRs (every number was parsed
when it was normalised and again when it became an id; a stream of batches now parses it once for
both, :func:`detector.inputs.numbers.normalise_with_ids`). Another reads only each value's first and
last byte, for whether any text field of a CDR batch may need trimming.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl
import pyarrow as pa
from numba import njit

#: The longest text that is a plain integer here: 18 digits always fit in an int64.
MAX_DIGITS = 18
#: Bytes of one string view, and the longest text held inside it.
_VIEW_BYTES, _INLINE_BYTES = 16, 12


def plain_digits(text: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """``(value, digits)``: where a value is exactly the digits of a positive integer (ASCII
    digits only, no sign, no leading zero, 1 to :data:`MAX_DIGITS` of them), that integer and how
    many digits it has; elsewhere (nulls included) 0 and 0. ``text`` is a String Series."""
    return prefixed_digits(text, "")


def prefixed_digits(text: pl.Series, prefix: str, where: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """:func:`plain_digits` of what follows ``prefix`` (ASCII), where a value is exactly
    ``prefix`` and then such digits (a national ``0912345678`` after the trunk prefix ``0``);
    0 and 0 elsewhere, and at rows where ``where`` (bool, optional) is False, which are not read."""
    value = np.zeros(text.len(), dtype=np.int64)
    digits = np.zeros(text.len(), dtype=np.int8)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    for start, stop, rows, data, bases, valid in _view_chunks(text):
        wanted = valid if where is None else valid & where[start:stop]
        _parse_views(rows, data, bases, wanted, head, value[start:stop], digits[start:stop])
    return value, digits


def edges_may_be_space(text: pl.Series) -> bool:
    """Whether any value of a String Series may start or end with whitespace: False means
    certainly not. Reads two bytes a value from its view (most are inside it), where converting
    the column to Arrow's older string layout to read them copied all of its text."""
    return any(_edges_may_be_space(rows, data, bases, valid) for _, _, rows, data, bases, valid in _view_chunks(text))


def _view_chunks(text: pl.Series) -> Iterator[tuple[int, int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Per non-empty chunk of ``text``: its rows ``start:stop`` in the Series, its string views
    (uint8, n × 16), its data buffers end to end, where each buffer begins there, and which
    values are not null; the views, as Polars holds them, without a copy."""
    if text.len() == 0:
        return
    array = text.to_arrow(compat_level=pl.CompatLevel.newest())
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    valid = text.is_not_null().to_numpy()
    start = 0
    for chunk in chunks:
        if len(chunk) == 0:
            continue
        if not pa.types.is_string_view(chunk.type):
            chunk = chunk.cast(pa.string_view())
        views, *buffers = chunk.buffers()[1:]
        sizes = [b.size if b is not None else 0 for b in buffers]
        # The data buffers end to end, and where each begins: one array for the kernel.
        data = (np.frombuffer(buffers[0], dtype=np.uint8) if len(buffers) == 1
                else np.concatenate([np.frombuffer(b, dtype=np.uint8) for b in buffers if b is not None] or
                                    [np.zeros(0, np.uint8)]))
        bases = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        rows = np.frombuffer(views, dtype=np.uint8).reshape(-1, _VIEW_BYTES)[chunk.offset:chunk.offset + len(chunk)]
        stop = start + len(chunk)
        yield start, stop, rows, data, bases, valid[start:stop]
        start = stop


@njit(cache=True, nogil=True, inline="always")
def _le32(views, i, at):
    """The little-endian 32-bit integer at byte ``at`` of view ``i``."""
    return (np.int64(views[i, at]) | (np.int64(views[i, at + 1]) << 8) | (np.int64(views[i, at + 2]) << 16)
            | (np.int64(views[i, at + 3]) << 24))


@njit(cache=True, nogil=True)
def _parse_views(views, data, bases, valid, head, value, digits):
    """Fill ``value`` (int64) and ``digits`` (int8) from string ``views`` (uint8, n × 16).

    A view is the value's length (int32), then for at most 12 bytes the bytes themselves, else a
    4-byte prefix, the index of its data buffer and its offset there (int32 each). ``data`` is
    the data buffers end to end, buffer ``b`` starting at ``bases[b]``; ``valid`` (bool) is
    False for nulls and rows not to read. ``value`` and ``digits`` are written only where the
    value is the bytes ``head`` (uint8) followed by plain digits, and describe those digits.
    """
    h = head.shape[0]
    for i in range(views.shape[0]):
        if not valid[i]:
            continue
        n = _le32(views, i, 0)
        if n < h + 1 or n > h + MAX_DIGITS:
            continue
        inline = n <= _INLINE_BYTES
        at = 4
        if not inline:
            at = bases[_le32(views, i, 8)] + _le32(views, i, 12)
        x = np.int64(0)
        ok = True
        for k in range(n):
            c = np.int64(views[i, at + k]) if inline else np.int64(data[at + k])
            if k < h:
                if c != head[k]:
                    ok = False
                    break
            elif c < 48 or c > 57 or (k == h and c == 48):
                ok = False
                break
            else:
                x = x * 10 + (c - 48)
        if ok:
            value[i] = x
            digits[i] = n - h


@njit(cache=True, nogil=True)
def _edges_may_be_space(views, data, bases, valid):
    """Whether the first or last byte of any non-null value (``views`` and ``data`` as in
    :func:`_parse_views`) is ASCII whitespace (tab to carriage return, space) or part of a
    multi-byte character, which may be Unicode whitespace such as a no-break space."""
    for i in range(views.shape[0]):
        n = _le32(views, i, 0)
        if not valid[i] or n < 1:
            continue
        first = views[i, 4]  # inline, or the first byte of the prefix
        if n <= _INLINE_BYTES:
            last = views[i, 4 + n - 1]
        else:
            last = data[bases[_le32(views, i, 8)] + _le32(views, i, 12) + n - 1]
        for b in (first, last):
            if b == 32 or 9 <= b <= 13 or b >= 128:
                return True
    return False
