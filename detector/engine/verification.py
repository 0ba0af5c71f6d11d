"""The verification list (nightly.md, ``verify.csv``): before a number is barred, some of the
people it called are asked whether the call or SMS was unwanted.

Who is asked, for each voice or SMS case opened (or reopened) tonight:

- home subscribers only: the carrier can ask its own (in the registry when one is given; else
  the callees the export's ``callee_network`` or the carrier's ``home_prefixes`` tell are
  on-net; else, when nothing tells, callees in the home country);
- contacted in the last :data:`RECENT_DAYS` days, while they still remember the call;
- those who answered first (an unanswered ring is little to judge by), then the most contacted;
- never an allowlisted number nor a number flagged tonight;
- no callee asked twice within :data:`~detector.state.store.SURVEY_REST_DAYS` days, across all
  cases (survey fatigue): the state remembers who was asked, and tonight a callee is listed for
  the highest-scored case that contacted it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import polars as pl

from detector.state.store import SURVEY_REST_DAYS, State
from features.build import ABROAD, ABROAD_KNOWN, ANSWERED, OFFNET, OFFNET_KNOWN, VOICE, number_id, number_texts

#: Callees listed per case. Carriers report that 5-7% of those asked reply: 50 asked give about
#: 3 replies (2.5 at 5%, 3.5 at 7%), the fewest on which a case can be confirmed or cleared.
VERIFY_CALLEES = 50
#: The categories whose victims can be asked (a SIM-box's or a dormant SIM's callees cannot tell
#: anything about it).
SURVEYED = ("voice_spam", "sms_spam")
#: Days back (tonight included) a callee must have been contacted in to be asked.
RECENT_DAYS = 2
COLUMNS = {"flagged_msisdn": pl.Utf8, "category": pl.Utf8, "callee": pl.Utf8, "last_contact": pl.Datetime("us"),
           "contacts": pl.Int64, "answered": pl.Int64}


def verification_list(state: State, days: Sequence[dt.date], cases: pl.DataFrame, flagged: pl.DataFrame, *,
                      registry: pl.DataFrame | None = None, allowlist: pl.Series | None = None,
                      per_case: int = VERIFY_CALLEES, rows: pl.LazyFrame | None = None) -> pl.DataFrame:
    """``verify.csv`` for the night that ends the window ``days``: for each case of ``cases``
    (``msisdn``, ``category``, ``score``: the cases opened tonight, any category) in
    :data:`SURVEYED`, at most ``per_case`` callees to ask (see the module's rules), with when
    they were last contacted, how often, and how many of its calls they answered in the window.
    ``flagged`` is tonight's whole flagged list (never asked themselves). ``rows``: the window's
    rows if they are at hand (default: scanned from the state)."""
    as_of = days[-1]
    opened = cases.filter(pl.col("category").is_in(SURVEYED)).sort(
        ["score", "msisdn", "category"], descending=[True, False, False])
    if opened.is_empty() or per_case <= 0:
        return pl.DataFrame(schema=COLUMNS)
    who = opened.select("msisdn", "category").with_columns(number_id(pl.col("msisdn")).alias("caller_id"))
    recent = as_of - dt.timedelta(days=RECENT_DAYS - 1)
    contacts = (
        (state.events(days) if rows is None else rows).join(who.lazy().select("caller_id").unique(), on="caller_id", how="semi")
        .group_by("caller_id", "callee_id")
        .agg(pl.col("ts").max().alias("last_us"), pl.len().alias("contacts"),
             ((pl.col("flags") & VOICE != 0) & (pl.col("flags") & ANSWERED != 0)).sum().alias("answered"),
             (pl.col("day") >= recent).any().alias("recent"), _home(registry is not None).alias("home"))
        .filter("recent")
        .collect(engine="streaming")
    )
    if registry is not None:
        home = registry.select(number_id(pl.col("msisdn")).alias("callee_id"))
        contacts = contacts.with_columns(home=pl.col("callee_id").is_in(home["callee_id"].implode()))
    never = pl.concat([flagged.select("msisdn"), _asked(state, as_of)]
                      + ([allowlist.to_frame("msisdn")] if allowlist is not None else []))
    never_ids = never.select(number_id(pl.col("msisdn")).alias("callee_id")).unique()
    candidates = (
        who.with_row_index("case").join(contacts.filter("home"), on="caller_id", how="inner")
        .join(never_ids, on="callee_id", how="anti")
        .sort(["case", "answered", "contacts", "last_us", "callee_id"], descending=[False, True, True, True, False])
    )
    taken = candidates.filter(pl.Series(first_come(candidates["case"].to_numpy(), candidates["callee_id"].to_numpy(),
                                                   per_case)))
    return (
        number_texts(taken.rename({"msisdn": "flagged_msisdn"}), state.number_names(), "callee_id")
        .select("flagged_msisdn", "category", pl.col("msisdn").alias("callee"),
                pl.from_epoch("last_us", "us").alias("last_contact"), pl.col("contacts").cast(pl.Int64),
                pl.col("answered").cast(pl.Int64))
        .sort(["flagged_msisdn", "category", "answered", "contacts", "callee"],
              descending=[False, False, True, True, False])
    )


def first_come(case: np.ndarray, callee: np.ndarray, per_case: int) -> np.ndarray:
    """Which rows to keep, of rows ordered by case and, within a case, by preference: each
    case's first ``per_case`` callees that no earlier case took."""
    keep = np.zeros(case.size, dtype=np.bool_)
    taken: set[int] = set()
    listed: dict[int, int] = {}
    for i, (c, who) in enumerate(zip(case.tolist(), callee.tolist(), strict=True)):
        if who in taken or listed.get(c, 0) >= per_case:
            continue
        taken.add(who)
        listed[c] = listed.get(c, 0) + 1
        keep[i] = True
    return keep


def _home(has_registry: bool) -> pl.Expr:
    """Whether a callee is one of the carrier's own subscribers, as its rows tell without a
    registry (with one, the registry decides): on-net where the row tells the network, else in
    the home country where the row tells that, else not known to be (so not asked)."""
    flags = pl.col("flags")
    if has_registry:
        return pl.lit(False)
    onnet = (flags & OFFNET_KNOWN != 0) & (flags & OFFNET == 0)
    home_country = (flags & ABROAD_KNOWN != 0) & (flags & ABROAD == 0)
    tells_network = (flags & OFFNET_KNOWN != 0).any()
    return pl.when(tells_network).then(onnet.all()).otherwise(home_country.all())


def _asked(state: State, as_of: dt.date) -> pl.DataFrame:
    """``msisdn``: the callees listed for survey on the nights before ``as_of`` within the rest."""
    since = as_of - dt.timedelta(days=SURVEY_REST_DAYS - 1)
    return (state.surveys().filter((pl.col("asked_on") >= since) & (pl.col("asked_on") < as_of))
            .select(pl.col("callee").alias("msisdn")).collect())

