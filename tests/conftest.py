"""Shared test helpers."""

import os
import shutil

import pytest
import services

pytest_plugins = ["streams.testing.pytest_plugin"]


def require_program(name: str) -> str:
    """Path of a system program a test needs; in CI its absence fails, elsewhere skips."""
    path = shutil.which(name)
    if path is None:
        message = f"{name!r} is not installed (scripts/test.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A real redis-server for this test session."""
    service = services.start_redis(tmp_path_factory.mktemp("redis"))
    yield service.url
    service.stop()


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory):
    """A real mosquitto broker for this test session: ``(host, port)``."""
    service = services.start_mosquitto(tmp_path_factory.mktemp("mosquitto"))
    yield ("127.0.0.1", service.port)
    service.stop()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A real PostgreSQL server for this test session (an SQLAlchemy URL)."""
    service = services.start_postgres(tmp_path_factory.mktemp("postgres"))
    yield service.url
    service.stop()


@pytest.fixture
def kafka_cluster():
    """A Kafka-protocol mock cluster on loopback, for one test."""
    from streams.testing.kafka import MockKafkaCluster

    with MockKafkaCluster() as cluster:
        yield cluster


@pytest.fixture(params=["memory", "sqlite"])
def open_store(request, tmp_path):
    """Opens the test's store: the same MemoryStore each time, or the SQLite file again
    (as a new process would)."""
    from streams.state import MemoryStore, SQLiteStore

    memory = MemoryStore()
    opened = []

    def open_it():
        if request.param == "memory":
            return memory
        store = SQLiteStore(tmp_path / "state.db")
        opened.append(store)
        return store

    yield open_it
    for store in opened:
        store.close()
