"""Transparent rules beside the model: named ANDs of threshold conditions a carrier edits in TOML.

A rules file is a list of ``[[rule]]`` tables. Each rule has a ``name``, a ``category`` (one of
:data:`~models.classifier.CATEGORIES`), an optional short ``reason`` and ``all``, the conditions
that must *all* hold for the rule to fire::

    [[rule]]
    name = "high-volume strangers"
    category = "voice_spam"
    reason = "calls many strangers a day"
    all = [
        { feature = "voice_out_per_day_mean", op = ">=", value = 200 },
        { feature = "reciprocity", op = "<=", value = 0.05 },
    ]

Operators: ``>=``, ``>``, ``<=``, ``<``, ``==``, ``!=`` against a number, and ``is_null`` (no
``value``). A null feature value ("not defined": a ratio with a zero denominator, a registry
feature of a number without a registry row) never satisfies a comparison, not even ``!=``; NaN is
treated as null. Only ``is_null`` matches it.

The shipped defaults are ``models/rules.toml`` (``load_rules()`` without a path); the comments
there explain each threshold.
"""

from __future__ import annotations

import operator
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from detector.contract import CATEGORIES
from detector.errors import InputError
from features.catalogue import FEATURES

#: Comparison operators of a condition, and the one that tests for a missing value.
COMPARISONS: dict[str, Callable[[pl.Expr, float], pl.Expr]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
IS_NULL = "is_null"
OPS: tuple[str, ...] = (*COMPARISONS, IS_NULL)

#: Separator between the names of the rules that fired (so a rule name may not contain ";").
NAME_SEPARATOR = "; "

_RULE_KEYS = ("name", "category", "reason", "all")
_CONDITION_KEYS = ("feature", "op", "value")


@dataclass(frozen=True)
class Condition:
    """``feature op value``; ``value`` is None for ``is_null``."""

    feature: str
    op: str
    value: float | None

    def expr(self, dtype: pl.DataType) -> pl.Expr:
        """True where the condition holds, never null: a null (or NaN) value fails every
        comparison and passes only ``is_null``."""
        column = pl.col(self.feature)
        if dtype.is_float():
            column = column.fill_nan(None)
        if self.op == IS_NULL:
            return column.is_null()
        return COMPARISONS[self.op](column, self.value).fill_null(False)

    def __str__(self) -> str:
        return f"{self.feature} {self.op}" + ("" if self.value is None else f" {self.value:g}")


@dataclass(frozen=True)
class Rule:
    """A named AND of conditions: it fires for a number when every condition holds."""

    name: str
    category: str
    conditions: tuple[Condition, ...]
    reason: str | None = None

    def expr(self, schema: pl.Schema) -> pl.Expr:
        """True where every condition holds (all columns must be in ``schema``)."""
        return pl.all_horizontal(c.expr(schema[c.feature]) for c in self.conditions)


def load_rules(path: str | Path | None = None, *, columns: Iterable[str] = ()) -> tuple[Rule, ...]:
    """Read and check a rules file; ``None`` reads the shipped ``models/rules.toml``.

    Parameters
    ----------
    path:
        The TOML file.
    columns:
        Feature names accepted besides those of :data:`features.catalogue.FEATURES`, e.g. the
        columns of the feature table the rules will be applied to.

    Raises :class:`InputError`, one line naming the file and the rule, for an unreadable file,
    bad TOML, a missing or unknown key, an unknown category, operator or feature, a value that is
    not a number, or two rules with the same name.
    """
    if path is None:
        source = "models/rules.toml (shipped defaults)"
        text = resources.files("models").joinpath("rules.toml").read_text(encoding="utf-8")
    else:
        p = Path(path)
        source = str(p)
        try:
            text = p.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(f"rules file not found: {p}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read rules file {p}: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"rules file {source} is not valid TOML: {exc}") from None
    return _from_dict(raw, source, set(FEATURES) | set(columns))


def _from_dict(raw: dict[str, Any], source: str, known: set[str]) -> tuple[Rule, ...]:
    def bad(msg: str) -> InputError:
        return InputError(f"rules file {source}: {msg}")

    unknown = sorted(set(raw) - {"rule"})
    if unknown:
        raise bad(f"unknown top-level key {unknown[0]!r} (expected [[rule]] tables)")
    tables = raw.get("rule")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict) for t in tables):
        raise bad("expected one or more [[rule]] tables")
    rules: list[Rule] = []
    seen: set[str] = set()
    for i, table in enumerate(tables, 1):
        name = table.get("name")
        where = f"rule {name!r}" if isinstance(name, str) and name.strip() else f"rule #{i}"
        rule = _rule(table, known, lambda msg, where=where: bad(f"{where}: {msg}"))
        if rule.name in seen:
            raise bad(f"{where}: a second rule with this name")
        seen.add(rule.name)
        rules.append(rule)
    return tuple(rules)


