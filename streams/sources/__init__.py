"""Sources: nodes that produce elements on their own once started."""

from .base import Source
from .iterable import FromIterable
from .periodic import FromPeriodic

__all__ = ["FromIterable", "FromPeriodic", "Source"]
