"""One exception type for every user-facing error: its message is one line that says what is
wrong and how to fix it (the CLI prints it without a traceback)."""


class MagpieError(ValueError):
    """A problem with the user's input or setup, explained in one line."""
