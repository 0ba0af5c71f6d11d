"""One-line errors: a write that found no room is told as such, however the library wrapped it."""

from __future__ import annotations

import errno

import pytest

from detector.errors import no_room


@pytest.mark.parametrize(("exc", "words"), [
    (OSError(errno.ENOSPC, "No space left on device"), "No space left on device"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "Disk quota exceeded"),
    (Exception("Generic LocalFileSystem error: Unable to copy data to file: File too large (os error 27)"),
     "File too large"),
    (Exception("External: Generic error: (os error 28)"), "No space left on device"),
])
def test_a_write_without_room_is_recognised(exc, words):
    assert no_room(exc) == words


def test_the_cause_is_looked_at_and_other_errors_are_not_taken_for_a_full_disk():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as inner:
            raise RuntimeError("commit failed") from inner
    except RuntimeError as outer:
        assert no_room(outer) == "No space left on device"
    assert no_room(OSError(errno.ENOENT, "No such file or directory")) is None
    assert no_room(ValueError("os error 2")) is None
