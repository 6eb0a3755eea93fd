"""Tools for testing stream graphs, for users as much as for us.

- :class:`VirtualTimeLoop` and :func:`run_virtual`: an asyncio loop whose clock jumps to
  the next timer when idle, so time-based graphs run instantly and exactly.
- :func:`record`, :func:`feed`, :func:`timeline`: feed ``(time, element)`` input and
  record ``(time, element)`` output.
- :mod:`streams.testing.pytest_plugin`: runs ``async def`` tests on the virtual clock
  (enable it with ``pytest_plugins = ["streams.testing.pytest_plugin"]``).
- :func:`check_source`, :func:`check_sink`: the properties every connector must have.
- :class:`~streams.testing.kafka.MockKafkaCluster`: a real Kafka-protocol broker on
  loopback, for testing Kafka pipelines without Kafka (needs ``confluent-kafka``).
"""

from .clock import VirtualTimeLoop, run_virtual
from .conformance import check_sink, check_source
from .timeline import feed, record, timeline

__all__ = [
    "VirtualTimeLoop",
    "check_sink",
    "check_source",
    "feed",
    "record",
    "run_virtual",
    "timeline",
]
