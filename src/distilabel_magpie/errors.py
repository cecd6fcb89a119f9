"""One exception type for every user-facing error: its message is one line that says what is
wrong and how to fix it (the CLI prints it without a traceback)."""


class MagpieError(Exception):
    """A problem with the user's input or setup, explained in one line.

    Not a ValueError on purpose: pydantic wraps ValueErrors raised while building a step into
    a multi-line ValidationError, and this message must reach the user as it is."""
