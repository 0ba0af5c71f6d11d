"""A mediation export written per leg (``detector generate --export two-legs``).

The canonical export has one row per event, from the caller's side. A mediation system writes a
record per leg and per served subscriber instead (data-contract.md, "Exports written from the
served subscriber's side"): an outgoing leg (``MOC``, ``SMS_MO``) for every event a home
subscriber originates, whose A column is the caller, and an incoming leg (``MTC``, ``SMS_MT``)
for every event a home subscriber receives, whose A column is that receiver and whose cell and
handset are the receiver's. A call between two home subscribers is both; each switch stamps its
own time, so the incoming leg starts a second or two after the outgoing one. A call from an
off-net number is its incoming leg alone, stamped at the event's own time: it is what the
canonical export's row of that call says too. Read with ``sample_data/mappings/two_legs.toml``,
the legs give the same events as the canonical export of the same world.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from detector.simulate.noise import EVENT_INDEX, Lookups
from detector.simulate.population import Population

#: The export's columns, in the canonical columns' order (:data:`~detector.simulate.noise.CDR_COLUMNS`).
TWO_LEG_COLUMNS = {
    "caller": "SERVED_MSISDN",
    "callee": "OTHER_PARTY",
    "start_time": "EVENT_TIME",
    "duration_s": "DURATION",
    "event_type": "RECORD_TYPE",
    "answered": "ANSWERED",
    "cell_id": "CELL_ID",
    "imei": "IMEI",
}


def two_leg_rows(frame: pl.DataFrame, caller: np.ndarray, callee: np.ndarray, pop: Population, day: int,
                 lookups: Lookups) -> pl.DataFrame:
    """The legs of a day's dressed rows (:func:`~detector.simulate.noise.dress` with its event
    index), in the canonical columns' names and order with the export's record types.

    ``caller`` and ``callee``: the entity index of each event's parties (as the events are
    indexed by ``frame``'s :data:`~detector.simulate.noise.EVENT_INDEX`). A row whose caller is a
    home subscriber gives an outgoing leg; one whose callee is, an incoming leg right after it.
    The incoming leg's offset from its outgoing twin depends on the row's values alone, so exact
    duplicate rows give exact duplicate legs.
    """
    event = frame[EVENT_INDEX].to_numpy()
    rows = frame.drop(EVENT_INDEX)
    a, b = caller[event], callee[event]
    caller_home, callee_home = a < pop.n_home, b < pop.n_home
    sms = (rows["event_type"] == "sms").to_numpy()

    outgoing = rows.filter(pl.Series(caller_home)).with_columns(
        pl.Series("event_type", np.where(sms[caller_home], "SMS_MO", "MOC")))
    into = np.flatnonzero(callee_home)
    receiver = b[into]
    cell = pop.cells.cell(pop.region[receiver], pop.cell_local[receiver])
    device = pop.imei_for(receiver, day)
    seconds = rows["start_time"].dt.epoch("s").to_numpy()[into]
    offset = np.where(caller_home[into], 1 + (seconds + rows["duration_s"].to_numpy()[into]) % 2, 0)
    incoming = rows[pl.Series(into)].select(
        pl.col("callee").alias("caller"),
        pl.col("caller").alias("callee"),
        (pl.col("start_time") + pl.duration(seconds=pl.lit(pl.Series(offset)))).alias("start_time"),
        "duration_s",
        pl.Series("event_type", np.where(sms[into], "SMS_MT", "MTC")),
        "answered",
        pl.lit(lookups.cell_names.gather(cell)).alias("cell_id"),
        pl.when(pl.lit(pl.Series(device >= 0))).then(pl.lit(lookups.imeis.gather(np.maximum(device, 0))))
        .alias("imei"),
    )
    # Each row's legs where the row was: its outgoing leg, then its incoming one.
    position = np.concatenate([np.flatnonzero(caller_home) * 2, into * 2 + 1])
    return pl.concat([outgoing, incoming]).gather(np.argsort(position, kind="stable"))
