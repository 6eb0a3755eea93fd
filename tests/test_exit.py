"""How a graph's run ends (streams/shutdown.py): ``drain(timeout=)``, ``shutdown()``,
the drain at interpreter exit, and SIGINT/SIGTERM in scripts.

Exit behaviour is tested in child processes: each test writes a script to ``tmp_path``,
runs it with this interpreter and the ``streams`` package under test, and checks what
its sinks wrote, its standard error and its exit status. A child prints ``ready``
before it is sent a signal: no sleeping in the hope it is ready.
"""

import asyncio
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import until

import streams
from streams import Stream

ROOT = Path(streams.__file__).resolve().parent.parent  # the tree under test


def spawn(tmp_path, code, *args, env=None):
    """Start ``code`` as a script in a child process (the package under test importable)."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(code))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("STREAMS_EXIT")}
    environ.update({"PYTHONPATH": str(ROOT), **(env or {})})
    return subprocess.Popen(
        [sys.executable, str(script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
        cwd=tmp_path,
    )


def run(tmp_path, code, *args, env=None):
    """Run a script to its end: ``(exit status, stdout, stderr)``."""
    child = spawn(tmp_path, code, *args, env=env)
    out, err = child.communicate(timeout=60)
    return child.returncode, out, err


def signalled(tmp_path, code, sig, *args):
    """Run a script until it prints ``ready``, send it ``sig``, wait for its end."""
    child = spawn(tmp_path, code, *args)
    try:
        line = child.stdout.readline()
        assert line == "ready\n", (line, child.stderr.read() if child.poll() is not None else "")
        child.send_signal(sig)
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    return child.returncode, out, err


def lines(path):
    return Path(path).read_text().splitlines()


# ---------------------------------------------------------------------- drain(timeout=)


async def test_drain_with_a_timeout_names_the_nodes_still_holding_work():
    loop = asyncio.get_running_loop()
    release = asyncio.Event()
    out = []

    async def stuck(x):
        await release.wait()
        out.append(x)

    source = Stream()
    source.buffer(10, stream_name="queue").sink(stuck)
    for i in range(3):
        await source.emit(i)
    with pytest.raises(TimeoutError) as caught:
        await source.drain(timeout=2)
    assert loop.time() == 2.0
    message = str(caught.value)
    assert "drain() did not finish within 2s" in message
    assert "queue: 2 held, 1 being delivered" in message
    assert [(n.name, h, d) for n, h, d in caught.value.holding] == [("queue", 2, 1)]
    release.set()  # the work went on: it still delivers everything
    await source.drain(timeout=2)
    assert out == [0, 1, 2]


async def test_drain_with_a_timeout_that_suffices_is_an_ordinary_drain():
    source = Stream()
    batches = source.timed_window(60).sink_to_list()
    await source.emit(1)
    await source.drain(timeout=1)
    assert batches == [[1]] and asyncio.get_running_loop().time() == 0.0


# ---------------------------------------------------------------------- shutdown()


async def test_shutdown_stops_an_endless_source_and_delivers_what_it_accepted():
    ticks = itertools.count()
    source = Stream.from_periodic(lambda: next(ticks), poll_interval=0.25)
    batches = source.timed_window(60).sink_to_list()
    source.start()
    await asyncio.sleep(1.1)
    await source.shutdown(timeout=5)
    assert source.stopped and source.done
    assert batches == [[0, 1, 2, 3, 4]]  # all it read, at once: no waiting for the window
    assert asyncio.get_running_loop().time() == 1.1
    assert next(ticks) == 5  # and nothing read after


async def test_shutdown_reports_what_it_could_not_deliver_within_its_timeout():
    loop = asyncio.get_running_loop()

    async def stuck(x):
        await asyncio.Event().wait()

    ticks = itertools.count()
    source = Stream.from_periodic(lambda: next(ticks), poll_interval=1)
    source.buffer(10, stream_name="queue").sink(stuck)
    source.start()
    await asyncio.sleep(2.5)  # elements 0, 1, 2: one in the sink, two queued
    with pytest.raises(TimeoutError, match=r"queue: 2 held, 1 being delivered") as caught:
        await source.shutdown(timeout=3)
    assert "shutdown() did not deliver everything within 3s" in str(caught.value)
    assert loop.time() == 5.5 and source.done


def test_shutdown_in_a_plain_script_blocks_until_done():
    ticks = itertools.count()
    source = Stream.from_periodic(lambda: next(ticks), poll_interval=0.001)
    batches = source.timed_window(60).sink_to_list()
    source.start()
    source.shutdown(timeout=10)
    assert source.done
    assert [x for b in batches for x in b] == list(range(next(ticks)))  # all it read


def test_shutdown_of_a_graph_without_a_loop_reports_elements_only_more_input_completes(caplog):
    source = Stream()
    source.collect(stream_name="held")
    source.emit(1)
    source.shutdown()
    assert "shutdown(): not delivered: held: 1 held" in caplog.text


def test_shutdown_of_a_graph_whose_loop_is_gone_closes_and_reports(caplog):
    async def build():
        source = Stream()
        source.timed_window(60, stream_name="window").sink_to_list()
        await source.emit(1)
        return source

    source = asyncio.run(build())  # that loop is closed now
    source.shutdown(timeout=1)
    assert "shutdown(): not delivered: window: 1 held" in caplog.text


@pytest.mark.real_time
async def test_kafka_shutdown_commits_what_the_drain_delivered(kafka_cluster):
    from confluent_kafka import Consumer, Producer, TopicPartition

    kafka_cluster.create_topic("events", partitions=1)
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap_servers})
    for i in range(5):
        producer.produce("events", str(i).encode())
    assert producer.flush(10) == 0
    params = {
        "bootstrap.servers": kafka_cluster.bootstrap_servers,
        "group.id": "shutdown",
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
    }
    source = Stream.from_kafka(["events"], params, decode="utf-8")
    seen = source.sink_to_list()
    batches = source.timed_window(60).sink_to_list()  # holds them: nothing acknowledged
    source.start()
    await until(lambda: len(seen) == 5)
    await source.shutdown(timeout=10)
    assert batches == [["0", "1", "2", "3", "4"]] and source.done
    reader = Consumer(
        {"bootstrap.servers": kafka_cluster.bootstrap_servers, "group.id": "shutdown"}
    )
    try:
        [tp] = await asyncio.to_thread(reader.committed, [TopicPartition("events", 0)], 10)
    finally:
        reader.close()
    assert tp.offset == 5


# ---------------------------------------------------------------------- at exit

WINDOW = """
import sys
from streams import Stream
out = open(sys.argv[1], "w")
source = Stream()
source.timed_window(60, stream_name="window").sink(lambda w: print(w, file=out, flush=True))
for i in range(5):
    source.emit(i)
