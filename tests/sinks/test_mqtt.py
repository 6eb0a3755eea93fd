"""Stream.to_mqtt (streams/sinks/mqtt.py), against a real mosquitto broker."""

import asyncio
import doctest
import threading
import uuid

import pytest
import services
from helpers import until
from paho.mqtt.client import Client
from paho.mqtt.enums import CallbackAPIVersion

from streams import ErrorRecord, Stream
from streams.methods.mqtt import MqttMethods
from streams.sinks.mqtt import ToMQTT
from streams.sources.mqtt import close_socket
from streams.testing import check_sink


def unique(prefix="sink"):
    return f"{prefix}/{uuid.uuid4().hex[:10]}"


class Subscriber:
    """A paho client collecting the payloads published to ``topic`` (as ``str``)."""

    def __init__(self, broker, topic):
        self.received = []
        self.ready = threading.Event()
        self.client = Client(CallbackAPIVersion.VERSION2)
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda *_: self.ready.set()
        self.client.on_message = lambda c, u, m: self.received.append(m.payload.decode())
        self.client.connect(*broker)
        self.client.loop_start()

    async def __aenter__(self):
        await until(self.ready.is_set)
        return self

    async def __aexit__(self, *exc):
        self.client.disconnect()
        await asyncio.to_thread(self.client.loop_stop)
        close_socket(self.client)  # paho may stop before its DISCONNECT closed it


# ------------------------------------------------------------------ conformance


@pytest.mark.parametrize("qos", [0, 1])
@pytest.mark.real_time
async def test_conformance(mqtt_broker, qos):
    topic = unique()
    async with Subscriber(mqtt_broker, topic) as subscriber:
        calls = []

        async def read_back():  # what the broker delivered so far, to a subscriber
            calls.append(1)
            await until(lambda: len(subscriber.received) >= min(len(calls), 4))
            return subscriber.received

        await check_sink(
            lambda s: s.to_mqtt(*mqtt_broker, topic, publish_kwargs={"qos": qos}),
            read_back,
            ["a", "b", "c", "d"],
        )


# ------------------------------------------------------------------ building


def test_builds_a_sink_with_a_label():
    sink = Stream().to_mqtt("localhost", 1883, "out/t", publish_kwargs={"qos": 1})
    assert isinstance(sink, ToMQTT)
    assert sink._describe() == "to_mqtt<localhost:1883 out/t>"
    assert (sink.keepalive, sink.publish_kwargs, sink.client_kwargs) == (60, {"qos": 1}, {})
    sink.destroy()
    sink.destroy()  # nothing was connected; idempotent


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "match"),
    [
        (("", 1883, "t"), {}, TypeError, "host"),
        (("h", 1883.0, "t"), {}, TypeError, "port"),
        (("h", -1, "t"), {}, ValueError, "port"),
        (("h", 1883, None), {}, TypeError, "topic"),
        (("h", 1883, "t"), {"publish_kwargs": {"qos": 5}}, ValueError, "qos"),
        (("h", 1883, "t"), {"publish_kwargs": {"topic": "x"}}, TypeError, "publish_kwargs"),
    ],
)
def test_bad_arguments_fail_at_build_time_naming_the_node(args, kwargs, error, match):
    with pytest.raises(error, match=match) as info:
        Stream().to_mqtt(*args, **kwargs)
    assert "to_mqtt" in str(info.value)


# ------------------------------------------------------------------ publishing


@pytest.mark.real_time
async def test_publishes_in_order_and_emits_nothing(mqtt_broker):
    topic = unique()
    async with Subscriber(mqtt_broker, topic) as subscriber:
        source = Stream()
        sink = source.to_mqtt(*mqtt_broker, topic, publish_kwargs={"qos": 1})
        after = sink.sink_to_list()
        for i in range(20):
            source.emit(str(i))  # not awaited: paho still sends them in order
        source.emit(b"bytes")
        await source.drain()
        await until(lambda: len(subscriber.received) == 21)
        sink.destroy()
    assert subscriber.received == [*map(str, range(20)), "bytes"]
    assert after == []


@pytest.mark.real_time
async def test_a_payload_paho_cannot_send_follows_the_error_policy(mqtt_broker):
    topic = unique()
    async with Subscriber(mqtt_broker, topic) as subscriber:
        source = Stream()
        sink = source.to_mqtt(*mqtt_broker, topic, on_error="dead_letter")
        errors = source.errors().sink_to_list()
        await source.emit({"a": "dict"})
        await source.emit("fine")
        await until(lambda: subscriber.received == ["fine"])
        sink.destroy()
    [record] = errors
    assert isinstance(record, ErrorRecord) and isinstance(record.error, TypeError)
    assert record.node is sink and record.element == {"a": "dict"}


@pytest.mark.real_time
async def test_an_unreachable_broker_fails_the_element_then_recovers(tmp_path):
    port = services.free_port()
    broker = ("127.0.0.1", port)
    topic = unique()
    source = Stream()
    sink = source.to_mqtt(*broker, topic, publish_kwargs={"qos": 1})
    with pytest.raises(
        ConnectionError, match=f"cannot connect to mqtt://127.0.0.1:{port}"
    ) as info:
        await source.emit("lost")
    assert any("to_mqtt<" in note for note in info.value.__notes__)
    server = await asyncio.to_thread(services.start_mosquitto, tmp_path, port)
    try:
        async with Subscriber(broker, topic) as subscriber:
            await source.emit("one")  # the next element connects
            await until(lambda: subscriber.received == ["one"])
        server.stop()
        waiting = asyncio.ensure_future(source.emit("two"))  # waits for paho to reconnect
        server = await asyncio.to_thread(services.start_mosquitto, tmp_path, port)
        async with Subscriber(broker, topic) as subscriber:
            await waiting
            await source.emit("three")
            await until(lambda: subscriber.received[-1:] == ["three"])
    finally:
        sink.destroy()
        server.stop()


def test_a_plain_script_publishes_and_disconnects(mqtt_broker):
    source = Stream()
    sink = source.to_mqtt(*mqtt_broker, unique(), publish_kwargs={"qos": 1})
    source.emit("x")  # blocks until the broker acknowledged it
    sink.destroy()
    assert sink._client is None


# ------------------------------------------------------------------ the documented examples


def test_the_docstring_example_runs_against_a_broker(mqtt_broker):
    host, port = mqtt_broker
    topic = unique("ex")
    text = MqttMethods.to_mqtt.__doc__.replace('"localhost", 1883', f'"{host}", {port}')
    text = text.replace("example/counts", topic).replace("# doctest: +SKIP", "")
    test = doctest.DocTestParser().get_doctest(text, {}, "to_mqtt", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize(verbose=False) == (0, len(test.examples))
