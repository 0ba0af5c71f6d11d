"""How a run writes the tables it spills to disk, Arrow IPC files, and reads them back.

Uncompressed by default: a spill is written once and read once, on the machine's own disk and
mostly from its page cache, and LZ4 was the largest single item of the spill's CPU (50M rows:
~4.5 of its ~42 CPU-seconds, 2.3 s of wall time; 2.2 GiB on disk against 3.9 GB). LZ4 is there
for a small or shared spill disk (``--spill-compression lz4``).

pyarrow's writer, not Polars': LZ4 files in ~40% less CPU (Polars' LZ4 frames also carry an
XXH32 checksum of the content, hashed again when read).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.ipc as pa_ipc

#: On the calling thread: runs write several files side by side. LZ4 in the frame format, as the
#: IPC format prescribes.
_IPC_OPTIONS = {
    "none": pa_ipc.IpcWriteOptions(compression=None, use_threads=False),
    "lz4": pa_ipc.IpcWriteOptions(compression="lz4", use_threads=False),
}
#: The compressions a spill can be written with.
COMPRESSIONS = tuple(_IPC_OPTIONS)


def write_ipc(frame: pl.DataFrame, path: Path, compression: str = "none") -> None:
    """Write ``frame`` to ``path`` (its folder must exist) with one of :data:`COMPRESSIONS`.
    A full disk raises ``OSError``."""
    table = frame.to_arrow()
    with pa_ipc.new_file(path, table.schema, options=_IPC_OPTIONS[compression]) as writer:
        writer.write_table(table)


def read_ipc(paths: Sequence[Path]) -> pl.DataFrame:
    """The rows of the IPC files ``paths`` (at least one, all of one schema), in their order, as
    one frame of one chunk. Each file is memory-mapped, so an uncompressed one is copied once, into
    the frame: ``polars.read_ipc`` of a partition's ~50 files copies them into one chunk each, and
    the sorts that follow want them in one (a partition's 2M rows: 54 CPU-ms against 101)."""
    frames = [pl.from_arrow(pa_ipc.open_file(pa.memory_map(str(path))).read_all()) for path in paths]
    return pl.concat(frames, rechunk=True)  # type: ignore[arg-type]
