"""One exception type for problems a user can fix (bad path, bad option, missing data).

The command-line entry points catch it and print its message as one line with exit code 2,
so users see what to fix instead of a traceback.
"""


class UserError(Exception):
    """A problem with the user's input or environment; the message names the problem and the fix."""
