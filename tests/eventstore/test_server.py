"""The JSON-RPC server and its clients (streams/eventstore/{server,client}.py), on a free
loopback port."""

import asyncio
import json
import threading
import urllib.error
import urllib.request

import pytest

from streams.eventstore import (
    AsyncClient,
    Client,
    MemoryBackend,
    SQLBackend,
    create_app,
    start_server,
)

pytestmark = pytest.mark.real_time


class Served:
    """A server on its own loop thread, for the blocking client and raw requests."""

    def __init__(self, backend, **app_options):
        self.loop = asyncio.new_event_loop()

        async def start():
            return start_server(create_app(backend, **app_options))

        self.server = self.loop.run_until_complete(start())
        self.url = self.server.url
        self.thread = threading.Thread(target=self.loop.run_forever)
        self.thread.start()

    def close(self):
        asyncio.run_coroutine_threadsafe(self.server.close(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()


@pytest.fixture
def served():
    made = []

    def serve(backend, **options):
        made.append(Served(backend, **options))
        return made[-1]

    yield serve
    for s in made:
        s.close()


def post(url, body, content_type="application/json"):
    """(status, decoded JSON answer) of a raw POST."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(url, data, {"Content-Type": content_type}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_blocking_client_runs_the_readme_session(served):
    backend = MemoryBackend(["user", "kind", "repo"])
    client = Client(served(backend).url)
    first = client.insert({"kind": "create-repo", "repo": 17, "user": 291}, 1)
    assert backend.events()[0].id == first
    client.insert({"kind": "friend", "user": 23, "friend": 291}, 2)
    client.insert({"kind": "commit", "repo": 17, "user": 23}, 3)
    assert client.items(kind="friend", user=23) == [{"kind": "friend", "user": 23, "friend": 291}]
    assert client.items(user=[23, 291], start=1, end=3) == [
        {"kind": "friend", "user": 23, "friend": 291},
        {"kind": "create-repo", "repo": 17, "user": 291},
    ]
    assert client.count(user=[23, 291]) == 3
    assert client.count(since=2) == 2


def test_blocking_client_raises_the_servers_message(served):
    client = Client(served(MemoryBackend(["user"])).url)
    with pytest.raises(ValueError, match=r"^ValueError: cannot filter on 'game'"):
        client.items(game=1)
    with pytest.raises(ValueError, match="unknown method 'serialize'"):
        client.call("serialize", {"a": 1})
    with pytest.raises(ValueError, match="TypeError: an event must be a dict"):
        client.insert([1, 2])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unexpected keyword argument 'colour'"):
        client.call("insert", {"a": 1}, colour="red")


def test_the_original_envelope_and_its_errors(served):
    url = served(MemoryBackend(["user"])).url
    status, answer = post(url, {"id": 7, "method": "insert", "args": [{"user": 1}], "kwargs": {}})
    assert status == 200 and answer["id"] == 7 and answer["error"] is None
    assert isinstance(answer["result"], str)
    assert post(url, {"id": 8, "method": "items", "kwargs": {"user": "1"}}) == (
        200,
        {"id": 8, "result": [{"user": 1}], "error": None},
    )
    status, answer = post(url, {"id": 9, "method": "setup_table"})
    assert status == 200 and answer == {
        "id": 9,
        "result": None,
        "error": "unknown method 'setup_table': expected one of insert, items, count",
    }
    status, answer = post(url, {"id": 10, "method": "items", "kwargs": {"score": 1}})
    assert answer["error"].startswith("ValueError: cannot filter on 'score'")
    assert "Traceback" not in answer["error"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "invalid JSON"),
        ({"id": 1, "args": []}, "no 'method' string"),
        ([1, 2], "must be a JSON object"),
    ],
)
def test_bad_requests_are_http_400_with_a_json_error(served, body, message):
    status, answer = post(served(MemoryBackend()).url, body)
    assert status == 400 and message in answer["error"] and answer["result"] is None


def test_json_rpc_2(served):
    url = served(MemoryBackend(["user"])).url
    request = {"jsonrpc": "2.0", "id": 1, "method": "insert", "params": [{"user": 5}]}
    status, answer = post(url, request)
    assert status == 200 and set(answer) == {"jsonrpc", "id", "result"}
    assert post(url, {"jsonrpc": "2.0", "id": 2, "method": "count", "params": {"user": 5}}) == (
        200,
        {"jsonrpc": "2.0", "id": 2, "result": 1},
    )
    status, answer = post(url, {"jsonrpc": "2.0", "id": 3, "method": "nope"})
    assert answer["error"]["code"] == -32601 and "'nope'" in answer["error"]["message"]
    status, answer = post(url, {"jsonrpc": "2.0", "id": 4, "method": "items", "params": {"x": 1}})
    assert answer["error"]["code"] == -32602
    # a body that does not parse cannot ask for 2.0: the original envelope answers
    status, answer = post(url, b'{"jsonrpc": "2.0", "id": 4, "method": ')
    assert status == 400 and answer["error"].startswith("invalid JSON") and answer["id"] is None


def test_request_size_limit(served):
    url = served(MemoryBackend(), max_body_size=1000).url
    status, answer = post(url, {"method": "insert", "args": [{"blob": "x" * 2000}]})
    assert status == 413 and "request too large" in answer["error"]
    assert post(url, {"method": "count"})[1]["result"] == 0


def test_methods_can_be_restricted():
    app = create_app(MemoryBackend(), methods=["items", "count"])
    assert app is not None
    with pytest.raises(ValueError, match="cannot be served"):
        create_app(MemoryBackend(), methods=["insert", "close"])
    with pytest.raises(TypeError, match="event-store Backend"):
        create_app(object())


async def test_async_client_against_a_blocking_backend(tmp_path):
    server = start_server(create_app(SQLBackend(f"sqlite:///{tmp_path}/e.db", ["kind"])))
    assert server.host == "127.0.0.1" and server.url == f"http://127.0.0.1:{server.port}/"
    client = AsyncClient(server.url)
    try:
        ids = await asyncio.gather(*(client.insert({"kind": k % 3, "n": k}, k) for k in range(12)))
        assert len(set(ids)) == 12
        assert [e["n"] for e in await client.items(kind=[0, 1], start=2, end=5)] == [7, 6, 4]
        assert await client.count(kind=2) == 4
        with pytest.raises(ValueError, match="cannot filter on 'n'"):
            await client.items(n=1)
    finally:
        await server.close()


def test_clients_reject_bad_urls():
    with pytest.raises(ValueError, match="http"):
        Client("ftp://host/")
    with pytest.raises(ValueError, match="http"):
        AsyncClient("localhost:9997")