"""

BUFFER = """
import asyncio, sys
from streams import Stream
out = open(sys.argv[1], "w")
async def slow(x):
    await asyncio.sleep(0.01)
    print(x, file=out, flush=True)
source = Stream()
source.buffer(100).sink(slow)
for i in range(20):
    source.emit(i)
"""

SQL = """
import sys
from streams import Stream
source = Stream()
source.to_sql("rows", f"sqlite:///{sys.argv[2]}", create=True, flush_interval=None)
for i in range(7):
    source.emit({"i": i})
"""


def sql_rows(tmp_path):
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        return [str(i) for (i,) in db.execute("select i from rows order by i")]


@pytest.mark.parametrize(
    ("code", "delivered"),
    [
        (WINDOW, lambda out, tmp: lines(out) == ["[0, 1, 2, 3, 4]"]),
        (BUFFER, lambda out, tmp: lines(out) == [str(i) for i in range(20)]),
        (SQL, lambda out, tmp: sql_rows(tmp) == [str(i) for i in range(7)]),
    ],
    ids=["timed_window", "buffer-before-a-slow-sink", "batched-to_sql"],
)
def test_a_script_that_ends_with_held_elements_delivers_them(tmp_path, code, delivered):
    out = tmp_path / "out.txt"
    status, _, err = run(tmp_path, code, out, tmp_path / "db.sqlite")
    assert (status, err) == (0, "")
    assert delivered(out, tmp_path)


@pytest.mark.parametrize(
    ("env", "prefix"),
    [({"STREAMS_EXIT_DRAIN": "0"}, ""), ({}, "import streams; streams.exit_drain(False)\n")],
    ids=["environment", "exit_drain(False)"],
)
def test_without_the_exit_drain_held_elements_are_lost_and_reported(tmp_path, env, prefix):
    out = tmp_path / "out.txt"
    status, _, err = run(tmp_path, prefix + textwrap.dedent(WINDOW), out, env=env)
    assert status == 0 and lines(out) == []
    assert err == (
        "streams: at exit, accepted data was not delivered (the exit drain is off: "
        "streams.exit_drain(False) or STREAMS_EXIT_DRAIN=0):\n"
        "  window: 5 held\n"
    )


def test_elements_that_fail_at_exit_are_reported_per_node(tmp_path):
    code = """
    from streams import Stream
    def store(x):
        raise OSError("disk full")
    source = Stream()
    source.buffer(10).sink(store, stream_name="db")
    for i in range(3):
        source.emit(i)
    """
    status, _, err = run(tmp_path, code)
    assert status == 0  # an exit hook cannot change it: see the guide
    assert err.count("\nOSError: disk full") == 3  # each was logged when it failed...
    assert err.endswith("  db: 3 failed\n")  # ...and counted at exit


def test_elements_a_stuck_sink_holds_past_the_exit_timeout_are_reported(tmp_path):
    code = """
    import asyncio
    from streams import Stream
    async def stuck(x):
        await asyncio.Event().wait()
    source = Stream()
    source.buffer(10, stream_name="queue").sink(stuck)
    for i in range(4):
        source.emit(i)
    """
    status, _, err = run(tmp_path, code, env={"STREAMS_EXIT_TIMEOUT": "0.2"})
    assert status == 0
    assert err == (
        "streams: at exit, accepted data was not delivered (the exit drain did not finish "
        "within 0.2s: raise the limit with streams.exit_drain(timeout=...) or "
        "STREAMS_EXIT_TIMEOUT):\n"
        "  queue: 3 held, 1 being delivered\n"
    )


def test_elements_waiting_for_more_input_are_reported_not_invented(tmp_path):
    code = """
    from streams import Stream
    source = Stream()
    source.collect(stream_name="held")
    source.zip(Stream(), stream_name="pairs")
    source.partition(3, stream_name="triples")
    for i in range(2):
        source.emit(i)
    """
    status, _, err = run(tmp_path, code)
    assert status == 0
    assert err.startswith("streams: at exit, accepted data was not delivered (they wait for")
    assert sorted(err.splitlines()[1:]) == [
        "  held: 2 held",
        "  pairs: 2 held",
        "  triples: 2 held",
    ]


def test_the_exit_drain_waits_for_the_scripts_other_threads(tmp_path):
    code = """
    import sys, threading
    from streams import Stream
    out = open(sys.argv[1], "w")
    source = Stream()
    source.timed_window(60).sink(lambda w: print(len(w), file=out, flush=True))
    def produce():
        for i in range(100):
            source.emit(i)
    threading.Thread(target=produce).start()  # still emitting after the script's end
    """
    out = tmp_path / "out.txt"
    status, _, err = run(tmp_path, code, out)
    assert (status, err) == (0, "")
    assert sum(int(n) for n in lines(out)) == 100


# ---------------------------------------------------------------------- signals

PERIODIC = """
import itertools, sys
from streams import Stream
out = open(sys.argv[1], "w")
ticks = itertools.count()
source = Stream.from_periodic(lambda: next(ticks), poll_interval=0.01)
def ready(x):
    if x == 3:
        print("ready", flush=True)
