"""Phone-number normalisation to E.164 digits without ``+`` (data-contract.md, "Numbers").

Everything here is a Polars expression, so a billion rows are normalised by Polars' vectorised
string kernels, never by a Python loop per row.

Rules, applied in order to the text of a number:

1. Surrounding white space is trimmed. A value containing a letter (an alphanumeric SMS sender
   such as ``VIETTEL`` or ``Shopee``) is kept as it is, trimmed.
2. Spaces, dots, dashes, slashes and brackets are dropped, then a leading ``+``.
3. ``00`` + country code (international prefix) loses the ``00``; a national ``0…`` number gets
   the country code instead of its trunk ``0``; ``<cc>0…`` (``+84 (0) 912…`` written out) loses
   the stray ``0``. ``<cc>…`` of 11-12 digits is already canonical.
4. Vietnam's retired 11-digit mobile prefixes (``84162…`` -> ``8432…``, the whole 2018 table) are
   converted to their 10-digit successors.
5. Anything else (short codes like ``1900…`` or ``9029``, foreign numbers) is kept as its digits.

Normalising is idempotent: a normalised number normalises to itself.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from detector.inputs.digit_views import plain_digits

DEFAULT_COUNTRY_CODE = "84"

#: The 2018 conversion of Vietnam's 11-digit mobile numbers to 10 digits (national prefixes, with
#: the trunk ``0``): Viettel 016x, MobiFone 012x, VinaPhone 012x, Vietnamobile 018x, Gmobile 0199.
RETIRED_PREFIXES: dict[str, str] = {
    # Viettel
    "0162": "032", "0163": "033", "0164": "034", "0165": "035",
    "0166": "036", "0167": "037", "0168": "038", "0169": "039",
    # MobiFone
    "0120": "070", "0121": "079", "0122": "077", "0126": "076", "0128": "078",
    # VinaPhone
    "0123": "083", "0124": "084", "0125": "085", "0127": "081", "0129": "082",
    # Vietnamobile
    "0186": "056", "0188": "058",
    # Gmobile
    "0199": "059",
}

_SEPARATORS = r"[\s.\-/()\[\]]"


def normalise_number(expr: pl.Expr, country_code: str = DEFAULT_COUNTRY_CODE) -> pl.Expr:
    """Return an expression normalising the phone numbers in ``expr`` (a string column).

    Parameters
    ----------
    expr:
        A Utf8 expression, e.g. ``pl.col("caller")``. Nulls stay null; empty text becomes null.
    country_code:
        The home network's country code, digits only (``"84"`` for Vietnam). The retired-prefix
        table is applied only for ``"84"``.

    Examples
    --------
    >>> import polars as pl
    >>> s = pl.Series(["0912 345 678", "+84 162 123 4567", "0084912345678", "VIETTEL", "1900"])
    >>> pl.select(normalise_number(pl.lit(s))).to_series().to_list()
    ['84912345678', '84321234567', '84912345678', 'VIETTEL', '1900']
    """
    return expr.map_batches(
        lambda s: normalise_series(s, country_code), return_dtype=pl.Utf8, is_elementwise=True
    )


def normalise_series(numbers: pl.Series, country_code: str = DEFAULT_COUNTRY_CODE) -> pl.Series:
    """Normalise a Series of phone numbers (see :func:`normalise_number`).

    Most values of a real export are already normal: those are recognised with cheap checks and
    left alone; the rules run only on the distinct values of the rest, and are mapped back.
    """
    return _normalised(numbers, country_code)[0]


def normalise_with_ids(numbers: pl.Series, country_code: str = DEFAULT_COUNTRY_CODE) -> tuple[pl.Series, pl.Series]:
    """:func:`normalise_series` of ``numbers`` and the :func:`number_ids` of the result, from one
    parse of the text: a value already normal is a plain integer, which is its id, so only the
    others' ids are looked at again (1M numbers: ~15 CPU-ms spared a column)."""
    normal, value, todo = _normalised(numbers, country_code)
    ids = pl.Series(normal.name, value)
    if todo.any():
        rows = np.flatnonzero(todo)
        ids = ids.scatter(rows, number_ids(normal.gather(rows)))
    return normal, ids


def _normalised(numbers: pl.Series, cc: str) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """:func:`normalise_series` of ``numbers``, each value's integer where it is plain digits
    (:func:`plain_integers`), and where the rules had to look at it (:func:`_already_normal`)."""
    numbers = numbers.cast(pl.Utf8)
    value, digits = plain_digits(numbers)
    todo = ~_already_normal(value, digits, cc)
    if not todo.any():
        return numbers, value, todo
    pending = numbers.filter(pl.Series(todo))
    distinct = pending.unique()
    normalised = _normalise_values(distinct, country_code=cc)
    changed = normalised.ne_missing(distinct)
    if not changed.any():
        return numbers, value, todo
    fixed = pending.replace(distinct.filter(changed), normalised.filter(changed))
    return numbers.scatter(np.flatnonzero(todo), fixed), value, todo


def normalise_columns(
    df: pl.DataFrame, columns: list[str], country_code: str = DEFAULT_COUNTRY_CODE, *, ids: bool = False
) -> pl.DataFrame:
    """``df`` with each of ``columns`` normalised (see :func:`normalise_series`); as expressions,
    so Polars works on the columns in parallel. With ``ids``, each column's :func:`number_ids`
    too, as ``<column>_id`` (:func:`normalise_with_ids`)."""
    if not ids:
        return df.with_columns(normalise_number(pl.col(c), country_code).alias(c) for c in columns)

    def both(numbers: pl.Series) -> pl.Series:
        normal, number_id = normalise_with_ids(numbers, country_code)
        return pl.DataFrame([normal.alias("text"), number_id.alias("id")]).to_struct(numbers.name)

    both_type = pl.Struct({"text": pl.Utf8, "id": pl.Int64})
    pairs = df.select(pl.col(c).map_batches(both, return_dtype=both_type, is_elementwise=True) for c in columns)
    return df.with_columns(
        expr for c in columns for expr in (pairs[c].struct.field("text").alias(c),
                                           pairs[c].struct.field("id").alias(f"{c}_id")))


