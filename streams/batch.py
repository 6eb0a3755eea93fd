"""``streams.batch``: the name streamz gives :mod:`streams.collection`'s batches."""

from .collection import Batch, Streaming

__all__ = ["Batch", "Streaming"]
