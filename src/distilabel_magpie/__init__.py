"""distilabel-magpie: Magpie (arXiv 2406.08464) for distilabel.

Importing the package changes nothing in distilabel: the run-time mends in `runtime/` are
installed when a pipeline that holds one of our steps is built or loaded (see
`distilabel_magpie.runtime`).
"""

__version__ = "0.1.0"
