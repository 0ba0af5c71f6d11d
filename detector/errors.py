"""Errors a user can cause, as opposed to bugs, and how they are told in one line.

The CLI turns an :class:`InputError` into one line on stderr and exit code 2; anything else is a
run-time failure (exit 1). Every layer raises these, so they sit at the bottom of the house.
"""

import os
import re


class InputError(Exception):
    """Bad input or bad usage: a missing file, an unreadable CDR, a missing column, a bad mapping."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, for one-line errors."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


#: What the OS says when a write finds no room: the device is full, the user's quota is spent, or
#: the process's file-size limit is reached. Rust libraries (deltalake, Polars) pass it on as text.
_NO_ROOM_ERRNOS = (28, 122, 27)  # ENOSPC, EDQUOT, EFBIG
_NO_ROOM_TEXT = re.compile(r"\(os error (28|122|27)\)|No space left on device|Disk quota exceeded|File too large")


def no_room(exc: BaseException) -> str | None:
    """The OS's words if ``exc`` (or what caused it) is a write that found no room, else ``None``."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if isinstance(link, OSError) and link.errno in _NO_ROOM_ERRNOS:
            return link.strerror or str(link)
        found = _NO_ROOM_TEXT.search(str(link))
        if found:
            return os.strerror(int(found.group(1))) if found.group(1) else found.group(0)
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return None
