"""Errors a user can cause, as opposed to bugs, and how they are told in one line.

The CLI turns an :class:`InputError` into one line on stderr and exit code 2; anything else is a
run-time failure (exit 1). Every layer raises these, so they sit at the bottom of the house.
"""


class InputError(Exception):
    """Bad input or bad usage: a missing file, an unreadable CDR, a missing column, a bad mapping."""


def one_line(exc: BaseException) -> str:
    """The first line of an exception's message, for one-line errors."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
