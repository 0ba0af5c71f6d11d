"""The input layer: what a carrier hands the engine, read, checked and put in canonical form.

CDR exports (:mod:`~detector.inputs.cdr`) with their mapping files, number forms and dialling
plans, the subscriber registry, labels and allowlists, and the validation report. Nothing here
knows about features, models or outputs.
"""
