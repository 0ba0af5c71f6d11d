"""The anti-spam engine: inputs -> features -> models -> outputs, run by the engine and the CLI."""

import os

#: How Polars' allocator (jemalloc) keeps the memory it frees: in one arena, for reuse within
#: 15 s, before it goes back to the OS. Polars sets jemalloc to return freed pages within
#: ~0.5 s (to keep a notebook's footprint small), so every partition of a run faulted the same
#: gigabytes in again, zeroed by the kernel: 40 of the 50M-row run's 200 CPU-seconds were
#: system time. With this, 16, and the run went 112 s -> 93 s for ~7% more peak memory.
#: ``oversize_threshold:0``: allocations over 8 MiB (whole columns) come from that same arena and
#: reuse its freed pages. By default they have an arena of their own whose pages go back at
#: once, so every phase's large columns were faulted in beside the pages the last phase left
#: for reuse: 200M rows peaked at 5.9 GiB with the default, 5.6 GiB with this (the stream 5.2 ->
#: 3.6 GiB, the partitions 4.6 -> 4.4 GiB), in the same time.
#: Polars reads ``_RJEM_MALLOC_CONF`` once, when it loads, and appends it to its own
#: settings (later ones win; pola-rs/polars#23128), so it is set here, before anything imports
#: Polars. A value the user set is left alone.
JEMALLOC_CONF = "narenas:1,dirty_decay_ms:15000,muzzy_decay_ms:0,oversize_threshold:0"
#: What Polars itself writes into ``_RJEM_MALLOC_CONF`` when it loads. A Python process that
#: imported Polars and then starts ``detector`` (a scheduler, a test harness) hands these on in
#: the environment; they are not the user's choice. Our benchmark harness did exactly that, and
#: its 50M-row run took 66 s instead of 59.
POLARS_JEMALLOC_SETTINGS = frozenset({"dirty_decay_ms:500", "muzzy_decay_ms:1000", "thp:always", "metadata_thp:always"})
_inherited = [setting for setting in os.environ.get("_RJEM_MALLOC_CONF", "").split(",") if setting]
if all(setting in POLARS_JEMALLOC_SETTINGS for setting in _inherited):
    os.environ["_RJEM_MALLOC_CONF"] = ",".join([*_inherited, JEMALLOC_CONF])

#: How numba's OpenMP threads wait for work: asleep, not spinning. Two partitions run at once,
#: each launching parallel kernels between single-threaded stretches; GNU OpenMP's default keeps a
#: finished team spinning for a while, taking a core the other partition needed (measured on the
#: 50M-row week, two runs each: 64.5 s on average with the default, 62.6 s with this; the
#: partitions' CPU went 61.0 -> 58.6 s). Read once, when numba first loads OpenMP, after this
#: import. A value the user set is left alone.
OMP_WAIT_POLICY = "PASSIVE"
os.environ.setdefault("OMP_WAIT_POLICY", OMP_WAIT_POLICY)
