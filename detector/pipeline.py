"""The engine's stages wired together: read inputs -> features (-> model -> outputs).

The CLI calls these; so do benchmarks and tests, so that every path runs the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from detector.ingest import CdrBatch, FileReport, read_cdrs
from detector.mapping import Mapping
from detector.numbers import DEFAULT_COUNTRY_CODE
from detector.outputs import write_csv, write_parquet, write_text
from detector.registry import Registry, read_registry
from features.build import build_features

if TYPE_CHECKING:
    from models.model_file import DetectorModel
    from models.rules import Rule


@dataclass
class Inputs:
    """Everything read for one run."""

    batch: CdrBatch
    registry: Registry | None
    country_code: str = DEFAULT_COUNTRY_CODE

    @property
    def rejects(self) -> pl.DataFrame:
        """Rejected CDR and registry rows together (file, row, reason, raw)."""
        if self.registry is None:
            return self.batch.rejects
        return pl.concat([self.batch.rejects, self.registry.rejects])


def read_inputs(
    cdr: Sequence[str | Path],
    subscribers: str | Path | None = None,
    mapping: Mapping | None = None,
    progress: Callable[[Path, FileReport], None] | None = None,
) -> Inputs:
    """Read the CDR files and, if given, the subscriber registry."""
    batch = read_cdrs(cdr, mapping, progress=progress)
    registry = read_registry(subscribers, mapping) if subscribers is not None else None
    country_code = mapping.country_code if mapping is not None else DEFAULT_COUNTRY_CODE
    return Inputs(batch=batch, registry=registry, country_code=country_code)


def feature_table(inputs: Inputs, core_only: bool = False) -> pl.DataFrame:
    """The feature table (features.md, and unless ``core_only`` the engine's own features)."""
    registry = inputs.registry.subscribers if inputs.registry is not None else None
    return build_features(inputs.batch.cdrs, registry, core_only=core_only, country_code=inputs.country_code)


@dataclass
class ScoreResult:
    """What one scoring run produces (data-contract.md, outputs of ``detector score``)."""

    features: pl.DataFrame
    scores: pl.DataFrame
    flagged: pl.DataFrame


def score_inputs(
    inputs: Inputs,
    model: DetectorModel,
    *,
    rules: Sequence[Rule] = (),
    allowlist: pl.Series | None = None,
    precision: float | None = None,
) -> ScoreResult:
    """Features -> per-category scores -> the flagged list. ``precision`` re-picks every
    category's threshold from the model's stored held-out curves; ``None`` keeps the model's."""
    # scikit-learn loads only when scoring: the features path (and its benchmark) stays light.
    from models.scoring import flag_numbers, score_numbers

    table = feature_table(inputs)
    thresholds = (dict(model.thresholds) if precision is None
                  else {c: model.threshold_for(c, precision) for c in model.thresholds})
    scores, flagged = flag_numbers(score_numbers(model, table), table, thresholds, rules, allowlist)
    return ScoreResult(features=table, scores=scores, flagged=flagged)


def write_score_outputs(out: str | Path, result: ScoreResult, inputs: Inputs, run: dict[str, object]) -> dict[str, Path]:
    """Write flagged.csv, scores.parquet, report.html and rejects.csv into ``out``, each
    atomically, only once everything has been computed; return their paths."""
    from detector.report import render_report, shared_imeis

    out = Path(out)
    paths = {name: out / name for name in ("flagged.csv", "scores.parquet", "report.html", "rejects.csv")}
    registry = inputs.registry.subscribers if inputs.registry is not None else None
    page = render_report(flagged=result.flagged, scores=result.scores, registry=registry,
                         imeis=shared_imeis(inputs.batch.cdrs, result.flagged), run=run)
    write_csv(result.flagged, paths["flagged.csv"])
    write_parquet(result.scores, paths["scores.parquet"])
    write_text(page, paths["report.html"])
    write_csv(inputs.rejects, paths["rejects.csv"])
    return paths
