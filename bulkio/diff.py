"""The old path of `bulkio.plan.diff` (the vectorised three-way compare of one column), kept while tests import it
from here; it goes when they import `bulkio.plan.diff`."""

from .plan.diff import *  # noqa: F403
from .plan.diff import __all__  # noqa: F401