source.sink(ready)
source.timed_window(60).sink(lambda w: print(*w, file=out, flush=True))
source.start()
source.wait()
"""

SIGNALS = pytest.mark.parametrize(
    ("sig", "statuses"),
    [(signal.SIGTERM, {143}), (signal.SIGINT, {-signal.SIGINT, 130})],
    ids=["SIGTERM", "SIGINT"],
)


@SIGNALS
def test_a_signal_stops_the_source_and_delivers_what_it_read(tmp_path, sig, statuses):
    out = tmp_path / "out.txt"
    status, _, err = signalled(tmp_path, PERIODIC, sig, out)
    assert status in statuses, err
    read = [int(x) for line in lines(out) for x in line.split()]
    assert len(read) > 3 and read == list(range(len(read)))  # everything read, once
    assert "Traceback" not in err or sig == signal.SIGINT  # (KeyboardInterrupt's)
    assert "streams:" not in err


KAFKA = """
import atexit, json, sys
from streams import Stream
servers, path = sys.argv[1], sys.argv[2]
out = open(path, "w")
params = {"bootstrap.servers": servers, "group.id": "exit", "auto.offset.reset": "earliest",
          "session.timeout.ms": 6000, "heartbeat.interval.ms": 500}
source = Stream.from_kafka(["events"], params, decode="utf-8")
seen = []
def ready(x):
    seen.append(x)
    if len(seen) == 20:
        print("ready", flush=True)