def _rule(table: dict[str, Any], known: set[str], bad: Callable[[str], InputError]) -> Rule:
    unknown = sorted(set(table) - set(_RULE_KEYS))
    if unknown:
        raise bad(f"unknown key {unknown[0]!r} (expected {', '.join(_RULE_KEYS)})")
    for key in ("name", "category", "all"):
        if key not in table:
            raise bad(f"missing key {key!r}")
    name, category, reason = table["name"], table["category"], table.get("reason")
    if not isinstance(name, str) or not name.strip():
        raise bad("name must be non-empty text")
    if ";" in name:
        raise bad("name may not contain ';' (it separates the names of the rules that fired)")
    if category not in CATEGORIES:
        raise bad(f"unknown category {category!r} (expected one of: {', '.join(CATEGORIES)})")
    if reason is not None and not isinstance(reason, str):
        raise bad("reason must be text")
    conditions = table["all"]
    if not isinstance(conditions, list) or not conditions:
        raise bad("'all' must be a non-empty list of conditions")
    return Rule(name.strip(), category, tuple(_condition(c, j, known, bad) for j, c in enumerate(conditions, 1)),
                reason)


def _condition(raw: Any, j: int, known: set[str], bad: Callable[[str], InputError]) -> Condition:
    if not isinstance(raw, dict):
        raise bad(f"condition {j} must be a table like {{ feature = \"...\", op = \">=\", value = 1 }}")
    unknown = sorted(set(raw) - set(_CONDITION_KEYS))
    if unknown:
        raise bad(f"condition {j}: unknown key {unknown[0]!r} (expected {', '.join(_CONDITION_KEYS)})")
    for key in ("feature", "op"):
        if key not in raw:
            raise bad(f"condition {j}: missing key {key!r}")
    feature, op = raw["feature"], raw["op"]
    if not isinstance(feature, str) or feature not in known:
        raise bad(f"condition {j}: unknown feature {feature!r} (not in the feature catalogue)")
    if op not in OPS:
        raise bad(f"condition {j}: unknown op {op!r} (expected one of: {', '.join(OPS)})")
    if op == IS_NULL:
        if "value" in raw:
            raise bad(f"condition {j}: op 'is_null' takes no value")
        return Condition(feature, op, None)
    if "value" not in raw:
        raise bad(f"condition {j}: missing key 'value'")
    value = raw["value"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad(f"condition {j}: value {value!r} is not a number")
    return Condition(feature, op, float(value))


def apply_rules(features: pl.DataFrame, rules: Sequence[Rule]) -> pl.DataFrame:
    """Which rules fire for each number.

    Returns ``msisdn`` and, for every category ``c`` of :data:`~models.classifier.CATEGORIES`,
    ``rule_c`` (bool: some rule of ``c`` fired) and ``rules_c`` (the names of the rules that
    fired, in file order, joined by ``"; "``; ``""`` when none), one row per row of ``features``
    in the same order.

    A rule that needs a catalogue feature absent from ``features`` is skipped (it never fires);
    a rule naming a column that is in neither ``features`` nor the catalogue, or a non-numeric
    one, raises :class:`InputError`.
    """
    if "msisdn" not in features.columns:
        raise InputError("the feature table has no msisdn column")
    schema = features.schema
    fired: dict[str, list[pl.Expr]] = {c: [] for c in CATEGORIES}
    for rule in rules:
        if rule.category not in fired:
            raise InputError(f"rule {rule.name!r}: unknown category {rule.category!r}")
        usable = True
        for condition in rule.conditions:
            name = condition.feature
            if name not in schema:
                if name not in FEATURES:
                    raise InputError(f"rule {rule.name!r}: feature {name!r} is neither in the feature table "
                                     "nor in the feature catalogue")
                usable = False
            elif not schema[name].is_numeric():
                raise InputError(f"rule {rule.name!r}: feature {name!r} is not numeric ({schema[name]})")
        if usable:
            fired[rule.category].append(pl.when(rule.expr(schema)).then(pl.lit(rule.name)))
    columns: list[pl.Expr] = []
    for category, hits in fired.items():
        # A rule that does not fire gives null, which concat_str skips (a list of names per row
        # took 0.66 s on 800k numbers, this 0.04 s).
        names = pl.concat_str(hits, separator=NAME_SEPARATOR, ignore_nulls=True) if hits else pl.lit("", pl.String)
        columns.append(names.alias(f"rules_{category}"))
    return features.select("msisdn", *columns).select(
        "msisdn",
        *(x for c in CATEGORIES for x in ((pl.col(f"rules_{c}") != "").alias(f"rule_{c}"), pl.col(f"rules_{c}"))),
    )
