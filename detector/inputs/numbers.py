"""Phone-number normalisation to E.164 digits without ``+`` (data-contract.md, "Numbers").

Everything here is a Polars expression, so a billion rows are normalised by Polars' vectorised
string kernels, never by a Python loop per row.

Rules, applied in order to the text of a number, by the configured country's dialling plan
(:mod:`detector.inputs.dialling_plan`: its international and trunk prefixes, national lengths
and pattern, from ``phonenumbers``' metadata):

1. Surrounding white space is trimmed. A value containing a letter (an alphanumeric SMS sender
   such as ``VIETTEL`` or ``Shopee``) is kept as it is, trimmed.
2. Spaces, dots, dashes, slashes and brackets are dropped, then a leading ``+``.
3. A number written with ``+`` or the international prefix (``00``; North America ``011``) is
   international: the prefix goes. ``<cc><trunk>…`` (``+84 (0) 912…`` written out) loses the
   stray trunk prefix when a national length is left.
4. Otherwise it is national: the trunk prefix (``0``; North America ``1``) with a national
   length after it becomes the country code; ``<cc>`` and a national length is already
   canonical; where national numbers are written bare (North America's ``650 555 1234``) one
   matching the national pattern gets the country code. A Vietnamese ``912345678`` is kept: a
   trunk-prefix country's bare digits are as likely a short code or a foreign number.
5. Vietnam's retired 11-digit mobile prefixes (``84162…`` -> ``8432…``, the whole 2018 table) are
   converted to their 10-digit successors.
6. Anything else (short codes like ``1900…`` or ``9029``, what the plan does not recognise) is
   kept as its digits; an international number that rule 4 would read as national (a 10-digit
   foreign number in North America) keeps its ``+``, so that it stays itself.

Normalising is idempotent: a normalised number normalises to itself.
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
from numba import njit

from detector.inputs.dialling_plan import DiallingPlan, dialling_plan
from detector.inputs.digit_views import MAX_DIGITS, plain_digits, prefixed_digits

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
    """:func:`normalise_series` of ``numbers``, each result's integer where it is plain digits
    (:func:`plain_integers`), and where the rules had to look at it (:func:`_already_normal`)."""
    numbers = numbers.cast(pl.Utf8)
    value, digits = plain_digits(numbers)
    todo = ~_already_normal(value, digits, cc)
    if not todo.any():
        return numbers, value, todo
    # National numbers behind the trunk prefix (most of an export written in national form):
    # their canonical integer comes from the same parse, and their text from that integer.
    national = _trunk_national(numbers, todo, value, digits, cc)
    if national.any():
        todo &= ~national
        rows = np.flatnonzero(todo)
        # The text of every plain or national value is its integer's; the rest are filled below.
        numbers_out = pl.Series(numbers.name, value).scatter(rows, None).cast(pl.Utf8)
    else:
        rows, numbers_out = np.flatnonzero(todo), numbers
    if rows.size == 0:
        return numbers_out, value, todo
    pending = numbers.gather(rows)
    distinct = pending.unique()
    normalised = _normalise_values(distinct, country_code=cc)
    changed = normalised.ne_missing(distinct)
    if changed.any():
        pending = pending.replace(distinct.filter(changed), normalised.filter(changed))
    elif not national.any():
        return numbers, value, todo
    return numbers_out.scatter(rows, pending), value, todo


def _trunk_national(numbers: pl.Series, todo: np.ndarray, value: np.ndarray, digits: np.ndarray, cc: str) -> np.ndarray:
    """Where a value of ``numbers`` (among ``todo``) is the plan's trunk prefix and a national
    number (``0912345678``) that the rules write as ``<cc>`` and that number and then leave
    alone: those rows' canonical integer and digit count are written into ``value`` and
    ``digits``. The checks are those of :func:`_normalise_values` for such a text (no
    international or ``<cc><trunk>`` prefix, a national length, no second trunk prefix), and the
    result must be :func:`_already_normal`, so a row found here is normalised as the rules do."""
    plan = dialling_plan(cc)
    trunk, idd = plan.trunk_prefix, plan.international_prefix
    nothing = np.zeros(todo.shape, dtype=bool)
    if trunk is None or not trunk.isdigit() or (idd is not None and not idd.isdigit()):
        return nothing
    if any(p and trunk.startswith(p) for p in (idd, cc + trunk)):  # every such text has that prefix
        return nothing
    rest, rest_digits = prefixed_digits(numbers, trunk, todo)
    # What may not follow the trunk prefix: a second one; the rest of an international or of a
    # "<cc><trunk>" prefix that begins with the trunk prefix.
    after = [trunk] + [p[len(trunk):] for p in (idd, cc + trunk) if p and p.startswith(trunk) and len(p) > len(trunk)]
    lengths = np.zeros(MAX_DIGITS + 1, dtype=np.bool_)
    lengths[[n for n in plan.national_lengths if n + len(cc) <= MAX_DIGITS]] = True
    found = _national_canonical(rest, rest_digits, lengths, np.array([int(p) for p in after], dtype=np.int64),
                                np.array([len(p) for p in after], dtype=np.int64), int(cc), len(cc), _POW10)
    rows = np.flatnonzero(found)
    if rows.size == 0:
        return found
    canonical, canonical_digits = rest[rows], rest_digits[rows]
    kept = _already_normal(canonical, canonical_digits, cc)
    found[rows[~kept]] = False
    value[rows[kept]], digits[rows[kept]] = canonical[kept], canonical_digits[kept]
    return found


@njit(cache=True, nogil=True)
def _national_canonical(rest: np.ndarray, rest_digits: np.ndarray, lengths: np.ndarray, after: np.ndarray,
                        after_digits: np.ndarray, cc: int, cc_digits: int, pow10: np.ndarray) -> np.ndarray:
    """Where the digits after a trunk prefix (``rest``, ``rest_digits``: their integer and count,
    0 digits where the text was not such) are a national number: a length allowed by
    ``lengths[d]``, and not starting with any prefix ``after`` (of ``after_digits`` digits). There
    ``rest`` and ``rest_digits`` become the canonical ``<cc><rest>`` number and its digit count."""
    found = np.zeros(rest.shape[0], dtype=np.bool_)
    for i in range(rest.shape[0]):
        d = np.int64(rest_digits[i])
        if d <= 0 or not lengths[d]:
            continue
        ok = True
        for j in range(after.shape[0]):
            k = after_digits[j]
            if d > k and rest[i] // pow10[d - k] == after[j]:
                ok = False
        if ok:
            found[i] = True
            rest[i] += cc * pow10[d]
            rest_digits[i] = d + cc_digits
    return found


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


def plain_integers(numbers: pl.Series) -> tuple[pl.Series, pl.Series]:
    """Each value as an integer where it is exactly that integer's digits (no sign, no leading
    zero, nothing else, at most 18 digits), so that the text is recovered from the integer, and
    0 elsewhere; and whether it is. Parsed in one pass over the text
    (:func:`detector.inputs.digit_views.plain_digits`)."""
    value, digits = plain_digits(numbers.cast(pl.Utf8))
    return pl.Series(numbers.name, value), pl.Series(numbers.name, digits > 0)


@njit(cache=True, nogil=True)
def _rules_may_apply(value: np.ndarray, digits: np.ndarray, prefixes: np.ndarray, prefix_digits: np.ndarray,
                     fires_at: np.ndarray, bare_at: np.ndarray, pow10: np.ndarray) -> np.ndarray:
    """Where a rule of a plan may change a value (:func:`_plain_number_rules`).

    ``value``, ``digits``: each value's plain integer and digit count (0 digits: not a plain
    number); ``prefixes``, ``prefix_digits``: the prefixes whose rules apply to plain numbers, as
    integers, and their lengths; ``fires_at[j, d]``: prefix ``j``'s rule applies to a number of
    ``d`` digits; ``bare_at[d]``: a number of ``d`` digits may be a bare national number;
    ``pow10[k] = 10**k``. Returns bool per value: not plain, or a rule may apply.
    """
    n, m = value.shape[0], prefixes.shape[0]
    out = np.empty(n, dtype=np.bool_)
    for i in range(n):
        d = np.int64(digits[i])
        if d <= 0:
            out[i] = True
            continue
        fire = bare_at[d]
        j = 0
        while not fire and j < m:
            k = prefix_digits[j]
            fire = d > k and fires_at[j, d] and value[i] // pow10[d - k] == prefixes[j]
            j += 1
        out[i] = fire
    return out


#: 10**k for k = 0..18.
_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)


@functools.lru_cache(maxsize=None)
def _plain_number_rules(cc: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The arguments of :func:`_rules_may_apply` for ``cc``'s plan: the rules of
    :func:`_normalise_values` that can change a plain number (digits, no leading zero), each a
    prefix and the digit counts it applies at. ``None`` when the plan's international prefix is
    a pattern that might match one (then every value goes through the rules)."""
    plan = dialling_plan(cc)
    counts = range(MAX_DIGITS + 1)
    lengths = set(plan.national_lengths)
    rules: list[tuple[str, set[int]]] = []
    idd = plan.international_prefix
    if idd is not None and not (idd.isdigit() and idd.startswith("0")):
        if not idd.isdigit():
            return None
        rules.append((idd, {d for d in counts if d > len(idd)}))
    trunk = plan.trunk_prefix
    if trunk is not None:
        if trunk != plan.country_code:  # the trunk prefix replaced by the country code
            rules.append((trunk, {len(trunk) + n for n in lengths}))
        stray = plan.country_code + trunk
        rules.append((stray, {len(stray) + n for n in lengths}))
    if cc == DEFAULT_COUNTRY_CODE:  # a retired 12-digit 841… number
        rules.append((cc + "1", {len(cc) + 10}))
    rules = [(p, at) for p, at in rules if not p.startswith("0")]  # no plain number starts so
    fires_at = np.zeros((len(rules), MAX_DIGITS + 1), dtype=np.bool_)
    for j, (_, at) in enumerate(rules):
        fires_at[j, [d for d in at if d <= MAX_DIGITS]] = True
    bare_at = np.zeros(MAX_DIGITS + 1, dtype=np.bool_)
    if plan.bare_national:
        bare_at[[d for d in plan.bare_lengths if d <= MAX_DIGITS]] = True
    return (np.array([int(p) for p, _ in rules], dtype=np.int64), np.array([len(p) for p, _ in rules], dtype=np.int64),
            fires_at, bare_at)


