#!/usr/bin/env python
"""Memory of the network sources under load: many clients, a slow consumer.

Cases, each with the server in a fresh subprocess so its peak RSS is its own (the
clients run in this process and do not count):

    http    Stream.from_http_server(0) -> async sink sleeping 50 ms per element;
            100 clients POST 1 MiB each, all at once
    tcp     Stream.from_tcp(0) -> the same slow sink; 5 clients each send 90 MB with
            no delimiter, then close

The server reports its RSS once listening (`before`), its peak RSS (`peak`, VmHWM) and
its RSS once every client was answered or closed and the graph settled (`after`); the
table also says what the clients saw (HTTP statuses; TCP elements and errors).

    python benchmarks/network_memory.py
    python benchmarks/network_memory.py --http-clients 200 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter

SERVER = r"""
import asyncio, json, sys
from streams import Stream

CASE = sys.argv[1]

def status():
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    return fields

async def slow(x):
    await asyncio.sleep(0.05)

async def main():
    if CASE == "http":
        source = Stream.from_http_server(0)
    else:
        source = Stream.from_tcp(0)
    elements, errors = [], []
    source.map(len).sink(elements.append)
    source.sink(slow)
    source.errors().sink(errors.append)
    source.start()
    await asyncio.sleep(0.2)
    before = status()["VmRSS"]
    print(json.dumps({"port": source.port}), flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)  # the clients are done
    await source.drain()
    await asyncio.sleep(0.2)
    end = status()
    source.stop()
    await source.wait()
    print(json.dumps({
        "before_mb": round(before, 1), "peak_mb": round(end["VmHWM"], 1),
        "after_mb": round(end["VmRSS"], 1), "elements": len(elements),
        "element_bytes": sum(elements), "errors": len(errors),
        "error_kinds": sorted({type(e.error).__name__ for e in errors}),
    }), flush=True)

asyncio.run(main())
"""


def http_clients(port: int, clients: int, size: int) -> Counter[int | str]:
    """POST ``size`` bytes from ``clients`` connections at once; count the statuses."""

    async def one(body: bytes) -> int | str:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            return type(exc).__name__
        try:
            head = f"POST / HTTP/1.1\r\nHost: bench\r\nContent-Length: {len(body)}\r\n\r\n"
            writer.write(head.encode())
            try:
                writer.write(body)
                await writer.drain()
            except OSError:
                pass  # refused from the headers: the answer is still there to read
            line = await asyncio.wait_for(reader.readline(), 120)
            return int(line.split()[1]) if line else "closed"
        except OSError as exc:
            return type(exc).__name__
        finally:
            writer.close()

    async def run() -> Counter[int | str]:
        body = b"x" * size
        return Counter(await asyncio.gather(*(one(body) for _ in range(clients))))

    return asyncio.run(run())


def tcp_clients(port: int, clients: int, total: int) -> Counter[int | str]:
    """Each of ``clients`` sends ``total`` bytes with no delimiter, then closes."""

    async def one() -> str:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError as exc:
            return type(exc).__name__
        chunk = b"y" * (1 << 20)
        sent = 0
        try:
            while sent < total:
                writer.write(chunk[: total - sent])
                await writer.drain()
                sent += min(len(chunk), total - sent)
            writer.close()
            await writer.wait_closed()
            return "sent"
        except OSError as exc:
            return f"{type(exc).__name__} after {sent // 2**20} MiB"

    async def run() -> Counter[int | str]:
        return Counter(await asyncio.gather(*(one() for _ in range(clients))))

    return asyncio.run(run())


def run_case(case: str, args: argparse.Namespace) -> dict:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, case],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        port = json.loads(server.stdout.readline())["port"]
        start = time.perf_counter()
        if case == "http":
            seen = http_clients(port, args.http_clients, args.http_size)
            load = f"{args.http_clients} x {args.http_size / 2**20:g} MiB POSTs"
        else:
            seen = tcp_clients(port, args.tcp_clients, args.tcp_bytes)
            load = f"{args.tcp_clients} x {args.tcp_bytes / 1e6:g} MB, no delimiter"
        seconds = time.perf_counter() - start
        server.stdin.write("done\n")
        server.stdin.flush()
        result = json.loads(server.stdout.readline())
    finally:
        server.stdin.close()
        server.wait(timeout=60)
    clients = ", ".join(f"{k}: {v}" for k, v in sorted(seen.items(), key=str))
    return {"case": case, "load": load, "clients": clients, "client_seconds": seconds, **result}


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--http-clients", type=int, default=100)
    parser.add_argument("--http-size", type=int, default=1 << 20)
    parser.add_argument("--tcp-clients", type=int, default=5)
    parser.add_argument("--tcp-bytes", type=int, default=90_000_000)
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args(argv)
    results = [run_case("http", args), run_case("tcp", args)]
    print("# streams network sources: server memory under load\n")
    print(
        "| case | load | before (MB) | peak (MB) | after (MB) | clients saw | "
        "elements (bytes) | errors |"
    )
    print("|---|---|---:|---:|---:|---|---|---|")
    for r in results:
        kinds = ", ".join(r["error_kinds"])
        print(
            f"| {r['case']} | {r['load']} | {r['before_mb']:.1f} | {r['peak_mb']:.1f} | "
            f"{r['after_mb']:.1f} | {r['clients']} | {r['elements']} "
            f"({r['element_bytes']:,}) | {r['errors']} {kinds} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return results


if __name__ == "__main__":
    main()
