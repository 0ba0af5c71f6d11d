"""Errors a user can cause, as opposed to bugs.

The CLI turns an :class:`InputError` into one line on stderr and exit code 2; anything else is a
run-time failure (exit 1).
"""


class InputError(Exception):
    """Bad input or bad usage: a missing file, an unreadable CDR, a missing column, a bad mapping."""