def _already_normal(value: np.ndarray, digits: np.ndarray, cc: str) -> np.ndarray:
    """True where the rules would leave a value unchanged, by checks much cheaper than the rules,
    on its parse (:func:`~detector.inputs.digit_views.plain_digits`): plain digits with no leading
    zero or sign that no rule of the plan (:func:`_normalise_values`) applies to. False only
    means "run the rules"."""
    rules = _plain_number_rules(cc)
    if rules is None:
        return np.zeros(value.shape, dtype=bool)
    return ~_rules_may_apply(value, digits, *rules, _POW10)


def _normalise_values(numbers: pl.Series, country_code: str) -> pl.Series:
    """The rules, value by value. Each step is materialised once as a column: written as one
    nested expression, Polars would re-evaluate the shared sub-expressions (the regex clean-up
    above all) in every branch."""
    plan = dialling_plan(country_code)
    cc = plan.country_code
    c = pl.col
    idd = plan.international_prefix
    # After the international prefix comes a country code, which never starts with 0.
    def after_idd(digits: pl.Expr) -> pl.Expr:
        if not idd:
            return pl.lit(None, pl.Utf8)
        if idd.isdigit():  # most plans: a literal prefix, cheaper than a pattern
            rest = digits.str.slice(len(idd))
            return pl.when((digits.str.len_chars() > 4) & digits.str.starts_with(idd)
                           & rest.str.contains("^[1-9][0-9]*$")).then(rest)
        return pl.when(digits.str.len_chars() > 4).then(digits.str.extract(rf"^(?:{idd})([1-9][0-9]*)$", 1))

    steps = (
        pl.DataFrame({"text": numbers.str.strip_chars()})
        .with_columns(cleaned=c("text").str.replace_all(_SEPARATORS, ""))
        .with_columns(digits=c("cleaned").str.strip_prefix("+"))
        # "+" and a country code; a "+" before a zero is a slip, read as if it were not there.
        .with_columns(plus=c("cleaned").str.starts_with("+") & c("digits").str.contains("^[1-9]"))
        .with_columns(after_idd=pl.when(~c("plus")).then(after_idd(c("digits"))))
        .with_columns(
            international=c("plus") | c("after_idd").is_not_null(),
            number=_without_stray_trunk(pl.coalesce("after_idd", "digits"), plan),
        )
        .with_columns(national=_national(c("number"), plan))
        # An international number that the rules would read otherwise without its "+" (a 10-digit
        # foreign number in North America, Russia's 810… behind its international prefix 810)
        # keeps it: without it, it is not the same number, and normalising again would change it.
        .with_columns(
            canonical=pl.when(~c("international")).then(c("national"))
            .when((c("national") == c("number")) & after_idd(c("number")).is_null()).then(c("number"))
            .otherwise("+" + c("number"))
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


def _rest_is(number: pl.Expr, prefix: str, lengths: tuple[int, ...], not_after: tuple[str, ...]) -> pl.Expr:
    """``number`` starts with ``prefix``, and what follows has a national length and does not
    start with any of ``not_after`` (a second trunk prefix: removing one must not leave another)."""
    rest = number.str.slice(len(prefix))
    ok = number.str.starts_with(prefix) & (number.str.len_chars() - len(prefix)).is_in(list(lengths))
    for p in not_after:
        ok = ok & ~rest.str.starts_with(p)
    return ok


def _without_stray_trunk(number: pl.Expr, plan: DiallingPlan) -> pl.Expr:
    """``<cc><trunk>…`` (``+84 (0) 912…`` written out) without the trunk prefix."""
    trunk = plan.trunk_prefix
    if trunk is None:
        return number
    stray = plan.country_code + trunk
    return (pl.when(_rest_is(number, stray, plan.national_lengths, ("0", trunk)))
            .then(pl.lit(plan.country_code) + number.str.slice(len(stray))).otherwise(number))


def _national(number: pl.Expr, plan: DiallingPlan) -> pl.Expr:
    """A number written without an international prefix, in E.164 digits: the trunk prefix
    replaced by the country code; ``<cc>`` + a national length kept; in a plan where national
    numbers go bare (:attr:`~detector.inputs.dialling_plan.DiallingPlan.bare_national`), one
    matching the national pattern given the country code; anything else kept as written."""
    cc, trunk = plan.country_code, plan.trunk_prefix
    out = pl.when(pl.lit(False)).then(number)
    if trunk is not None:
        out = out.when(_rest_is(number, trunk, plan.national_lengths, ("0", trunk))).then(
            pl.lit(cc) + number.str.slice(len(trunk)))
    out = out.when(_rest_is(number, cc, plan.national_lengths, ())).then(number)
    if plan.bare_national:
        out = out.when(number.str.len_chars().is_in(list(plan.bare_lengths))
                       & number.str.contains(f"^(?:{plan.national_pattern})$")).then(pl.lit(cc) + number)
    return out.otherwise(number)


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
