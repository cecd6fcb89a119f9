"""The exceptions users see, and how any exception becomes the one line the CLI prints."""


class MagpieError(Exception):
    """A problem with the user's input or setup, explained in one line that says what is wrong
    and how to fix it (the CLI prints it without a traceback).

    Not a ValueError on purpose: pydantic wraps ValueErrors raised while building a step into
    a multi-line ValidationError, and this message must reach the user as it is."""


class ArgillaUnavailable(MagpieError):
    """The Argilla server did not answer (connection error, timeout, 5xx): worth trying again later."""


class ChatTemplateError(MagpieError):
    """A chat template could not be rendered for the given messages."""


class PipelineFailed(MagpieError):
    """A pipeline run that did not do what it was asked; the message is one line."""


def one_line(error: BaseException) -> str:
    """An exception as one line: our own messages as they are, others with their type."""
    text = next((line.strip() for line in str(error).splitlines() if line.strip()), "")
    if isinstance(error, MagpieError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
