"""The core features of ``/work/shared/spec/features.md`` in plain DuckDB SQL.

This module has two jobs:

1. It is the **benchmark peer**: the Polars + numba feature engine is timed against it on the same
   canonical Parquet input.
2. It is the **independent reference implementation**: the end-to-end test compares the engine's
   feature table with this one value for value (relative tolerance 1e-6). It therefore shares no
   code with the engine; every feature is computed by DuckDB SQL over the whole table (no Python
   loop over rows, no Polars in the computation; Polars only carries the result back).

Input is canonical Parquet, already normalised and de-duplicated by ingestion (see
``data-contract.md``): ``caller``, ``callee``, ``start_time`` (naive local timestamp),
``duration_s``, ``event_type`` (``'voice'``/``'sms'``), ``answered``, ``cell_id``, ``imei``; and an
optional registry with ``msisdn``, ``activation_time``, ``dealer_id``, ``id_number``, ...

Interpretation of features.md followed here (the project's reading of it):

* "outgoing" = rows where the number is ``caller``, "incoming" = rows where it is ``callee``.
  Counts are over the whole window and 0 (never null) for a number without such events, including
  registry-only numbers. A ratio whose denominator is zero is null.
* A number "read as an integer" is a text matching ``[+-]?[0-9]+`` that fits a BIGINT (the same
  set of strings a strict string-to-integer cast accepts). DuckDB's own ``TRY_CAST(x AS BIGINT)``
  is laxer (it reads ``'1e5'``, ``'0x10'``, ``'1_000'``, ``' 12'`` and rounds ``'12.5'``), so it is
  only applied after that pattern matched. Normalised numbers are digit strings or kept-as-is
  alphanumeric senders, for which both readings agree.
* Per-subscriber event order: ``start_time``, then the callee as an integer (non-integer callees
  after all integers), then the callee text, then ``duration_s``. Rows still tied after that are
  equal in everything the order-dependent features look at, so their order cannot change a value.
* ``gap_cv`` is the population standard deviation of the gaps divided by their mean. It is
  computed exactly in integer microseconds (``n*sum(g^2) - sum(g)^2`` in HUGEINT, then one square
  root): cv = sqrt(n*S2 - S1^2) / S1, which is stddev_pop/mean with the units cancelled. Equal gaps
  therefore give exactly 0.0 rather than a rounding residue.
* ``voice_dur_median`` is DuckDB's ``median`` (= ``quantile_cont(0.5)``: the mean of the two middle
  values for an even count).
* Registry features are null for numbers not in the registry. ``sims_per_id`` is null when
  ``id_number`` is null; ``dealer_burst_1h`` is null when ``dealer_id`` or ``activation_time`` is
  null; ``msisdn_run_length`` is null when ``dealer_id`` is null or the msisdn is not an integer.
  A registry with two rows for one msisdn is refused (ValueError): ingestion de-duplicates it.
* ``start_time`` must be naive local time (as ingestion writes it); hours and dates are read as is.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

__all__ = ["CORE_FEATURES", "core_features_duckdb"]

#: The core feature names, in the order of the table in features.md.
CORE_FEATURES: list[str] = [
    "voice_out",
    "voice_out_distinct",
    "voice_answered_ratio",
    "voice_dur_mean",
    "voice_dur_median",
    "voice_short_ratio",
    "gap_cv",
    "seq_callee_ratio",
    "reciprocity",
    "sms_out",
    "sms_out_distinct",
    "voice_in",
    "voice_in_distinct",
    "sms_in",
    "night_ratio",
    "active_hours",
    "distinct_cells",
    "distinct_imeis",
    "imei_max_sims",
    "window_days",
    "sims_per_id",
    "dealer_burst_1h",
    "msisdn_run_length",
]

#: A text that is an integer: optional sign, digits only (no blanks, exponents, hex, underscores).
_INT_PATTERN = "[+-]?[0-9]+"


def _as_int(col: str) -> str:
    """SQL for ``col`` read as a BIGINT: null unless it is a plain integer text that fits."""
    return f"CASE WHEN regexp_full_match({col}, '{_INT_PATTERN}') THEN TRY_CAST({col} AS BIGINT) END"


def _paths(p: str | Sequence[str]) -> list[str]:
    return [p] if isinstance(p, str) else [str(x) for x in p]


def _columns(con: duckdb.DuckDBPyConnection, files: list[str]) -> set[str]:
    rows = con.execute(
        "DESCRIBE SELECT * FROM read_parquet($files, union_by_name = true)", {"files": files}
    ).fetchall()
    return {r[0] for r in rows}


def normalised_sql(col: str, country_code: str) -> str:
    """SQL normalising the text ``col`` as ingestion does for national, ``+cc``, ``00cc`` and
    ``cc`` forms of the country ``country_code`` (separators dropped; a national ``0…`` number
    gets the country code): what a carrier's own SQL would do before counting. Used by the
    whole-process peer (``bench/bench_process.py``) on raw national-form exports."""
    digits = f"regexp_replace(CAST({col} AS VARCHAR), '[^0-9+]', '', 'g')"
    return (f"CASE WHEN {digits} LIKE '+%' THEN substr({digits}, 2) "
            f"WHEN {digits} LIKE '00%' THEN substr({digits}, 3) "
            f"WHEN {digits} LIKE '0%' THEN '{country_code}' || substr({digits}, 2) "
            f"ELSE {digits} END")


def _load_cdr(con: duckdb.DuckDBPyConnection, files: list[str], country_code: str | None = None) -> None:
    """Materialise the CDR rows once, with the derived columns every feature below uses. With a
    ``country_code`` the numbers are normalised (:func:`normalised_sql`) and exact duplicate rows
    dropped first, as ingestion does for raw exports."""
    have = _columns(con, files)
    missing = {"caller", "callee", "start_time", "duration_s", "event_type"} - have
    if missing:
        raise ValueError(f"CDR Parquet lacks required column(s): {', '.join(sorted(missing))}")
    # Optional columns of the contract: answered defaults to duration_s > 0; cell/imei to null.
    answered = "CAST(answered AS BOOLEAN)" if "answered" in have else "(duration_s > 0)"
    cell = "CAST(cell_id AS VARCHAR)" if "cell_id" in have else "CAST(NULL AS VARCHAR)"
    imei = "CAST(imei AS VARCHAR)" if "imei" in have else "CAST(NULL AS VARCHAR)"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE cdr AS
        WITH src AS (
            SELECT {"DISTINCT" if country_code else ""}
                {normalised_sql("caller", country_code) if country_code else "CAST(caller AS VARCHAR)"} AS caller,
                {normalised_sql("callee", country_code) if country_code else "CAST(callee AS VARCHAR)"} AS callee,
                start_time,
                CAST(duration_s AS BIGINT)  AS duration_s,
                CAST(event_type AS VARCHAR) AS event_type,   -- may be an ENUM in Parquet
                {answered}                  AS answered,
                {cell}                      AS cell_id,
                {imei}                      AS imei
            FROM read_parquet($files, union_by_name = true)
        )
        SELECT
            *,
            event_type = 'voice'             AS is_voice,
            event_type = 'sms'               AS is_sms,
            epoch_us(start_time)             AS ts_us,      -- exact integer microseconds
            hour(start_time)                 AS hod,        -- local hour of day 0..23
            CAST(start_time AS DATE)         AS day,        -- local calendar date
            {_as_int("callee")}              AS callee_int
        FROM src
        """,
        {"files": files},
    )


