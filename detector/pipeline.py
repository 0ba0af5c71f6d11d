"""The engine's stages wired together: read inputs -> features (-> model -> outputs).

The CLI calls these; so do benchmarks and tests, so that every path runs the same code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from detector.ingest import CdrBatch, FileReport, read_cdrs
from detector.mapping import Mapping
from detector.numbers import DEFAULT_COUNTRY_CODE
from detector.registry import Registry, read_registry
from features.build import build_features


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
