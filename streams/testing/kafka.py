"""A Kafka-protocol cluster on loopback for tests: librdkafka's built-in mock cluster.

The ``confluent-kafka`` wheel bundles librdkafka, which contains a mock Kafka cluster:
brokers that speak the real Kafka protocol on ``127.0.0.1`` ports, inside this process.
Any Kafka client can connect to them. This module drives it through librdkafka's C API
(with ``ctypes``), so tests control topics, partitions and broker failures. The mock
has no admin API: create topics with :meth:`MockKafkaCluster.create_topic` (or let
producers auto-create them with 4 partitions).
"""

from __future__ import annotations

import ctypes
import glob
import os
from typing import Any

__all__ = ["MockKafkaCluster"]

_lib: Any = None


def _librdkafka() -> Any:
    """The librdkafka shared library that confluent-kafka itself uses."""
    global _lib
    if _lib is not None:
        return _lib
    import confluent_kafka

    site = os.path.dirname(os.path.dirname(confluent_kafka.__file__))
    found = sorted(glob.glob(os.path.join(site, "confluent_kafka.libs", "librdkafka*.so*")))
    lib = ctypes.CDLL(found[0] if found else "librdkafka.so.1")
    vp, cp, i, size = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_size_t
    for name, restype, argtypes in [
        ("rd_kafka_conf_new", vp, []),
        ("rd_kafka_conf_set", i, [vp, cp, cp, cp, size]),
        ("rd_kafka_new", vp, [i, vp, cp, size]),
        ("rd_kafka_destroy", None, [vp]),
        ("rd_kafka_mock_cluster_new", vp, [vp, i]),
        ("rd_kafka_mock_cluster_destroy", None, [vp]),
        ("rd_kafka_mock_cluster_bootstraps", cp, [vp]),
        ("rd_kafka_mock_topic_create", i, [vp, cp, i, i]),
        ("rd_kafka_mock_group_initial_rebalance_delay_ms", i, [vp, ctypes.c_int32]),
        ("rd_kafka_mock_broker_set_down", i, [vp, ctypes.c_int32]),
        ("rd_kafka_mock_broker_set_up", i, [vp, ctypes.c_int32]),
    ]:
        func = getattr(lib, name)
        func.restype = restype
        func.argtypes = argtypes
    _lib = lib
    return lib


class MockKafkaCluster:
    """A mock Kafka cluster with ``brokers`` brokers, listening on loopback.

    Parameters
    ----------
    brokers : int, optional
        How many brokers (their ids are 1 to ``brokers``).

    Attributes
    ----------
    bootstrap_servers : str
        ``host:port,...`` for any client's ``bootstrap.servers``.

    Notes
    -----
    Consumer groups rebalance quickly (the initial rebalance delay is set to 0), but
    when a member leaves, the mock makes a new member wait about
    ``session.timeout.ms - 1000`` ms: use a small ``session.timeout.ms`` (e.g. 1200,
    with ``heartbeat.interval.ms`` 100) in tests that restart consumers of one group.

    Examples
    --------
    >>> from confluent_kafka import Producer
    >>> from streams.testing.kafka import MockKafkaCluster
    >>> with MockKafkaCluster() as cluster:
    ...     cluster.create_topic("events", partitions=2)
    ...     producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    ...     producer.produce("events", b"hello")
    ...     producer.flush(10)
    0
    """

    def __init__(self, brokers: int = 1) -> None:
        lib = _librdkafka()
        errors = ctypes.create_string_buffer(512)
        conf = lib.rd_kafka_conf_new()
        lib.rd_kafka_conf_set(conf, b"log_level", b"0", errors, len(errors))
        self._handle = lib.rd_kafka_new(0, conf, errors, len(errors))  # 0: a producer handle
        if not self._handle:
            raise RuntimeError(f"librdkafka: {errors.value.decode()}")
        self._cluster = lib.rd_kafka_mock_cluster_new(self._handle, brokers)
        if not self._cluster:
            lib.rd_kafka_destroy(self._handle)
            raise RuntimeError("librdkafka could not start a mock cluster")
        self.bootstrap_servers: str = lib.rd_kafka_mock_cluster_bootstraps(self._cluster).decode()
        # Consumer groups start at once instead of after librdkafka's 3 s default delay.
        lib.rd_kafka_mock_group_initial_rebalance_delay_ms(self._cluster, 0)

    def create_topic(self, name: str, partitions: int = 1, replication: int = 1) -> None:
        """Create a topic (the mock has no admin API)."""
        err = _librdkafka().rd_kafka_mock_topic_create(
            self._cluster, name.encode(), partitions, replication
        )
        if err:
            raise RuntimeError(f"cannot create topic {name!r}: librdkafka error {err}")

    def broker_down(self, broker_id: int) -> None:
        """Make a broker unreachable (connections to it fail)."""
        _librdkafka().rd_kafka_mock_broker_set_down(self._cluster, broker_id)

    def broker_up(self, broker_id: int) -> None:
        """Make a broker reachable again."""
        _librdkafka().rd_kafka_mock_broker_set_up(self._cluster, broker_id)

    def close(self) -> None:
        """Shut the cluster down."""
        if self._cluster:
            lib = _librdkafka()
            lib.rd_kafka_mock_cluster_destroy(self._cluster)
            lib.rd_kafka_destroy(self._handle)
            self._cluster = self._handle = None

    def __enter__(self) -> MockKafkaCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self.close()
