"""Human review in Argilla: a local review server, push steps (SFT, chat, preference) and pulling
reviewed data back.

The steps need the `review` extra (`argilla==2.8.0`) and are imported on first use, so that the
server manager and the CLI work without it.
"""

_STEPS = {
    "PushSFTToArgilla": "distilabel_magpie.review.push",
    "PushChatToArgilla": "distilabel_magpie.review.push",
    "PushPreferencesToArgilla": "distilabel_magpie.review.push",
    "LoadReviewedFromArgilla": "distilabel_magpie.review.pull",
    "ReviewServer": "distilabel_magpie.review.server",
}

__all__ = list(_STEPS)


def __getattr__(name: str):
    if name in _STEPS:
        import importlib

        return getattr(importlib.import_module(_STEPS[name]), name)
    raise AttributeError(name)