source.sink(ready)
source.timed_window(60).sink(lambda w: print(json.dumps(w), file=out, flush=True))
atexit.register(lambda: print("done" if source.done else "still running", flush=True))
source.start()
source.wait()
"""


@SIGNALS
def test_a_signal_to_a_kafka_script_commits_what_was_delivered_and_closes(
    tmp_path, kafka_cluster, sig, statuses
):
    from confluent_kafka import Consumer, Producer, TopicPartition

    kafka_cluster.create_topic("events", partitions=1)
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap_servers})
    for i in range(20):
        producer.produce("events", str(i).encode())
    assert producer.flush(10) == 0
    out = tmp_path / "out.txt"
    status, stdout, err = signalled(tmp_path, KAFKA, sig, kafka_cluster.bootstrap_servers, out)
    assert status in statuses, err
    assert "can't register atexit" not in err and "cannot schedule" not in err
    assert stdout == "done\n"  # the run ended: final commit made, consumer closed
    assert [x for line in lines(out) for x in json.loads(line)] == [str(i) for i in range(20)]
    reader = Consumer({"bootstrap.servers": kafka_cluster.bootstrap_servers, "group.id": "exit"})
    try:
        [tp] = reader.committed([TopicPartition("events", 0)], timeout=10)
    finally:
        reader.close()
    assert tp.offset == 20  # the window's elements were delivered, then committed


def test_a_handler_the_user_installed_is_left_alone(tmp_path):
    code = """
    import signal, sys
    from streams import Stream
    def mine(signum, frame):
        print("mine", flush=True)
        sys.exit(7)
    signal.signal(signal.SIGTERM, mine)
    source = Stream.from_periodic(lambda: 1, poll_interval=0.01)
    source.sink(lambda x: None)
    source.start()
    print("ready", flush=True)
    source.wait()
    """
    status, out, _ = signalled(tmp_path, code, signal.SIGTERM)
    assert (status, out) == (7, "mine\n")


def test_handlers_are_installed_only_when_a_script_starts_a_source(tmp_path):
    code = """
    import asyncio, signal, threading
    import streams
    from streams import Stream
    default = lambda: signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert default()  # not on import
    async def main():
        Stream.from_iterable([1]).start()  # the loop's owner handles signals
    asyncio.run(main())
    assert default()
    thread = threading.Thread(target=lambda: Stream.from_iterable([1]).start())
    thread.start(); thread.join()  # not from another thread either
    assert default()
    Stream.from_iterable([1]).start()
    assert not default()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    print("ok")
    """
    status, out, err = run(tmp_path, code)
    assert (status, out, err) == (0, "ok\n", "")


def test_a_second_ctrl_c_ends_the_exit_drain_and_reports(tmp_path):
    code = """
    import asyncio
    from streams import Stream
    async def stuck(w):
        print("ready", flush=True)  # called by the exit drain
        await asyncio.Event().wait()
    source = Stream()
    source.timed_window(60, stream_name="window").sink(stuck)
    source.emit(1)
    """
    _, _, err = signalled(tmp_path, code, signal.SIGINT)
    assert err == (
        "streams: at exit, accepted data was not delivered (the exit drain was "
        "interrupted):\n  window: 1 being delivered\n"
    )
