"""distilabel-magpie: Magpie (arXiv 2406.08464) for distilabel."""

__version__ = "0.1.0"

from distilabel_magpie import batch_flow as _batch_flow
from distilabel_magpie import guard as _guard

_guard.install_on_import()  # one-line errors; dead workers and actors, failed batches stop the run
_batch_flow.install_on_import()  # replicas and resumed runs give every row exactly once
