"""``graph_features``: the feature table of a call graph, for inputs without per-call rows.

An edge list (:mod:`detector.inputs.graph`) says who contacted whom how often, never when or
from where. This module gives it the table of :func:`features.build.build_features`: the same
rows (every number that originated an event, plus every registry subscriber), the same columns
in the same order and types, so that a model trained on CDRs scores it. Each feature the graph
determines is computed exactly as from the CDRs the graph summarises (features.md, catalogue);
every other one is null, never 0 and never guessed: a model, a rule and a reason then treat it
as unknown.

Computed from the graph (:func:`computed_features` lists them for given columns):

- from ``calls`` alone: ``in_out_ratio`` (incoming over outgoing events), ``intl_out_ratio`` and
  (with the mapping's ``home_prefixes``) ``offnet_out_ratio``;
- with the kind (``voice_calls`` or ``sms``): ``voice_out``, ``voice_out_distinct``, ``sms_out``,
  ``sms_out_distinct``, ``voice_in``, ``voice_in_distinct``, ``sms_in``, ``reciprocity``,
  ``sms_reciprocity``, ``sms_reply_ratio``, ``voice_out_new_callee_ratio`` (distinct callees per
  voice call: every distinct callee is new once), ``voice_unrelated_ratio`` (a callee "called
  once" is an edge of one voice call; "never called or texted back" is no edge back),
  ``voice_callee_block_ratio``;
- with ``answered_calls`` too: ``voice_answered_ratio``; with ``duration_s_total`` as well:
  ``voice_dur_mean``;
- with ``first_time`` / ``last_time``: ``first_out_time`` / ``last_out_time``, both for
  ``active_span_days``;
- with ``--subscribers``: the registry features (``sims_per_id``, ``dealer_*``,
  ``msisdn_run_length``, ``prepaid``; ``dealer_dormant_share`` from who called at all),
  ``days_to_first_use`` with ``first_time``, ``activation_age_days`` with ``last_time`` (the
  window ends at the last event).

Null: everything that needs event order, time of day, days or single events (``gap_cv``,
``seq_callee_ratio``, ``night_ratio``, ``active_hours``, ``window_days``, the per-day and
10-minute features, the duration median, short-call shares and entropy), cells and handsets
(``distinct_cells``, ``distinct_imeis``, ``imei_max_sims``, ``first_use_away_from_activation``).

How: numbers become the ids of :func:`features.build.number_id`, edges are sorted by caller (then
callee) and by callee, and the kernels of :mod:`features.kernels` sum the counts per number and
look up who called back (:func:`~features.kernels.contacted_by`, as for CDRs); the callees' number
blocks come from :func:`features.build.callee_blocks`, the registry from
:func:`features.build.registry_features`.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
import polars as pl

from detector.inputs.graph import GraphBatch
from detector.inputs.numbers import DEFAULT_COUNTRY_CODE
from features import kernels
from features.build import (
    REGISTRY_BEHAVIOUR,
    build_features,
    callee_blocks,
    network_flags,
    number_id,
    number_texts,
    ratio,
    ratio_of,
    registry_behaviour,
    registry_features,
    text_names,
)
from features.catalogue import FEATURES

#: Features a graph of ``caller,callee,calls`` gives; :data:`WITH` adds those of optional columns.
ALWAYS = ("in_out_ratio", "intl_out_ratio", "offnet_out_ratio")
#: Per caller, its calls by where the callee is (:func:`~features.build.network_flags`).
WHERE_COUNTS = ("abroad_n", "abroad_known_n", "offnet_n", "offnet_known_n")
#: Optional columns (all of them needed) -> the features they add.
WITH: dict[tuple[str, ...], tuple[str, ...]] = {
    ("voice_calls",): ("voice_out", "voice_out_distinct", "sms_out", "sms_out_distinct", "voice_in",
                       "voice_in_distinct", "sms_in", "reciprocity", "sms_reciprocity", "sms_reply_ratio",
                       "voice_out_new_callee_ratio", "voice_unrelated_ratio", "voice_callee_block_ratio"),
    ("voice_calls", "answered_calls"): ("voice_answered_ratio",),
    ("voice_calls", "answered_calls", "duration_s_total"): ("voice_dur_mean",),
    ("first_time",): ("first_out_time",),
    ("last_time",): ("last_out_time",),
    ("first_time", "last_time"): ("active_span_days",),
}
#: The registry's own features (with ``--subscribers``).
REGISTRY = ("sims_per_id", "dealer_burst_1h", "msisdn_run_length", "prepaid", "dealer_dormant_share",
            "dealer_over_id_cap_share", "dealer_sims", "dealer_burst_1h_max")
#: Registry features that need times of the graph too.
REGISTRY_WITH = {("first_time",): ("days_to_first_use",), ("last_time",): ("activation_age_days",)}
#: The voice/SMS counts: 0 for a registered number without edges of that kind, when the kind is known.
KIND_COUNTS = ("voice_out", "voice_out_distinct", "sms_out", "sms_out_distinct", "voice_in", "voice_in_distinct",
               "sms_in")


def computed_features(columns: set[str] | frozenset[str], registry: bool = False) -> list[str]:
    """The features :func:`graph_features` computes for a graph with these optional ``columns``
    (:attr:`~detector.inputs.graph.GraphBatch.columns`), in table order; the others are null."""
    names = set(ALWAYS)
    rules = [*WITH.items(), *(REGISTRY_WITH.items() if registry else ())]
    for needs, gives in rules:
        if set(needs) <= set(columns):
            names |= set(gives)
    if registry:
        names |= set(REGISTRY)
    return [f for f in FEATURES if f in names]


@functools.cache
def feature_schema() -> pl.Schema:
    """The schema of :func:`features.build.build_features`' table (``msisdn`` and every feature)
    without a registry; with one, the registry's features take the registry's types there too."""
    from detector.inputs.cdr import CDR_SCHEMA

    return build_features(CDR_SCHEMA.to_frame()).schema


def graph_features(
    graph: GraphBatch,
    registry: pl.DataFrame | None = None,
    *,
    country_code: str = DEFAULT_COUNTRY_CODE,
    home_prefixes: Sequence[str] = (),
) -> pl.DataFrame:
    """The feature table of a call graph (module docstring): the schema and rows of
    :func:`~features.build.build_features`, null where the graph does not tell.

    Parameters
    ----------
    graph:
        Edges as :func:`detector.inputs.graph.read_graph` gives them: normalised, one per pair.
    registry:
        Optional registry (:data:`detector.inputs.registry.REGISTRY_SCHEMA`), one row per msisdn.
    country_code, home_prefixes:
        The home country's code and the carrier's own ranges: where a callee is, as for CDRs
        (:func:`~features.build.network_flags`).
    """
    edges = graph.edges.with_columns(
        number_id(pl.col("caller")).alias("caller_id"), number_id(pl.col("callee")).alias("callee_id"))
    where = network_flags(pl.col("callee"), pl.col("callee_id"), None, country_code, home_prefixes)
    edges = edges.with_columns(expr.alias(name) for name, expr in where.items())
    # By caller, then callee: two stable sorts.
    order = kernels.stable_argsort(edges["callee_id"].to_numpy())
    order = order[kernels.stable_argsort(edges["caller_id"].to_numpy()[order])]
    edges = edges[pl.Series(order)]
    by_callee = _by_callee(edges)
    table = _full_join(_outgoing(edges, graph, by_callee), _incoming(graph, *by_callee))
    callers = table.filter(pl.col("n_out") > 0)["id"]
    names = text_names(pl.concat([edges["caller_id"], edges["callee_id"]]),
                       pl.concat([edges["caller"], edges["callee"]]))
    has_registry = registry is not None and registry.height > 0
    keep = pl.col("n_out") > 0
    if has_registry:
        reg = registry_features(registry, callers)
        names = pl.concat([names, reg.filter(pl.col("id") < 0).select("id", "msisdn")]).unique("id")
        reg = reg.drop("msisdn", "dealer_id").with_columns(pl.lit(True).alias("registered"))
        table = _full_join(table, reg)
        keep = keep | pl.col("registered").fill_null(False)
    else:
        table = table.with_columns(pl.lit(None, pl.Int64).alias(c)
                                   for c in ("sims_per_id", "dealer_burst_1h", "msisdn_run_length"))
    known_counts = [c for c in (*KIND_COUNTS, "answered_n", "reciprocated_n", "unrelated_n", "sms_reciprocated_n",
                                "callee_blocks_n", "integer_callees_n", "answered_seconds") if c in table.columns]
    table = table.with_columns(pl.col(c).fill_null(0) for c in ("n_out", "in_n", *WHERE_COUNTS, *known_counts)
                               ).filter(keep)
    end = graph.edges["last_time"].max() if graph.has("last_time") else None
    table = table.with_columns(
        pl.lit(end, pl.Datetime("us")).dt.epoch("us").alias("window_end_us"),
        pl.lit(False).alias("has_first_cell"),
        pl.lit(None, pl.Int64).alias("first_cell"),
        *([] if "first_out_us" in table.columns else [pl.lit(None, pl.Int64).alias("first_out_us")]),
        *([] if "last_out_us" in table.columns else [pl.lit(None, pl.Int64).alias("last_out_us")]),
    ).with_columns(registry_behaviour(has_registry))
    derived = {
        "in_out_ratio": ratio_of(pl.col("in_n"), "n_out"),
        "intl_out_ratio": ratio("abroad_n", "abroad_known_n"),
        "offnet_out_ratio": ratio("offnet_n", "offnet_known_n"),
        "reciprocity": ratio("reciprocated_n", "voice_out_distinct"),
        "sms_reciprocity": ratio("sms_reciprocated_n", "sms_out_distinct"),
        "sms_reply_ratio": ratio("sms_in", "sms_out"),
        "voice_out_new_callee_ratio": ratio("voice_out_distinct", "voice_out"),
        "voice_unrelated_ratio": ratio("unrelated_n", "voice_out_distinct"),
        "voice_callee_block_ratio": ratio("callee_blocks_n", "integer_callees_n"),
        "voice_answered_ratio": ratio("answered_n", "voice_out"),
        "voice_dur_mean": ratio("answered_seconds", "answered_n"),
        "first_out_time": pl.from_epoch("first_out_us", "us"),
        "last_out_time": pl.from_epoch("last_out_us", "us"),
        "active_span_days": (pl.col("last_out_us") - pl.col("first_out_us")) / kernels.US_PER_DAY,
    }
    computed = set(computed_features(graph.columns, has_registry))
    table = number_texts(table, names if names.height else None)
    schema = feature_schema()

    def column(name: str) -> pl.Expr:
        if name not in computed:
            return pl.lit(None, schema[name]).alias(name)
        if name in REGISTRY_BEHAVIOUR:
            # As build_features gives them: typed by the registry's columns.
            return pl.col(name)
        return derived.get(name, pl.col(name)).cast(schema[name]).alias(name)

    return table.select(pl.col("msisdn"), *(column(f) for f in FEATURES)).sort("msisdn")


def _outgoing(edges: pl.DataFrame, graph: GraphBatch, by_callee: tuple[pl.DataFrame, np.ndarray, np.ndarray]
              ) -> pl.DataFrame:
    """Per caller (``id``), from the edges sorted by caller then callee: its outgoing events,
    those abroad, and with the kind known its voice and SMS counts, distinct callees, callees who
    contacted it back (counted per :func:`_incoming`'s lists) and number blocks."""
    caller, callee = edges["caller_id"].to_numpy(), edges["callee_id"].to_numpy()
    calls = edges["calls"].to_numpy()
    starts = kernels.segment_starts(caller)
    ids = caller[starts[:-1]]
    out = {"id": ids, "n_out": kernels.segment_sums(starts, calls),
           **{f"{name}_n": kernels.segment_sums(starts, np.where(edges[name].to_numpy(), calls, 0))
              for name in ("abroad", "abroad_known", "offnet", "offnet_known")}}
    if graph.has("voice_calls"):
        voice, sms = edges["voice_calls"].to_numpy(), edges["sms"].to_numpy()
        back = _contacts(*by_callee)
        # The edges are distinct and sorted by callee within each caller: each kind's callees
        # are its distinct callees, sorted (what distinct_sorted gives for CDR rows).
        v_starts, v_callees, v_calls = _pairs(starts, callee, voice, voice > 0)
        s_starts, s_callees, _ = _pairs(starts, callee, sms, sms > 0)
        called_back = kernels.contacted_by(ids, v_starts, v_callees, *back["voice"])
        texted_back = kernels.contacted_by(ids, v_starts, v_callees, *back["sms"])
        out |= {
            "voice_out": kernels.segment_sums(starts, voice),
            "voice_out_distinct": np.diff(v_starts),
            "sms_out": kernels.segment_sums(starts, sms),
            "sms_out_distinct": np.diff(s_starts),
            "reciprocated_n": kernels.masked_counts(v_starts, called_back),
            "unrelated_n": kernels.masked_counts(v_starts, (v_calls == 1) & ~(called_back | texted_back)),
            "sms_reciprocated_n": kernels.masked_counts(
                s_starts, kernels.contacted_by(ids, s_starts, s_callees, *back["sms"])),
        }
        out |= {s.name: s.to_numpy() for s in callee_blocks(v_starts, v_callees)}
        if graph.has("answered_calls"):
            out["answered_n"] = kernels.segment_sums(starts, edges["answered_calls"].to_numpy())
        if graph.has("answered_calls", "duration_s_total"):
            out["answered_seconds"] = kernels.segment_sums(starts, edges["duration_s_total"].to_numpy())
    table = pl.DataFrame(out)
    times = [pl.col("first_time").min().dt.epoch("us").alias("first_out_us")] if graph.has("first_time") else []
    times += [pl.col("last_time").max().dt.epoch("us").alias("last_out_us")] if graph.has("last_time") else []
    if times:
        active = edges.filter(pl.col("calls") > 0).group_by(pl.col("caller_id").alias("id")).agg(*times)
        table = table.join(active, on="id", how="left")
    return table


def _pairs(starts: np.ndarray, callee: np.ndarray, count: np.ndarray, mask: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The edges where ``mask``, per segment: CSR offsets, their callees and their ``count``."""
    kept = np.concatenate(([0], np.cumsum(kernels.masked_counts(starts, mask)))).astype(np.int64)
    return kept, callee[mask], count[mask]


def _by_callee(edges: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """The caller-sorted edges sorted by callee (callers ascending within each), its segment
    offsets and the callee of each segment."""
    incoming = edges[pl.Series(kernels.stable_argsort(edges["callee_id"].to_numpy()))]
    callee = incoming["callee_id"].to_numpy()
    starts = kernels.segment_starts(callee)
    return incoming, starts, callee[starts[:-1]]


def _contacts(incoming: pl.DataFrame, starts: np.ndarray, ids: np.ndarray
              ) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per kind (``voice``, ``sms``), who contacted each number, as
    :func:`~features.kernels.contacted_by`'s ``back_*`` arguments, from :func:`_by_callee`."""
    caller = incoming["caller_id"].to_numpy()
    out = {}
    for kind, column in (("voice", "voice_calls"), ("sms", "sms")):
        kind_starts, callers, _ = _pairs(starts, caller, caller, incoming[column].to_numpy() > 0)
        out[kind] = (ids, kind_starts, callers)
    return out


def _incoming(graph: GraphBatch, incoming: pl.DataFrame, starts: np.ndarray, ids: np.ndarray) -> pl.DataFrame:
    """Per number contacted (``id``), from :func:`_by_callee`: incoming events, and with the kind
    known ``voice_in``, ``voice_in_distinct`` and ``sms_in``."""
    out = {"id": ids, "in_n": kernels.segment_sums(starts, incoming["calls"].to_numpy())}
    if graph.has("voice_calls"):
        voice = incoming["voice_calls"].to_numpy()
        out |= {"voice_in": kernels.segment_sums(starts, voice),
                "voice_in_distinct": kernels.masked_counts(starts, voice > 0),
                "sms_in": kernels.segment_sums(starts, incoming["sms"].to_numpy())}
    return pl.DataFrame(out)


def _full_join(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    return left.join(right, on="id", how="full", coalesce=True)
