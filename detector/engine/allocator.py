"""The C allocator's settings for a run held in memory.

A run in memory allocates and frees arrays of a column's length (tens of MB) by the hundred.
glibc's malloc serves every block above 32 MB with its own ``mmap`` and unmaps it when freed, so
the next one faults every page in again, zeroed by the kernel: on a week of 100k subscribers
~750k page faults, a third of the process's CPU. Served from the heap, and the heap kept when
freed, the pages are faulted once and reused. The peak is the same (freed memory is reused, not
added to); it is simply not given back before the process ends, which a run that ends when its
outputs are written does not need. The out-of-core engine keeps glibc's defaults: its bound
on memory is measured with them.
"""

from __future__ import annotations

import ctypes
import sys

#: ``mallopt`` parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
#: Freed heap above this stays with the process (the largest value ``mallopt`` takes, an int).
_KEEP_BYTES = 2**31 - 1


def keep_freed_memory() -> bool:
    """Tell glibc's malloc to serve large blocks from the heap and keep freed memory; whether it
    took the settings (False elsewhere than glibc, where nothing changes)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_MAX, 0)) and bool(mallopt(_M_TRIM_THRESHOLD, _KEEP_BYTES))
