"""distilabel-magpie: Magpie (arXiv 2406.08464) for distilabel."""

__version__ = "0.1.0"
