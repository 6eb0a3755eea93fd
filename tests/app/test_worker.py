"""The worker command line and recovery: ``python -m streams worker -A clicks_app:app``
in a child process on the mock cluster, stopped with SIGTERM or killed with SIGKILL
and restarted; the table (and, with exactly_once, the output topic) must come out as
an uninterrupted run makes them."""

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer

HERE = Path(__file__).parent
PAGES = [f"/p/{i}" for i in range(7)]


def clicks(n):
    """``n`` clicks, and the counts per page they make."""
    values = [{"user": f"u{i % 13}", "page": PAGES[(i * 5) % len(PAGES)]} for i in range(n)]
    return values, dict(collections.Counter(v["page"] for v in values))


def produce(cluster, values):
    producer = Producer({"bootstrap.servers": cluster.bootstrap_servers})
    for value in values:
        producer.produce("clicks", json.dumps(value).encode())
    assert producer.flush(10) == 0


class Worker:
    """``python -m streams <args>`` in a child process; its stdout lines in a queue."""

    def __init__(self, cluster, tmp_path, *args, **env):
        settings = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            "CLICKS_BROKER": cluster.bootstrap_servers,
            **{k: str(v) for k, v in env.items()},
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams", "-A", "clicks_app:app", *args],
            cwd=tmp_path,
            env=settings,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.errors: list[str] = []  # stderr, read as it comes (a full pipe would block)
        self.readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=lambda: self.errors.extend(self.process.stderr), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    @property
    def stderr(self):
        for reader in self.readers:
            reader.join(10 if self.process.poll() is not None else 0)
        return "".join(self.errors)

    def line(self, timeout=60):
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            self.process.kill()
            raise AssertionError(f"no output; stderr: {self.stderr}") from None

    def wait(self, timeout=60):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def stop(self):
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        for reader in self.readers:
            reader.join(10)
        self.process.stdout.close()
        self.process.stderr.close()


@pytest.fixture
def workers():
    started = []
    yield lambda *a, **kw: started.append(Worker(*a, **kw)) or started[-1]
    for worker in started:
        worker.stop()


def test_a_worker_stops_on_sigterm_and_its_table_survives(kafka_cluster, tmp_path, workers):
    kafka_cluster.create_topic("clicks", partitions=2)
    values, expected = clicks(120)
    produce(kafka_cluster, values[:60])
    store = f"sqlite://{tmp_path}/store.db"
    first = workers(
        kafka_cluster, tmp_path, "worker", "-l", "info", CLICKS_STORE=store, CLICKS_TOTAL=61
    )
    sent = workers(kafka_cluster, tmp_path, "send", "clicks", json.dumps(values[60]))
    assert sent.wait() == 0, sent.stderr
    assert json.loads(sent.line())[0]["topic"] == "clicks"
    assert sum(json.loads(first.line()).values()) == 61  # it counted all 61
    first.process.send_signal(signal.SIGTERM)
    assert first.wait() == 0
    assert "worker stopped" in first.stderr
    produce(kafka_cluster, values[61:])
    again = workers(kafka_cluster, tmp_path, "worker", CLICKS_STORE=store, CLICKS_TOTAL=120)
    assert json.loads(again.line()) == expected


@pytest.mark.parametrize("kill_at", [37, 90])
def test_a_worker_killed_with_sigkill_ends_with_the_same_table(
    kafka_cluster, tmp_path, workers, kill_at
):
    kafka_cluster.create_topic("clicks", partitions=2)
    values, expected = clicks(150)
    produce(kafka_cluster, values)
    store = f"sqlite://{tmp_path}/store.db"
    env = {"CLICKS_STORE": store, "CLICKS_TOTAL": 150}
    killed = workers(kafka_cluster, tmp_path, "worker", CLICKS_KILL_AT=kill_at, **env)
    assert killed.wait() == -signal.SIGKILL
    again = workers(kafka_cluster, tmp_path, "worker", **env)
    assert json.loads(again.line()) == expected


def test_exactly_once_output_survives_sigkill(kafka_cluster, tmp_path, workers):
    kafka_cluster.create_topic("clicks", partitions=2)
    kafka_cluster.create_topic("page-counts", partitions=1)
    values, expected = clicks(100)
    produce(kafka_cluster, values)
    env = {
        "CLICKS_STORE": f"sqlite://{tmp_path}/store.db",
        "CLICKS_TOTAL": 100,
        "CLICKS_GUARANTEE": "exactly_once",
    }
    killed = workers(kafka_cluster, tmp_path, "worker", CLICKS_KILL_AT=61, **env)
    assert killed.wait() == -signal.SIGKILL
    again = workers(kafka_cluster, tmp_path, "worker", **env)
    assert json.loads(again.line()) == expected
    again.process.send_signal(signal.SIGTERM)
    assert again.wait() == 0
    outputs = read_committed(kafka_cluster, "page-counts", 100)
    # every page's running count exactly once: 1, 2, ... its total
    per_page = collections.defaultdict(list)
    for text in outputs:
        page, n = text.rsplit(":", 1)
        per_page[page].append(int(n))
    assert {p: sorted(ns) for p, ns in per_page.items()} == {
        p: list(range(1, n + 1)) for p, n in expected.items()
    }


def read_committed(cluster, topic, count):
    consumer = Consumer(
        {
            "bootstrap.servers": cluster.bootstrap_servers,
            "group.id": f"reader-{topic}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
        }
    )
    consumer.subscribe([topic])
    values = []
    try:
        while True:
            msg = consumer.poll(10)
            assert msg is not None, f"only {len(values)} of {count} messages"
            if msg.error():
                if msg.error().code() == -191 and len(values) >= count:  # end of partition
                    return [json.loads(v) for v in values]
                continue
            values.append(msg.value())
    finally:
        consumer.close()


def test_a_second_signal_stops_a_stuck_worker_at_once(kafka_cluster, tmp_path, workers):
    kafka_cluster.create_topic("clicks", partitions=2)
    values, expected = clicks(80)
    produce(kafka_cluster, values)
    env = {"CLICKS_STORE": f"sqlite://{tmp_path}/store.db", "CLICKS_TOTAL": 80}
    stuck = workers(kafka_cluster, tmp_path, "worker", "-l", "info", CLICKS_HANG_AT=50, **env)
    assert stuck.line() == "hanging"
    stuck.process.send_signal(signal.SIGTERM)  # waits for the stuck agent...
    with pytest.raises(subprocess.TimeoutExpired):
        stuck.process.wait(1)
    stuck.process.send_signal(signal.SIGTERM)  # ...until a second signal
    assert stuck.wait() == 1
    assert "stopped at once by a second signal" in stuck.stderr
    again = workers(kafka_cluster, tmp_path, "worker", **env)
    assert json.loads(again.line()) == expected


def test_app_main_gives_a_module_the_command_line(tmp_path):
    env = {**os.environ, "CLICKS_BROKER": "127.0.0.1:1"}
    script = str(HERE / "clicks_app.py")
    agents = subprocess.run(
        [sys.executable, script, "agents"], env=env, capture_output=True, text=True, timeout=60
    )
    assert agents.returncode == 0, agents.stderr
    assert agents.stdout.splitlines() == ["@__main__.count\tclicks"]
    tables = subprocess.run(
        [sys.executable, script, "tables"], env=env, capture_output=True, text=True, timeout=60
    )
    assert tables.stdout.splitlines() == ["counts"]
    bad = subprocess.run(
        [sys.executable, script, "worker", "-l", "loud"], env=env, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "unknown log level 'loud'" in bad.stderr
