"""Train the model shipped in the package: ``make model`` (``python -m models.train_shipped``).

Reproducible: the worlds below are generated from fixed seeds, read through the same ingestion a
carrier's files go through (CSV and Parquet, clean and noisy, one day to a week), and the model is
fitted with a fixed random state. The worlds differ in size, length and evasion, so the model sees
textbook and careful fraud and everything between, at several volumes. Evasion levels 0.3, 0.75 and
1.0 (careful) are kept out of training: ``--check`` scores worlds at those levels, with seeds never
used here, and prints the acceptance table.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from detector.engine.pipeline import feature_table, read_inputs
from detector.inputs.labels import read_allowlist, read_labels
from detector.simulate import generate_world
from models.evaluation import evaluate, flagged_list_precision
from models.model_file import SHIPPED_MODEL, DetectorModel, load_model, save_model
from models.rules import load_rules
from models.scoring import flag_numbers, score_numbers
from models.training import train_model


@dataclass(frozen=True)
class World:
    seed: int
    subscribers: int
    days: int
    evasion: float
    fmt: str
    noise: float


TRAINING_WORLDS: tuple[World, ...] = (
    World(1001, 20_000, 7, 0.0, "parquet", 0.0),
    World(1002, 15_000, 3, 0.2, "csv", 1.0),
    World(1003, 20_000, 7, 0.4, "parquet", 0.5),
    World(1004, 10_000, 1, 0.1, "parquet", 0.0),
    World(1005, 20_000, 5, 0.65, "csv", 0.5),
    World(1006, 15_000, 2, 0.85, "parquet", 0.0),
    World(1007, 20_000, 7, 0.9, "parquet", 1.0),
    World(1008, 10_000, 1, 0.5, "parquet", 0.0),
)
#: Held out: seeds and evasion levels that training never saw.
CHECK_WORLDS: tuple[World, ...] = (
    World(2001, 30_000, 7, 1.0, "csv", 1.0),
    World(2002, 30_000, 7, 0.3, "parquet", 0.5),
    World(2003, 20_000, 1, 0.75, "parquet", 0.0),
)
#: The target the shipped thresholds are picked for. Above the 0.95 a carrier is promised: held-out
#: precision on worlds the model has not seen still overstates it on a new carrier's data (seen on
#: the check worlds: 0.94-0.99 at a 0.95 target), so the shipped thresholds aim higher.
#: ``score --precision`` re-picks from the stored curves.
SHIPPED_PRECISION = 0.98
#: Fewer, smaller trees than the defaults: the file ships inside the package (a few MB), and every
#: number of a carrier's night walks every tree (scoring was a third of a 50M-row run). 50 trees
#: at rate 0.2 score the held-out worlds as 100 at 0.1 did, within one number per category and
#: world (``--check``: the same flagged-list precision, 0.993 / 1.0 / 0.983), in half the time.
# No mixup: these worlds already span textbook to careful fraud, so the gap mixup fills with blends
# is filled with real fraud; blends on top cost the held-out worlds (careful: pre-activation PR-AUC
# 0.998 -> 0.976, list precision 0.993 -> 0.951; one-day voice spam 0.998 -> 0.936).
PARAMS = {"max_iter": 50, "max_leaf_nodes": 15, "learning_rate": 0.2, "mixup": 0.0}


def world_tables(world: World, root: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.Series]:
    """Generate ``world`` under ``root`` and read it back: features, labels, allowlist."""
    where = root / f"world_{world.seed}"
    generate_world(where, subscribers=world.subscribers, days=world.days, seed=world.seed, fmt=world.fmt,
                   evasion=world.evasion, noise=world.noise)
    inputs = read_inputs([where / "cdr"], where / "subscribers.csv")
    return feature_table(inputs), read_labels(where / "labels.csv"), read_allowlist(where / "allowlist.csv")


def train_shipped(root: Path) -> DetectorModel:
    """Fit the shipped model on :data:`TRAINING_WORLDS`."""
    tables = [world_tables(w, root) for w in TRAINING_WORLDS]
    # Worlds reuse numbers: each world's labels go with its own rows only.
    features = pl.concat([t[0].with_columns(pl.lit(i).alias("world")) for i, t in enumerate(tables)],
                         how="vertical_relaxed")
    labels = pl.concat([t[1].with_columns(pl.lit(i).alias("world")) for i, t in enumerate(tables)])
    keyed = features.with_columns(pl.concat_str("world", "msisdn", separator=":").alias("msisdn"))
    keyed_labels = labels.with_columns(pl.concat_str("world", "msisdn", separator=":").alias("msisdn")).drop("world")
    worlds = [w.__dict__ for w in TRAINING_WORLDS]
    # Folds hold whole worlds out: thresholds then reflect worlds the model has not seen.
    return train_model(keyed.drop("world"), keyed_labels, precision=SHIPPED_PRECISION, params=PARAMS, folds=4,
                       random_state=0,
                       sources=features["world"].to_numpy(), summary={"worlds": worlds})


def check(model: DetectorModel, root: Path) -> pl.DataFrame:
    """Score every :data:`CHECK_WORLDS` world and return the per-category acceptance table."""
    rows = []
    for world in CHECK_WORLDS:
        features, labels, allowlist = world_tables(world, root)
        personas = pl.read_csv(root / f"world_{world.seed}" / "personas.csv", schema_overrides={"msisdn": pl.Utf8})
        look_alikes = personas.filter(pl.col("persona").is_in(["delivery_driver", "call_centre"]))
        enterprise = personas.filter(pl.col("persona") == "enterprise_employee")
        scores, flagged, _ = flag_numbers(score_numbers(model, features), features, model.thresholds, load_rules(),
                                       allowlist)
        metrics = evaluate(scores, labels, flagged).with_columns(
            pl.lit(world.evasion).alias("evasion"), pl.lit(world.days).alias("days"),
            pl.lit(flagged_list_precision(flagged, labels)).alias("list_precision"),
            pl.lit(flagged["msisdn"].is_in(allowlist.implode()).sum()).alias("allowlisted_flagged"),
            # Honest look-alikes: delivery drivers and call centres flagged in any category.
            pl.lit(look_alikes["msisdn"].is_in(flagged["msisdn"].implode()).mean()).alias("look_alikes_flagged"),
            # Enterprise batches look like a dealer's at activation (domain.md): how many of their
            # SIMs were flagged in any category, of how many.
            pl.lit(f"{enterprise['msisdn'].is_in(flagged['msisdn'].implode()).sum()} of {enterprise.height}")
            .alias("enterprise_flagged"),
        )
        rows.append(metrics)
    return pl.concat(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SHIPPED_MODEL, help="where to write the model")
    parser.add_argument("--check", action="store_true", help="only score the held-out worlds with --out")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="detector-model-") as tmp:
        if not args.check:
            start = time.perf_counter()
            model = train_shipped(Path(tmp))
            save_model(model, args.out)
            print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB) in {time.perf_counter() - start:.0f} s; "
                  f"held-out PR-AUC {model.summary['held_out_pr_auc']}")
        with pl.Config(tbl_rows=20, tbl_cols=20, tbl_width_chars=200):
            print(check(load_model(args.out), Path(tmp)))


if __name__ == "__main__":
    main()
