"""The names of the data contract (``spec/data-contract.md``) that every layer shares.

Labels are read by the inputs, scored by the models, written and shown by the outputs, and drawn
by the generator: each takes these names from here, at the bottom of the house, so that no layer
has to import another one above it for a name.
"""

#: The four categories, in the order of every score array and score column.
CATEGORIES: tuple[str, ...] = ("voice_spam", "sms_spam", "simbox", "preactivated_sim")
#: Who raised a flagged row: the ``source`` column of the flagged list.
SOURCES: tuple[str, ...] = ("model", "rule", "both")
