"""The server sources out of file descriptors (streams/sources/tcp.py, Acceptor): a
server process with a lowered RLIMIT_NOFILE, real clients on loopback."""

import asyncio
import http.client
import os
import socket
import subprocess
import sys

import pytest
from helpers import until

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads /proc and lowers RLIMIT_NOFILE"
)

SERVER = r"""
import asyncio, os, resource, sys
from streams import Stream

def show(*words):
    print(*words, flush=True)

async def main():
    tcp = Stream.from_tcp(0, decode="ascii")
    web = Stream.from_http_server(0, decode="ascii")
    for name, source in (("tcp", tcp), ("http", web)):
        source.sink(lambda x, name=name: show(name, "got", x.strip()))
        source.errors().sink(lambda r, name=name: show(name, "error", r.error.errno))
        source.start()
    while tcp.server is None or web.server is None:
        await asyncio.sleep(0.01)
    highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (highest + 8, hard))
    show("ports", tcp.port, web.port)
    await asyncio.Event().wait()  # until killed

asyncio.run(main())
"""


def cpu_seconds(pid):
    """User + system CPU time of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Lines:
    """The lines a subprocess prints, read as they come."""

    def __init__(self, process):
        self.lines = []
        self.reading = asyncio.ensure_future(self.read(process.stdout))

    async def read(self, stream):
        async for line in stream:
            self.lines.append(line.decode().strip())

    async def wait_for(self, line):
        await until(lambda: line in self.lines)


def post(port, body):
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        client.request("POST", "/", body=body)
        return client.getresponse().status
    finally:
        client.close()


@pytest.mark.real_time
async def test_out_of_file_descriptors_the_servers_back_off_and_serve_again(tmp_path):
    log = tmp_path / "stderr"
    with open(log, "w") as stderr:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SERVER, stdout=subprocess.PIPE, stderr=stderr
        )
    lines = Lines(process)
    clients = []
    try:
        await until(lambda: any(x.startswith("ports") for x in lines.lines))
        ports = next(x for x in lines.lines if x.startswith("ports")).split()
        tcp_port, http_port = int(ports[1]), int(ports[2])
        # more clients than the server has descriptors left: it accepts a few, then EMFILE
        for port in [tcp_port] * 20 + [http_port] * 4:
            clients.append(socket.create_connection(("127.0.0.1", port)))
        await lines.wait_for("tcp error 24")
        await lines.wait_for("http error 24")

        # both listening sockets stay readable; the server must not spin on them
        before = cpu_seconds(process.pid)
        await asyncio.sleep(2.0)  # a real interval to measure CPU time over
        assert cpu_seconds(process.pid) - before < 1.0, "the accept loop spins"
        assert lines.lines.count("tcp error 24") == 1  # reported once per episode
        assert lines.lines.count("http error 24") == 1

        for client in clients:  # descriptors free up: good clients are served again
            client.close()
        clients.clear()
        good = socket.create_connection(("127.0.0.1", tcp_port))
        clients.append(good)
        good.sendall(b"hello\n")
        await lines.wait_for("tcp got hello")
        assert await asyncio.to_thread(post, http_port, b"hi") == 200
        await lines.wait_for("http got hi")
        assert "accepting connections again" in log.read_text()
    finally:
        for client in clients:
            client.close()
        if process.returncode is None:
            process.kill()
        await process.wait()
        lines.reading.cancel()
