"""AwesomeStream's README session, against an event-store server started here.

A server with an in-memory store runs on a free loopback port in a background thread;
the blocking client stores a few GitHub-like activity events and asks what a user's
friends did, a page at a time.

Run it with ``python examples/event_server.py``.
"""

import asyncio
import threading

from streams.eventstore import Client, MemoryBackend, create_app, start_server

EVENTS = [
    {"kind": "create-repo", "repo": 17, "user": 291},
    {"kind": "friend", "user": 23, "friend": 291},
    {"kind": "commit", "repo": 17, "user": 23, "message": "first"},
    {"kind": "friend", "user": 291, "friend": 23},
    {"kind": "watch", "repo": 17, "user": 5},
]


def serve(backend):
    """Start the server on its own loop thread; return (url, stop)."""
    loop = asyncio.new_event_loop()

    async def start():
        return start_server(create_app(backend), port=0)

    server = loop.run_until_complete(start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def stop():
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()

    return server.url, stop


def main():
    url, stop = serve(MemoryBackend(keys=["user", "kind", "repo"]))
    try:
        c = Client(url)
        for n, event in enumerate(EVENTS):
            c.insert(event, n)  # dated 0, 1, 2... seconds: a fixed order
        print("friend events of user 23:", c.items(kind="friend", user=23))
        print("users 23 and 291, items 1 to 3:", c.items(user=[23, 291], start=1, end=3))
        print("events on repo 17:", c.count(repo=17))
        try:
            c.items(colour="red")
        except ValueError as error:
            print("error:", error)
    finally:
        stop()


if __name__ == "__main__":
    main()
