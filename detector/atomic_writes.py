"""Writing files atomically: a failed run never leaves a half-written file behind.

Each writer writes to a temporary file in the destination's directory (so the final rename stays
on one file system) and renames it over the destination only once the write has succeeded. The
outputs, the model files and the state all write this way, so it sits at the bottom of the house.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import polars as pl


@contextlib.contextmanager
def atomic_path(dest: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it to ``dest`` if the block succeeds.

    On any exception the temporary file is removed and ``dest`` is left as it was.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    # mkstemp makes the file private (0600); outputs get the usual permissions of a new file.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        yield tmp
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_csv(df: pl.DataFrame, dest: str | Path) -> None:
    """Write ``df`` as CSV to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        df.write_csv(tmp)


def write_parquet(df: pl.DataFrame, dest: str | Path) -> None:
    """Write ``df`` as Parquet to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        df.write_parquet(tmp)


def write_text(text: str, dest: str | Path) -> None:
    """Write ``text`` (UTF-8) to ``dest`` atomically."""
    with atomic_path(dest) as tmp:
        tmp.write_text(text, encoding="utf-8")