def number_ids(numbers: pl.Series) -> pl.Series:
    """An int64 id per normalised number: the number itself when it is a plain positive integer
    (no leading zero, so the text is recovered exactly), else a negative id hashed from its text.
    Only the rare values that are not plain numbers are hashed."""
    as_int, plain = plain_integers(numbers)
    if plain.all():
        return as_int
    other = ~plain
    hashed = pl.select(pl.lit(-1, pl.Int64) - (pl.lit(numbers.filter(other)).hash(seed=0) // 4).cast(pl.Int64))
    return as_int.scatter(other.arg_true(), hashed.to_series())


#: 10**k for k = 0..18: the bounds of a number with k + 1 digits.
_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)


def plain_integers(numbers: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Each value as an integer where it is exactly that integer's digits (no sign, no leading
    zero, nothing else, at most 18 digits), so that the text is recovered from the integer, and
    0 elsewhere; and whether it is. Parsed in one pass over the text
    (:func:`detector.inputs.digit_views.plain_digits`)."""
    value, digits = plain_digits(numbers.cast(pl.Utf8))
    return pl.Series(numbers.name, value), pl.Series(numbers.name, digits > 0)


def _already_normal(value: np.ndarray, digits: np.ndarray, cc: str) -> np.ndarray:
    """True where the rules would leave a value unchanged, by checks much cheaper than the rules,
    on its parse (:func:`~detector.inputs.digit_views.plain_digits`): plain digits with no leading zero or
    sign, and neither ``<cc>0…`` (a stray trunk zero) nor a retired 12-digit ``841…`` number.
    False only means "run the rules"."""
    k = len(cc)
    # The first k + 1 digits of a plain number, as an integer: <cc>0 and <cc>1 are prefixes to fix.
    head = value // _POW10[np.clip(digits.astype(np.int64) - (k + 1), 0, 18)]
    ok = (digits > 0) & ~((head == int(cc) * 10) & (digits >= k + 10))
    if cc == DEFAULT_COUNTRY_CODE:
        ok = ok & ~((head == int(cc) * 10 + 1) & (digits == k + 10))
    return ok


def _normalise_values(numbers: pl.Series, country_code: str) -> pl.Series:
    """The rules, value by value. Each step is materialised once as a column: written as one
    nested expression, Polars would re-evaluate the shared sub-expressions (the regex clean-up
    above all) in every branch."""
    cc = country_code
    c = pl.col
    steps = (
        pl.DataFrame({"text": numbers.str.strip_chars()})
        .with_columns(digits=c("text").str.replace_all(_SEPARATORS, "").str.strip_prefix("+"))
        # International prefix first ("0084…", "001…"); "000…" is left alone so that no result
        # starts with a prefix again, which keeps normalising idempotent.
        .with_columns(
            d1=pl.when(
                c("digits").str.starts_with("00")
                & ~c("digits").str.starts_with("000")
                & (c("digits").str.len_chars() > 4)
            )
            .then(c("digits").str.slice(2))
            .otherwise(c("digits"))
        )
        .with_columns(n1=c("d1").str.len_chars())
        .with_columns(
            canonical=pl.when(
                c("d1").str.starts_with(cc + "0")
                & ~c("d1").str.starts_with(cc + "00")
                & (c("n1") >= len(cc) + 10)
            )
            .then(pl.lit(cc) + c("d1").str.slice(len(cc) + 1))
            .when(c("d1").str.starts_with("0") & ~c("d1").str.starts_with("00") & (c("n1") >= 9))
            .then(pl.lit(cc) + c("d1").str.slice(1))
            .otherwise(c("d1"))
        )
    )
    if cc == DEFAULT_COUNTRY_CODE:
        steps = _convert_retired(steps, cc)
    return steps.select(
        pl.when(c("text").str.len_chars() == 0)
        .then(None)
        # Letters or other symbols: an alphanumeric sender or a service code, kept as text.
        .when(~c("digits").str.contains(r"^[0-9]+$"))
        .then(c("text"))
        .otherwise(c("canonical"))
        .alias(numbers.name)
    ).to_series()


def _convert_retired(steps: pl.DataFrame, cc: str) -> pl.DataFrame:
    """Map ``<cc>1xy`` + 7 digits (12 digits in all) to ``<cc>0ab`` successors, without the trunk 0."""
    old = [cc + k[1:] for k in RETIRED_PREFIXES]  # e.g. "84162"
    new = [cc + v[1:] for v in RETIRED_PREFIXES.values()]  # e.g. "8432"
    c = pl.col
    return steps.with_columns(
        successor=pl.when(c("canonical").str.len_chars() == len(cc) + 10)
        .then(c("canonical").str.slice(0, len(cc) + 3).replace_strict(old, new, default=None))
        .otherwise(None)
    ).with_columns(
        canonical=pl.when(c("successor").is_not_null())
        .then(c("successor") + c("canonical").str.slice(len(cc) + 3))
        .otherwise(c("canonical"))
    )


def national_to_retired(national: str) -> str | None:
    """The retired 11-digit national form of a 10-digit national number, if it had one.

    ``"0321234567"`` -> ``"01621234567"``. Used by the generator to write old-style numbers.
    """
    for old, new in RETIRED_PREFIXES.items():
        if national.startswith(new):
            return old + national[len(new):]
    return None