def _load_registry(con: duckdb.DuckDBPyConnection, files: list[str] | None, country_code: str | None = None) -> None:
    """Materialise the registry (empty when none is given)."""
    if files is None:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE reg (
                msisdn VARCHAR, activation_time TIMESTAMP, dealer_id VARCHAR, id_number VARCHAR,
                act_us BIGINT, msisdn_int BIGINT
            )
            """
        )
        return
    have = _columns(con, files)
    missing = {"msisdn", "activation_time", "dealer_id"} - have
    if missing:
        raise ValueError(f"registry Parquet lacks required column(s): {', '.join(sorted(missing))}")
    id_number = "CAST(id_number AS VARCHAR)" if "id_number" in have else "CAST(NULL AS VARCHAR)"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE reg AS
        WITH src AS (
            SELECT
                {normalised_sql("msisdn", country_code) if country_code else "CAST(msisdn AS VARCHAR)"} AS msisdn,
                CAST(activation_time AS TIMESTAMP) AS activation_time,
                CAST(dealer_id AS VARCHAR)       AS dealer_id,
                {id_number}                      AS id_number
            FROM read_parquet($files, union_by_name = true)
        )
        SELECT *, epoch_us(activation_time) AS act_us, {_as_int("msisdn")} AS msisdn_int
        FROM src
        """,
        {"files": files},
    )
    dup = con.execute(
        "SELECT msisdn, count(*) FROM reg WHERE msisdn IS NOT NULL GROUP BY msisdn HAVING count(*) > 1 "
        "ORDER BY msisdn LIMIT 5"
    ).fetchall()
    if dup:
        raise ValueError(f"registry is not one row per msisdn (e.g. {dup}); de-duplicate it first")


