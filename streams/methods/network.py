"""Methods for network sources and sinks.

``from_tcp``, ``from_http_server``, ``from_websocket``, ``to_websocket``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from ..sinks.websocket import ToWebsocket
    from ..sources.http import FromHTTPServer
    from ..sources.tcp import FromTCP
    from ..sources.websocket import FromWebsocket

T = TypeVar("T")


class NetworkMethods(Generic[T]):
    """``from_tcp``, ``from_http_server``, ``from_websocket``, ``to_websocket``."""

    @staticmethod
    def from_tcp(
        port: int,
        delimiter: bytes | str = b"\n",
        server_kwargs: Mapping[str, Any] | None = None,
        host: str | None = "127.0.0.1",
        decode: Any = None,
        max_message_size: int = 1_048_576,
        max_buffer_bytes: int | None = None,
        max_connections: int = 1024,
        idle_timeout: float | None = 300.0,
        start: bool = False,
        **kwargs: Any,
    ) -> FromTCP:
        """Listen for TCP connections and emit each delimited message the clients send.

        Every client may send any number of messages, each ended by ``delimiter``; a
        last message ended by closing the connection is emitted too. A connection
        reads its next message only once the previous one was accepted downstream,
        and the source emits one element at a time across all its connections, so a
        slow consumer slows the clients down (back pressure). ``stop()`` closes the
        listening socket and every connection, after the element in hand.

        Memory is bounded whatever the clients do. A message longer than
        ``max_message_size`` goes to the error channel (its first 100 bytes, with its
        position) and is skipped up to its delimiter without being kept. Across all
        connections the source holds at most ``max_buffer_bytes`` of unfinished and
        waiting messages: when they are reached it stops reading (the clients are
        slowed down by TCP flow control, and lose nothing), and if everything held
        is unfinished messages, the biggest one is dropped (to the error channel) and
        its connection closed. A client beyond ``max_connections`` is disconnected
        at once, and one that sends nothing for ``idle_timeout`` seconds is
        disconnected (a message it had begun goes to the error channel).

        Parameters
        ----------
        port : int
            The port to listen on; ``0`` picks a free one, readable as ``source.port``
            once ``start()`` returned.
        delimiter : bytes, optional
            What ends a message (a newline by default).
        server_kwargs : dict, optional
            Options of ``tornado.tcpserver.TCPServer`` (``ssl_options``,
            ``read_chunk_size``: the most read from a connection at once, 64 KiB).
        host : str, optional
            The address to listen on: loopback by default, so nothing outside this
            machine can connect; ``"0.0.0.0"``, ``"::"`` or ``None`` listen on every
            interface.
        decode : None, str or callable, optional
            ``None`` emits each message as bytes, delimiter included (as streamz does).
            Otherwise the message without its delimiter is decoded: a codec name such
            as ``'utf-8'`` gives text, ``'json'`` parses JSON, a callable is applied. A
            message that cannot be decoded goes to the error channel with its position
            (``tcp <peer>, message <n>``) and the source goes on.
        max_message_size : int, optional
            The longest message, in bytes without its delimiter (1 MiB by default).
        max_buffer_bytes : int, optional
            The most bytes held across all connections: 64 MiB by default, or four
            messages of ``max_message_size`` if that is more.
        max_connections : int, optional
            The most clients connected at once (1024 by default).
        idle_timeout : float or None, optional
            Seconds a client may send nothing before it is disconnected (300 by
            default; ``None``: never). Time spent waiting for the graph does not count.
        start : bool, optional
            Start at once.

        Returns
        -------
        FromTCP
            The source; ``port`` is the port it listens on, ``server`` the tornado
            server once it serves (``None`` before and after).

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> async def main():
        ...     source = Stream.from_tcp(0, decode="utf-8")  # a free port on 127.0.0.1
        ...     lines = asyncio.Queue()
        ...     source.sink(lines.put)
        ...     source.start()
        ...     reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
        ...     writer.write(b"hello\\nwor")
        ...     writer.write(b"ld\\n")
        ...     print(await lines.get(), await lines.get())
        ...     writer.close()
        ...     source.stop()
        ...     await source.wait()
        >>> asyncio.run(main())
        hello world

        A message over ``max_message_size`` goes to the error channel, and the
        client's next message comes:

        >>> async def limited():
        ...     source = Stream.from_tcp(0, max_message_size=8)
        ...     lines = asyncio.Queue()
        ...     source.sink(lines.put)
        ...     problems = source.errors().sink_to_list()
        ...     source.start()
        ...     reader, writer = await asyncio.open_connection("127.0.0.1", source.port)
        ...     writer.write(b"far too long for it\\nok\\n")
        ...     print(await lines.get(), problems[0].error)
        ...     writer.close()
        ...     source.stop()
        ...     await source.wait()
        >>> asyncio.run(limited())
        b'ok\\n' message longer than max_message_size (8 bytes); skipped up to its delimiter

        See Also
        --------
        from_http_server, from_websocket
        """
        from ..sources.tcp import FromTCP

        return FromTCP(
            port,
            delimiter,
            server_kwargs,
            host=host,
            decode=decode,
            max_message_size=max_message_size,
            max_buffer_bytes=max_buffer_bytes,
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            start=start,
            **kwargs,
        )

    @staticmethod
    def from_http_server(
        port: int,
        path: str = "/.*",
        server_kwargs: Mapping[str, Any] | None = None,
        host: str | None = "127.0.0.1",
        max_body_size: int = 1_048_576,
        decode: Any = None,
        max_buffer_bytes: int | None = None,
        max_connections: int = 1024,
        idle_timeout: float | None = 300.0,
        start: bool = False,
        **kwargs: Any,
    ) -> FromHTTPServer:
        """Serve HTTP and emit the body of every POST request to a matching path.

        The reply is sent only once the element was accepted downstream, so a client
        waiting for it feels back pressure: ``200`` when accepted, ``500`` when it
        failed downstream (the error also goes to the error channel), ``503`` when
        the source stopped first. Other requests are refused from their headers,
        without reading the body: ``404`` for another path, ``405`` for another
        method, ``413`` for a body over ``max_body_size`` (a chunked body over it gets
        tornado's ``400``), and ``503`` with ``Retry-After`` when the source has no
        room for it: the bodies waiting for their turn would go over
        ``max_buffer_bytes`` (a chunked body counts as ``max_body_size``), or it came
        on a connection beyond ``max_connections``. Elements are emitted one at a
        time.

        Parameters
        ----------
        port : int
            The port to listen on; ``0`` picks a free one (``source.port``).
        path : str, optional
            A regular expression the whole request path must match.
        server_kwargs : dict, optional
            Options of ``tornado.httpserver.HTTPServer`` (``ssl_options``,
            ``xheaders``, ``idle_connection_timeout``, ``decompress_request``...).
        host : str, optional
            The address to listen on: loopback by default; ``"0.0.0.0"``, ``"::"`` or
            ``None`` listen on every interface.
        max_body_size : int, optional
            The largest body accepted, in bytes (1 MiB by default).
        decode : None, str or callable, optional
            ``None`` emits the body as bytes; ``'utf-8'`` (or another codec) as text,
            ``'json'`` parsed, a callable applied. A body that cannot be decoded is
            answered ``400`` and goes to the error channel with its position
            (``http POST <path> from <peer>``).
        max_buffer_bytes : int, optional
            The most bytes of bodies held at once, across all connections: 64 MiB by
            default, or four bodies of ``max_body_size`` if that is more.
        max_connections : int, optional
            The most connections served at once (1024 by default).
        idle_timeout : float or None, optional
            Seconds a connection may wait for its next request, and a body may take
            to arrive, before the connection is closed (300 by default; ``None``:
            tornado's defaults, an hour and no limit). Set tornado's
            ``idle_connection_timeout`` and ``body_timeout`` in ``server_kwargs`` to
            tell them apart.
        start : bool, optional
            Start at once.

        Returns
        -------
        FromHTTPServer
            The source; ``port`` is the port it listens on, ``server`` the tornado
            server once it serves (``None`` before and after).

        Examples
        --------
        >>> import http.client
        >>> from streams import Stream
        >>> source = Stream.from_http_server(0, path="/events", decode="json")
        >>> events = source.sink_to_list()
        >>> source.start()
        >>> client = http.client.HTTPConnection("127.0.0.1", source.port)
        >>> client.request("POST", "/events", body=b'{"user": "ada"}')
        >>> client.getresponse().status  # once the element was accepted
        200
        >>> events
        [{'user': 'ada'}]
        >>> client.close()
        >>> source.stop()
        >>> source.wait()

        See Also
        --------
        from_tcp, from_websocket
        """
        from ..sources.http import FromHTTPServer

        return FromHTTPServer(
            port,
            path,
            server_kwargs,
            host=host,
            max_body_size=max_body_size,
            decode=decode,
            max_buffer_bytes=max_buffer_bytes,
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            start=start,
            **kwargs,
        )

    @staticmethod
    def from_websocket(
        host: str | None,
        port: int,
        serve_kwargs: Mapping[str, Any] | None = None,
        decode: Any = None,
        max_message_size: int | None = None,
        max_buffer_bytes: int | None = None,
        max_connections: int = 1024,
        idle_timeout: float | None = 300.0,
        start: bool = False,
        **kwargs: Any,
    ) -> FromWebsocket:
        """Serve websockets and emit every message the clients send.

        Text messages are emitted as ``str``, binary ones as ``bytes``. A connection
        receives its next message only once the previous one was accepted downstream,
        and the source emits one element at a time across its connections. Built on
        the asyncio implementation of ``websockets`` (13 and later). ``stop()`` closes
        the server and its connections (code 1001) after the element in hand.

        A message over ``max_message_size`` closes its connection (code 1009) and goes
        to the error channel with its position. While the messages taken and waiting
        for their turn hold ``max_buffer_bytes``, the connections take no further
        message (the clients' messages wait in ``websockets``' queue, ``max_queue``
        frames per connection, then in the socket) and new clients are refused with
        HTTP ``503`` at the opening handshake, as are clients beyond
        ``max_connections``. A client that
        sends no message for ``idle_timeout`` seconds is closed (code 1001).

        Parameters
        ----------
        host : str or None
            The address to listen on, such as ``"127.0.0.1"``; ``"0.0.0.0"``, ``"::"``
            or ``None`` listen on every interface.
        port : int
            The port; ``0`` picks a free one (``source.port``).
        serve_kwargs : dict, optional
            Options of ``websockets.asyncio.server.serve`` (``max_size``,
            ``ping_interval``, ``ssl``...).
        decode : None, str or callable, optional
            ``None`` emits messages as they come; ``'json'`` parses them, a codec name
            decodes binary messages, a callable is applied. A message that cannot be
            decoded goes to the error channel with its position
            (``websocket <peer>, message <n>``).
        max_message_size : int, optional
            The longest message, in bytes (characters for text): ``websockets``'
            ``max_size``, 1 MiB by default.
        max_buffer_bytes : int, optional
            The most bytes of messages taken and waiting to be emitted: 64 MiB by
            default, or four messages of ``max_message_size`` if that is more.
        max_connections : int, optional
            The most clients at once (1024 by default).
        idle_timeout : float or None, optional
            Seconds a client may send no message before it is closed (300 by
            default; ``None``: never). Time spent waiting for the graph does not count.
        start : bool, optional
            Start at once.

        Returns
        -------
        FromWebsocket
            The source; ``port`` is the port it listens on, ``server`` the
            ``websockets`` server once it serves (``None`` before and after).

        Examples
        --------
        >>> import asyncio
        >>> from websockets.asyncio.client import connect
        >>> from streams import Stream
        >>> async def main():
        ...     source = Stream.from_websocket("127.0.0.1", 0, decode="json")
        ...     received = asyncio.Queue()
        ...     source.sink(received.put)
        ...     source.start()
        ...     async with connect(f"ws://127.0.0.1:{source.port}") as client:
        ...         await client.send('{"temperature": 21.5}')
        ...         print(await received.get())
        ...     source.stop()
        ...     await source.wait()
        >>> asyncio.run(main())
        {'temperature': 21.5}

        See Also
        --------
        to_websocket, from_tcp
        """
        from ..sources.websocket import FromWebsocket

        return FromWebsocket(
            host,
            port,
            serve_kwargs,
            decode=decode,
            max_message_size=max_message_size,
            max_buffer_bytes=max_buffer_bytes,
            max_connections=max_connections,
            idle_timeout=idle_timeout,
            start=start,
            **kwargs,
        )

    def to_websocket(
        self: Any,
        uri: str,
        connect_kwargs: Mapping[str, Any] | None = None,
        backoff: float = 0.1,
        max_backoff: float = 10.0,
        **kwargs: Any,
    ) -> ToWebsocket:
        """Send every element over a websocket connection.

        A ``str`` goes as a text message, ``bytes`` as a binary one (encode other
        elements first, with ``.map(json.dumps)`` say). The emitter waits until its
        element was sent. The connection opens with the first element; if it was
        lost, the element goes again on a new connection. If no connection can be
        opened, the element fails according to ``on_error`` (raised to the emitter by
        default, or ``on_error="dead_letter"`` to send it to the error channel,
        ``streams.retry(...)`` to try again) and the next attempt waits ``backoff``
        seconds, doubling after each failure up to ``max_backoff``. ``destroy()``
        closes the connection once the elements in hand were sent.

        Parameters
        ----------
        uri : str
            The server, ``ws://host:port/path`` or ``wss://...``.
        connect_kwargs : dict, optional
            Options of ``websockets.asyncio.client.connect`` (``additional_headers``,
            ``open_timeout``, ``ssl``...).
        backoff, max_backoff : float, optional
            The first and the longest pause between failed connection attempts.

        Returns
        -------
        ToWebsocket
            The sink node.

        Examples
        --------
        >>> import asyncio
        >>> from streams import Stream
        >>> async def main():
        ...     server = Stream.from_websocket("127.0.0.1", 0)
        ...     received = asyncio.Queue()
        ...     server.sink(received.put)
        ...     server.start()
        ...     source = Stream()
        ...     sender = source.to_websocket(f"ws://127.0.0.1:{server.port}")
        ...     for text in ["hello", "world"]:
        ...         await source.emit(text)  # resumes once sent
        ...     print(await received.get(), await received.get())
        ...     sender.destroy()
        ...     await source.drain()  # the connection is closed
        ...     server.stop()
        ...     await server.wait()
        >>> asyncio.run(main())
        hello world

        See Also
        --------
        from_websocket
        """
        from ..sinks.websocket import ToWebsocket

        return ToWebsocket(self, uri, connect_kwargs, backoff, max_backoff, **kwargs)
