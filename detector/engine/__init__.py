"""The engine: runs a job over the inputs, in memory, in partitions spilled to disk, or on Dask.

:mod:`~detector.engine.pipeline` wires inputs -> features -> models -> outputs; the other modules
split a large input by subscriber (:mod:`~detector.engine.partitioned`) and run the partitions
here or on a cluster (:mod:`~detector.engine.distributed`).
"""