# One statement computing every feature. Each CTE is one group of features keyed by msisdn; the
# final SELECT left-joins them onto the subscriber list and applies the zero/null conventions.
_FEATURES_SQL = """
WITH
-- Every number that originated at least one event, plus every registry subscriber.
subscribers AS (
    SELECT caller AS msisdn FROM cdr WHERE caller IS NOT NULL
    UNION
    SELECT msisdn FROM reg WHERE msisdn IS NOT NULL
),

-- Outgoing events (the number is the caller): volumes, durations, hours, cells, handsets.
outgoing AS (
    SELECT
        caller                                                        AS msisdn,
        count(*) FILTER (WHERE is_voice)                              AS voice_out,
        count(DISTINCT callee) FILTER (WHERE is_voice)                AS voice_out_distinct,
        count(*) FILTER (WHERE is_voice AND answered)                 AS voice_answered,
        avg(duration_s) FILTER (WHERE is_voice AND answered)          AS voice_dur_mean,
        median(duration_s) FILTER (WHERE is_voice AND answered)       AS voice_dur_median,
        count(*) FILTER (WHERE is_voice AND answered AND duration_s < 10) AS voice_short,
        count(*) FILTER (WHERE is_sms)                                AS sms_out,
        count(DISTINCT callee) FILTER (WHERE is_sms)                  AS sms_out_distinct,
        count(*)                                                      AS events_out,
        count(*) FILTER (WHERE hod BETWEEN 0 AND 5)                   AS night_events,
        count(DISTINCT hod)                                           AS active_hours,
        count(DISTINCT cell_id)                                       AS distinct_cells,
        count(DISTINCT imei)                                          AS distinct_imeis
    FROM cdr
    GROUP BY caller
),

-- Incoming events (the number is the callee).
incoming AS (
    SELECT
        callee                                          AS msisdn,
        count(*) FILTER (WHERE is_voice)                AS voice_in,
        count(DISTINCT caller) FILTER (WHERE is_voice)  AS voice_in_distinct,
        count(*) FILTER (WHERE is_sms)                  AS sms_in
    FROM cdr
    GROUP BY callee
),

-- Outgoing voice calls in per-subscriber event order, each with its predecessor.
voice_seq AS (
    SELECT
        caller                                  AS msisdn,
        ts_us - lag(ts_us) OVER w               AS gap_us,        -- null for the first call
        callee_int,
        lag(callee_int) OVER w                  AS prev_callee_int
    FROM cdr
    WHERE is_voice
    WINDOW w AS (
        PARTITION BY caller
        ORDER BY start_time, callee_int ASC NULLS LAST, callee, duration_s
    )
),

-- Gap statistics (exact integer sums) and sequential-dialling pairs per subscriber.
voice_seq_agg AS (
    SELECT
        msisdn,
        count(*)                                        AS n_calls,
        count(gap_us)                                   AS n_gaps,
        sum(CAST(gap_us AS HUGEINT))                    AS s1,
        sum(CAST(gap_us AS HUGEINT) * gap_us)           AS s2,
        -- a pair with a non-integer callee has a null difference: not sequential, still a pair
        count(*) FILTER (
            WHERE abs(CAST(callee_int AS HUGEINT) - prev_callee_int) BETWEEN 1 AND 10
        )                                               AS seq_pairs
    FROM voice_seq
    GROUP BY msisdn
),

-- Reciprocity: distinct voice callees, and which of them ever voice-called this number.
voice_pairs AS (
    SELECT DISTINCT caller, callee FROM cdr WHERE is_voice AND callee IS NOT NULL
),
recip AS (
    SELECT
        p.caller            AS msisdn,
        count(*)            AS n_callees,
        count(q.caller)     AS n_called_back
    FROM voice_pairs AS p
    LEFT JOIN voice_pairs AS q ON q.caller = p.callee AND q.callee = p.caller
    GROUP BY p.caller
),

-- Handsets: distinct callers seen on each IMEI anywhere, then the largest over a number's IMEIs.
imei_sims AS (
    SELECT imei, count(DISTINCT caller) AS n_sims
    FROM cdr WHERE imei IS NOT NULL
    GROUP BY imei
),
imei_max AS (
    SELECT u.caller AS msisdn, max(s.n_sims) AS imei_max_sims
    FROM (SELECT DISTINCT caller, imei FROM cdr WHERE imei IS NOT NULL) AS u
    JOIN imei_sims AS s USING (imei)
    GROUP BY u.caller
),

-- Distinct local calendar dates in the whole input (one value for every row).
span AS (
    SELECT count(DISTINCT day) AS window_days FROM cdr
),

-- Registry: SIMs per identity document and activation bursts per dealer.
reg_feats AS (
    SELECT
        msisdn,
        CASE WHEN id_number IS NOT NULL
             THEN count(*) OVER (PARTITION BY id_number) END              AS sims_per_id,
        CASE WHEN dealer_id IS NOT NULL AND act_us IS NOT NULL
             THEN count(*) OVER (
                 PARTITION BY dealer_id, act_us IS NULL
                 ORDER BY act_us
                 RANGE BETWEEN 3600000000 PRECEDING AND 3600000000 FOLLOWING   -- 60 min, inclusive
             ) END                                                        AS dealer_burst_1h
    FROM reg
),

-- Registry: runs of consecutive integer msisdns (step 1) within a dealer (gaps and islands:
-- n - rank is constant along a run).
dealer_numbers AS (
    SELECT DISTINCT dealer_id, msisdn_int
    FROM reg
    WHERE dealer_id IS NOT NULL AND msisdn_int IS NOT NULL
),
runs AS (
    SELECT
        dealer_id,
        msisdn_int,
        CAST(msisdn_int AS HUGEINT)
            - row_number() OVER (PARTITION BY dealer_id ORDER BY msisdn_int) AS run_key
    FROM dealer_numbers
),
run_lengths AS (
    SELECT dealer_id, msisdn_int, count(*) OVER (PARTITION BY dealer_id, run_key) AS run_length
    FROM runs
),
reg_runs AS (
    SELECT r.msisdn, l.run_length AS msisdn_run_length
    FROM reg AS r
    JOIN run_lengths AS l ON l.dealer_id = r.dealer_id AND l.msisdn_int = r.msisdn_int
    WHERE r.msisdn IS NOT NULL
)

SELECT
    s.msisdn,
    coalesce(o.voice_out, 0)                                              AS voice_out,
    coalesce(o.voice_out_distinct, 0)                                     AS voice_out_distinct,
    CAST(o.voice_answered AS DOUBLE) / nullif(o.voice_out, 0)             AS voice_answered_ratio,
    CAST(o.voice_dur_mean AS DOUBLE)                                      AS voice_dur_mean,
    CAST(o.voice_dur_median AS DOUBLE)                                    AS voice_dur_median,
    CAST(o.voice_short AS DOUBLE) / nullif(o.voice_answered, 0)           AS voice_short_ratio,
    CASE WHEN v.n_gaps >= 2 AND v.s1 > 0
         THEN sqrt(CAST(v.n_gaps * v.s2 - v.s1 * v.s1 AS DOUBLE)) / CAST(v.s1 AS DOUBLE)
    END                                                                   AS gap_cv,
    CASE WHEN v.n_calls >= 2
         THEN CAST(v.seq_pairs AS DOUBLE) / (v.n_calls - 1)
    END                                                                   AS seq_callee_ratio,
    CAST(rc.n_called_back AS DOUBLE) / nullif(rc.n_callees, 0)            AS reciprocity,
    coalesce(o.sms_out, 0)                                                AS sms_out,
    coalesce(o.sms_out_distinct, 0)                                       AS sms_out_distinct,
    coalesce(i.voice_in, 0)                                               AS voice_in,
    coalesce(i.voice_in_distinct, 0)                                      AS voice_in_distinct,
    coalesce(i.sms_in, 0)                                                 AS sms_in,
    CAST(o.night_events AS DOUBLE) / nullif(o.events_out, 0)              AS night_ratio,
    coalesce(o.active_hours, 0)                                           AS active_hours,
    coalesce(o.distinct_cells, 0)                                         AS distinct_cells,
    coalesce(o.distinct_imeis, 0)                                         AS distinct_imeis,
    coalesce(im.imei_max_sims, 0)                                         AS imei_max_sims,
    w.window_days                                                         AS window_days,
    CAST(rf.sims_per_id AS BIGINT)                                        AS sims_per_id,
    CAST(rf.dealer_burst_1h AS BIGINT)                                    AS dealer_burst_1h,
    CAST(rr.msisdn_run_length AS BIGINT)                                  AS msisdn_run_length
FROM subscribers AS s
CROSS JOIN span AS w
LEFT JOIN outgoing      AS o  ON o.msisdn  = s.msisdn
LEFT JOIN incoming      AS i  ON i.msisdn  = s.msisdn
LEFT JOIN voice_seq_agg AS v  ON v.msisdn  = s.msisdn
LEFT JOIN recip         AS rc ON rc.msisdn = s.msisdn
LEFT JOIN imei_max      AS im ON im.msisdn = s.msisdn
LEFT JOIN reg_feats     AS rf ON rf.msisdn = s.msisdn
LEFT JOIN reg_runs      AS rr ON rr.msisdn = s.msisdn
ORDER BY s.msisdn
"""

