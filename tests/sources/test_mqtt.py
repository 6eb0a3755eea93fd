"""Stream.from_mqtt (streams/sources/mqtt.py), against a real mosquitto broker."""

import asyncio
import doctest
import uuid
from pathlib import Path

import paho.mqtt.publish
import pytest
import services
from helpers import stop, until
from paho.mqtt.client import MQTTMessage

from streams import ErrorRecord, Stream
from streams.methods.mqtt import MqttMethods
from streams.sources.mqtt import FromMQTT
from streams.testing import check_source

DOCS = Path(__file__).resolve().parents[2] / "docs"


def unique(prefix="test"):
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


async def publish(broker, topic, *payloads, qos=0):
    """Publish ``payloads`` in order with a client of their own."""
    host, port = broker
    messages = [{"topic": topic, "payload": p, "qos": qos} for p in payloads]
    await asyncio.to_thread(paho.mqtt.publish.multiple, messages, hostname=host, port=port)


async def subscribed(source):
    source.start()
    await until(lambda: source.subscribed)


# ------------------------------------------------------------------ conformance


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.real_time
async def test_conformance(mqtt_broker, qos):
    topic = unique()
    made = []

    def make():
        made.append(Stream.from_mqtt(*mqtt_broker, topic, qos=qos, decode="utf-8"))
        return made[-1]

    async def produce(items):
        source = made[-1]
        if source.started and not source.stopped:
            await until(lambda: source.subscribed)  # MQTT delivers to subscribers only
        await publish(mqtt_broker, topic, *items, qos=qos)

    await check_source(make, produce, [f"item {i}" for i in range(7)])


# ------------------------------------------------------------------ building


