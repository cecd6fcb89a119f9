"""The local review server (real argilla-server in its own virtualenv, SQLite, Redis)."""

from distilabel_magpie.review.server.manager import Credentials, ReviewServer, read_credentials

__all__ = ["Credentials", "ReviewServer", "read_credentials"]
