"""A synthetic carrier with ground truth: daily CDR files, registry, labels, allowlist, personas.

The world follows ``domain.md``: ordinary subscribers with social circles and daily rhythms, every
fraud type (bulk, low-and-slow and one-ring voice spam, bulk and spread SMS spam, SIM-box farms,
pre-activated SIM batches) and the honest look-alikes the engine must leave alone. ``evasion``
moves fraud from textbook to careful; ``noise`` adds the mess of real exports.

Modules: :mod:`.personas` (who exists, labels, evasion tactics), :mod:`.population` (numbers,
registry, handsets, cells), :mod:`.social` (contact graph), :mod:`.behaviours` (events per persona
per day), :mod:`.noise` (export noise), :mod:`.writer` (files), :mod:`.world` (the entry point).
"""

from detector.simulate.world import WorldSummary, generate_world

__all__ = ["WorldSummary", "generate_world"]
