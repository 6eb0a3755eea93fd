"""Methods for connectors. Kafka: from_kafka, from_kafka_batched, to_kafka."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class KafkaMethods(Generic[T]):
    """Kafka: from_kafka, from_kafka_batched, to_kafka."""
