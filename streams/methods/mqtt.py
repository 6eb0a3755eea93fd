"""Methods for connectors. MQTT: from_mqtt, to_mqtt."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..sinks.mqtt import ToMQTT
    from ..sources.mqtt import FromMQTT

T = TypeVar("T")


class MqttMethods(Generic[T]):
    """MQTT: from_mqtt, to_mqtt."""

    @staticmethod
    def from_mqtt(
        host: str,
        port: int,
        topic: str,
        keepalive: int = 60,
        client_kwargs: dict[str, Any] | None = None,
        user: str | None = None,
        pw: str | None = None,
        qos: int = 0,
        decode: Any = None,
        start: bool = False,
        **kwargs: Any,
    ) -> FromMQTT:
        """Subscribe to an MQTT topic and emit the messages published to it.

        With ``decode=None`` (the default) each element is paho's ``MQTTMessage``, as
        in streamz: ``.payload`` (``bytes``), ``.topic``, ``.qos``, ``.retain``,
        ``.mid``. With ``decode`` each element is the decoded payload alone.

        paho-mqtt's network thread receives the messages; they are emitted on the
        graph's loop one at a time, in the order they arrived, each waiting for back
        pressure. With ``qos`` 1 or 2 the source acknowledges a message (``PUBACK``)
        only once every branch downstream has finished with it, and the broker sends
        at most its in-flight limit of unacknowledged messages (mosquitto: 20), so a
        slow consumer holds the broker back. QoS 0 messages are never held back by the
        broker: while the consumer is busy they wait in memory. A message that failed
        downstream is not acknowledged; the broker sends it again after a reconnection
        of a persistent session (``client_kwargs={'client_id': ..., 'clean_session':
        False}``); until then it takes one of the broker's in-flight places.

        A lost or refused connection goes to :meth:`~streams.Stream.errors`; paho
        reconnects after 1 s, 2 s, 4 s... (at most 30 s) and the source subscribes
        again. Messages received but not yet emitted when the source stops are
        dropped (QoS 1 and 2: they were not acknowledged).

        Parameters
        ----------
        host : str
            The broker's host name or address.
        port : int
            The broker's port (1883 usually).
        topic : str
            Topic filter; ``+`` and ``#`` wildcards work.
        keepalive : int, optional
            Seconds between pings when idle.
        client_kwargs : dict, optional
            Passed to ``paho.mqtt.client.Client`` (``client_id``, ``clean_session``,
            ``protocol``, ``transport``...).
        user, pw : str, optional
            Credentials.
        qos : {0, 1, 2}, optional
            Quality of service of the subscription.
        decode : None, str or callable, optional
            ``None`` emits the message objects; a codec name such as ``'utf-8'``
            decodes payloads to text; ``'json'`` parses them; a callable is applied
            to each payload. A payload that cannot be decoded goes to the error
            channel with its topic and message id.
        start : bool, optional
            Start at once.
        **kwargs
            Node options: ``stream_name``, ``on_error``...

        Returns
        -------
        FromMQTT
            Its ``subscribed`` attribute tells whether it is connected and
            subscribed.

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> async def main():
        ...     source = Stream.from_mqtt("localhost", 1883, "example/sensors/#",
        ...                               qos=1, decode="json")
        ...     readings = source.sink_to_list()
        ...     source.start()
        ...     while not source.subscribed:
        ...         await asyncio.sleep(0.01)
        ...     publisher = Stream()
        ...     sink = publisher.to_mqtt("localhost", 1883, "example/sensors/a",
        ...                              publish_kwargs={"qos": 1})
        ...     await publisher.emit('{"t": 21.5}')
        ...     while not readings:
        ...         await asyncio.sleep(0.01)
        ...     source.stop()
        ...     sink.destroy()
        ...     await source.wait()
        ...     return readings
        >>> asyncio.run(main())  # doctest: +SKIP
        [{'t': 21.5}]

        See Also
        --------
        to_mqtt
        """
        from ..sources.mqtt import FromMQTT

        return FromMQTT(
            host,
            port,
            topic,
            keepalive=keepalive,
            client_kwargs=client_kwargs,
            user=user,
            pw=pw,
            qos=qos,
            decode=decode,
            start=start,
            **kwargs,
        )

    def to_mqtt(
        self: Any,
        host: str,
        port: int,
        topic: str,
        keepalive: int = 60,
        client_kwargs: dict[str, Any] | None = None,
        publish_kwargs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> ToMQTT:
        """Publish every element to an MQTT topic.

        Elements are payloads: ``str``, ``bytes``, ``bytearray``, ``int``, ``float``
        or ``None`` (anything else fails with a ``TypeError`` through the node's
        ``on_error`` policy). The emitter waits until paho reports the message
        written to the network (QoS 0) or acknowledged by the broker (QoS 1 and 2).

        The sink connects on its first element and paho keeps the connection up.
        While the broker cannot be reached, an element fails with a
        ``ConnectionError`` once a connection attempt failed (``on_error=
        streams.retry(...)`` tries again); a QoS 1 or 2 message published before a
        connection drops is sent again after paho reconnected. The sink emits
        nothing downstream. ``destroy()`` disconnects and stops paho's thread.

        Parameters
        ----------
        host : str
            The broker's host name or address.
        port : int
            The broker's port.
        topic : str
            The topic to publish to.
        keepalive : int, optional
            Seconds between pings when idle.
        client_kwargs : dict, optional
            Passed to ``paho.mqtt.client.Client``.
        publish_kwargs : dict, optional
            Passed to ``Client.publish``: ``qos`` (0, 1 or 2), ``retain``,
            ``properties``.
        **kwargs
            Node options: ``stream_name``, ``on_error``...

        Returns
        -------
        ToMQTT

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> source = Stream()
        >>> sink = source.map(str).to_mqtt("localhost", 1883, "example/counts",
        ...                                publish_kwargs={"qos": 1})
        >>> async def main():
        ...     for n in range(3):
        ...         await source.emit(n)  # returns once the broker acknowledged it
        ...     sink.destroy()
        >>> asyncio.run(main())  # doctest: +SKIP

        See Also
        --------
        from_mqtt
        """
        from ..sinks.mqtt import ToMQTT

        return ToMQTT(self, host, port, topic, keepalive, client_kwargs, publish_kwargs, **kwargs)