def test_builds_an_unstarted_source_with_a_label():
    source = Stream.from_mqtt("localhost", 1883, "sensors/#")
    assert isinstance(source, FromMQTT)
    assert not source.started and source.stopped and not source.subscribed
    assert source._describe() == "from_mqtt<localhost:1883 sensors/#>"
    assert (source.keepalive, source.qos, source.decode) == (60, 0, None)
    named = Stream.from_mqtt("h", 1, "t", qos=2, user="u", pw="p", stream_name="in")
    assert named._describe() == "in" and (named.user, named.pw, named.qos) == ("u", "p", 2)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("", 1883, "t"), {}, TypeError, "host"),
        (("h", "1883", "t"), {}, TypeError, "port"),
        (("h", 0, "t"), {}, ValueError, "port"),
        (("h", 70000, "t"), {}, ValueError, "port"),
        (("h", 1883, ""), {}, TypeError, "topic"),
        (("h", 1883, "t"), {"qos": 3}, ValueError, "qos"),
        (("h", 1883, "t"), {"keepalive": 0}, ValueError, "keepalive"),
        (("h", 1883, "t"), {"decode": 5}, TypeError, "decode"),
    ],
)
def test_bad_arguments_fail_at_build_time_naming_the_node(args, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        Stream.from_mqtt(*args, **kwargs)
    assert "from_mqtt" in str(info.value)


# ------------------------------------------------------------------ receiving


@pytest.mark.real_time
async def test_without_decode_the_messages_come_as_in_streamz(mqtt_broker):
    topic = unique()
    source = Stream.from_mqtt(*mqtt_broker, f"{topic}/+")
    got = source.sink_to_list()
    await subscribed(source)
    await publish(mqtt_broker, f"{topic}/a", b"\x00\xff", "text")
    await until(lambda: len(got) == 2)
    await stop(source)
    assert all(isinstance(m, MQTTMessage) for m in got)
    assert [(m.topic, m.payload) for m in got] == [
        (f"{topic}/a", b"\x00\xff"),
        (f"{topic}/a", b"text"),
    ]


@pytest.mark.real_time
async def test_roundtrip_through_to_mqtt_with_qos_1(mqtt_broker):
    topic = unique()
    source = Stream.from_mqtt(*mqtt_broker, topic, qos=1, decode="json")
    got = source.sink_to_list()
    await subscribed(source)
    writer = Stream()
    sink = writer.to_mqtt(*mqtt_broker, topic, publish_kwargs={"qos": 1})
    for i in range(30):
        await writer.emit(f'{{"i": {i}}}')
    await until(lambda: len(got) == 30)
    sink.destroy()
    await stop(source)
    assert got == [{"i": i} for i in range(30)]


@pytest.mark.real_time
async def test_a_malformed_payload_is_reported_with_its_topic(mqtt_broker):
    topic = unique()
    source = Stream.from_mqtt(*mqtt_broker, topic, decode="json")
    got = source.sink_to_list()
    errors = source.errors().sink_to_list()
    await subscribed(source)
    await publish(mqtt_broker, topic, b"[1]", b"{nope", b"2")
    await until(lambda: len(got) == 2)
    await stop(source)
    assert got == [[1], 2]
    [record] = errors
    assert isinstance(record, ErrorRecord) and record.element == b"{nope"
    assert record.node is source
    assert any(note.startswith(f"at topic {topic!r}") for note in record.error.__notes__)


@pytest.mark.real_time
async def test_qos_1_messages_that_failed_are_sent_again_to_a_persistent_session(mqtt_broker):
    topic = unique()
    session = {"client_id": uuid.uuid4().hex, "clean_session": False}

    def reader():
        return Stream.from_mqtt(*mqtt_broker, topic, qos=1, decode="utf-8", client_kwargs=session)

    def fussy(x):
        if x == "b":
            raise ValueError("cannot handle b")
        return x

    first = reader()
    done = first.map(fussy).sink_to_list()
    errors = first.errors().sink_to_list()
    await subscribed(first)
    await publish(mqtt_broker, topic, "a", "b", "c", qos=1)
    await until(lambda: done == ["a", "c"] and len(errors) == 1)
    await stop(first)

    second = reader()  # the broker resends the one message never acknowledged
    again = second.sink_to_list()
    await subscribed(second)
    await until(lambda: again == ["b"])
    await publish(mqtt_broker, topic, "d", qos=1)
    await until(lambda: again == ["b", "d"])
    await stop(second)


@pytest.mark.real_time
async def test_shutdown_acknowledges_what_the_drain_delivered(mqtt_broker):
    topic = unique()
    session = {"client_id": uuid.uuid4().hex, "clean_session": False}

    def reader():
        return Stream.from_mqtt(*mqtt_broker, topic, qos=1, decode="utf-8", client_kwargs=session)

    first = reader()
    held = first.timed_window(3600).sink_to_list()  # holds the messages until drained
    got = first.sink_to_list()
    await subscribed(first)
    await publish(mqtt_broker, topic, "a", "b", qos=1)
    await until(lambda: got == ["a", "b"])
    await first.shutdown(timeout=10)  # stop reading, deliver, acknowledge, disconnect
    assert held == [["a", "b"]]

    second = reader()  # a session that gets back whatever was not acknowledged
    again = second.sink_to_list()
    await subscribed(second)
    await publish(mqtt_broker, topic, "c", qos=1)
    await until(lambda: again == ["c"])  # "a" and "b" are not sent again
    await stop(second)


@pytest.mark.real_time
async def test_stop_is_quick_and_closes_everything(mqtt_broker):
    source = Stream.from_mqtt(*mqtt_broker, unique())
    await subscribed(source)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await stop(source)
    assert loop.time() - began < 1
    assert not source.subscribed


# ------------------------------------------------------------------ connection trouble


@pytest.mark.real_time
async def test_unreachable_then_lost_broker_is_reported_and_reconnected(tmp_path):
    port = services.free_port()
    broker = ("127.0.0.1", port)
    topic = unique()
    source = Stream.from_mqtt(*broker, topic, decode="utf-8")
    got = source.sink_to_list()
    errors = source.errors().sink_to_list()
    source.start()
    await until(lambda: len(errors) == 1)  # nothing listens yet
    assert isinstance(errors[0].error, ConnectionError) and errors[0].node is source
    assert any(f"cannot reach mqtt://127.0.0.1:{port}" in n for n in errors[0].error.__notes__)
    server = await asyncio.to_thread(services.start_mosquitto, tmp_path, port)
    try:
        await until(lambda: source.subscribed)  # paho retried
        await publish(broker, topic, "one")
        await until(lambda: got == ["one"])
        seen = len(errors)
        server.stop()
        await until(lambda: len(errors) > seen and not source.subscribed)
        assert "lost the connection" in str(errors[seen].error)
        server = await asyncio.to_thread(services.start_mosquitto, tmp_path, port)
        await until(lambda: source.subscribed)  # reconnected and subscribed again
        await publish(broker, topic, "two")
        await until(lambda: got == ["one", "two"])
    finally:
        await stop(source)
        server.stop()


# ------------------------------------------------------------------ the documented example


def run_example(text, name, broker, prefix):
    """Run the doctest ``text`` against the test broker, without its +SKIP marks."""
    host, port = broker
    text = text.replace('"localhost", 1883', f'"{host}", {port}')
    text = text.replace(prefix, unique(prefix.rstrip("/")) + "/").replace("# doctest: +SKIP", "")
    test = doctest.DocTestParser().get_doctest(text, {}, name, None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))


def test_the_docstring_example_runs_against_a_broker(mqtt_broker):
    run_example(MqttMethods.from_mqtt.__doc__, "from_mqtt", mqtt_broker, "example/")


def test_the_guide_example_runs_against_a_broker(mqtt_broker):
    text = (DOCS / "guide" / "connectors" / "mqtt.rst").read_text()
    run_example(text, "mqtt.rst", mqtt_broker, "guide/")
