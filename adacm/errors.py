"""One exception type for problems a user can fix (bad path, bad option, missing data).

The command-line entry points catch it and print its message as one line with exit code 2,
so users see what to fix instead of a traceback.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable


class UserError(Exception):
    """A problem with the user's input or environment; the message names the problem and the fix."""


def run_cli(func: Callable[[], None]) -> None:
    """Run an entry point, turning UserError into one line and exit code 2; a reader that stops
    early (``| head``) ends it quietly, as it would any Unix filter."""
    try:
        func()
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        sys.exit(141)  # the shell's code for a writer stopped by SIGPIPE
