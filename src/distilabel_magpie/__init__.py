"""distilabel-magpie: Magpie (arXiv 2406.08464) for distilabel."""

__version__ = "0.1.0"

from distilabel_magpie import guard as _guard

_guard.install_on_import()  # one-line errors and dead-worker handling for distilabel runs
