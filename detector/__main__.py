"""``python -m detector`` and the ``detector`` console script: the CLI (:mod:`detector.cli`),
with Ctrl-C and SIGTERM covered from the first instant. Importing the CLI's libraries takes
about a second, and an interrupt then would otherwise end in a traceback."""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn


def main() -> None:
    """Console-script entry point."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        from detector.cli import main as cli_main
    except KeyboardInterrupt:
        _interrupted()
    try:
        cli_main()
    except KeyboardInterrupt:  # one that got past the CLI's own handling
        _interrupted()
    except SystemExit as done:  # how Click ends every command
        _leave(done.code)
    _leave(0)


def _leave(code: object) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, without tearing the interpreter down: the
    command has written and closed its outputs and removed its temporary files, and unloading
    the modules, numba's compiled code and the freed arrays' heap took about half a second of
    every run."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: nothing more to say to it
        pass
    os._exit(status)


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _interrupted() -> NoReturn:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("Error: interrupted", file=sys.stderr, flush=True)
    os._exit(130)  # as detector.cli.exit_interrupted, and before the CLI is even imported


if __name__ == "__main__":
    main()