_SCHEMA: dict[str, pl.DataType] = {"msisdn": pl.String()} | {
    name: (
        pl.Float64()
        if name.endswith(("_ratio", "_mean", "_median", "_cv")) or name == "reciprocity"
        else pl.Int64()
    )
    for name in CORE_FEATURES
}


def core_features_duckdb(
    cdr_parquet: str | list[str],
    registry_parquet: str | None = None,
    *,
    threads: int = 2,
    normalise: str | None = None,
) -> pl.DataFrame:
    """Compute the core features of features.md with DuckDB.

    Parameters
    ----------
    cdr_parquet:
        One canonical CDR Parquet path (a glob works too) or a list of them.
    registry_parquet:
        The canonical subscriber registry (Parquet, one row per msisdn), or ``None``.
    threads:
        DuckDB worker threads.
    normalise:
        A country code: the input is a raw export (national-form numbers, duplicates), to be
        normalised and de-duplicated in SQL first.

    Returns
    -------
    polars.DataFrame
        ``msisdn`` then every name of :data:`CORE_FEATURES`, one row per caller and per registry
        msisdn, sorted by ``msisdn``; counts Int64, ratios and means Float64.
    """
    con = duckdb.connect()
    try:
        con.execute(f"SET threads = {int(threads)}")
        _load_cdr(con, _paths(cdr_parquet), normalise)
        _load_registry(con, None if registry_parquet is None else _paths(registry_parquet), normalise)
        out = con.sql(_FEATURES_SQL).pl()
    finally:
        con.close()
    # The SQL already yields these types; the cast only pins them for an empty result.
    return out.select([pl.col(n).cast(t) for n, t in _SCHEMA.items()])
