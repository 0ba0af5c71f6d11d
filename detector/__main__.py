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


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _interrupted() -> NoReturn:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    print("Error: interrupted", file=sys.stderr, flush=True)
    os._exit(130)  # as detector.cli.exit_interrupted, and before the CLI is even imported


if __name__ == "__main__":
    main()
