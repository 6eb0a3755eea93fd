"""Fresh event stores on every backend: memory, a real redis-server, SQLite, PostgreSQL."""

import uuid

import pytest

from streams.eventstore import MemoryBackend, RedisBackend, SQLBackend

BACKENDS = ["memory", "redis", "sqlite", "postgres"]


@pytest.fixture(params=BACKENDS)
def make_store(request, tmp_path):
    """``make_store(keys)``: a new, empty store of the parametrized backend."""
    made = []

    def make(keys=None):
        name = f"t{uuid.uuid4().hex[:12]}"
        if request.param == "memory":
            store = MemoryBackend(keys)
        elif request.param == "redis":
            url = request.getfixturevalue("redis_url")
            store = RedisBackend(keys, url=url, prefix=f"{name}:")
        elif request.param == "sqlite":
            store = SQLBackend(f"sqlite:///{tmp_path / name}.db", keys)
        else:
            store = SQLBackend(request.getfixturevalue("postgres_url"), keys, table_name=name)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()
