"""The worker command line: ``streams worker -A module:app`` and ``app.main()``.

Commands (Faust's names):

``worker [-l LEVEL]``
    Run the app until SIGINT or SIGTERM, then stop gracefully: the agents finish the
    events in hand, the last checkpoint commits tables and positions.
``send TOPIC|@AGENT VALUE [-k KEY] [--repeat N]``
    Send ``VALUE`` (JSON, or a plain string) to a topic or an agent's channel.
``agents``, ``tables``
    List them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import signal
import sys
from typing import Any

__all__ = ["load_app", "main"]


def load_app(spec: str) -> Any:
    """The App named by ``"module:attribute"`` (or ``"module"``, whose ``app``)."""
    from .app import App

    module_name, _, attr = spec.partition(":")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")  # as `python -m` does: modules of the working directory
    module = importlib.import_module(module_name)
    app = getattr(module, attr or "app", None)
    if not isinstance(app, App):
        raise SystemExit(f"streams: {spec!r} names no streams.app.App (got {app!r})")
    return app


def _parser(with_app_option: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="streams", description="Run a streams.app App.")
    if with_app_option:
        parser.add_argument("-A", "--app", required=True, help="module:app of the App")
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="run the app until SIGINT/SIGTERM")
    worker.add_argument("-l", "--loglevel", default="warning", help="log level (info...)")
    worker.add_argument("--without-web", action="store_true", help="(no web server here)")
    worker.add_argument("--web-port", type=int, help="(no web server here)")
    send = commands.add_parser("send", help="send a value to a topic or @agent")
    send.add_argument("entity", help="a topic name, or @agent_name")
    send.add_argument("value", nargs="?", default=None, help="JSON or a string")
    send.add_argument("-k", "--key", default=None, help="the key")
    send.add_argument("--repeat", type=int, default=1, help="send it this many times")
    commands.add_parser("agents", help="list the agents")
    commands.add_parser("tables", help="list the tables")
    return parser


def main(argv: list[str] | None = None, app: Any = None) -> None:
    """Run a command; ``app`` given: ``app.main()`` (no ``-A``)."""
    args = _parser(app is None).parse_args(argv)
    if app is None:
        app = load_app(args.app)
    if args.command == "worker":
        level = getattr(logging, str(args.loglevel).upper(), None)
        if not isinstance(level, int):
            raise SystemExit(f"streams worker: unknown log level {args.loglevel!r}")
        logging.basicConfig(
            level=level, format="[%(asctime)s] %(levelname)s %(name)s: %(message)s"
        )
        run_worker(app)
    elif args.command == "send":
        print(json.dumps(asyncio.run(_send(app, args.entity, args.value, args.key, args.repeat))))
    elif args.command == "agents":
        for name, agent in sorted(app.agents.items()):
            print(f"@{name}\t{agent.channel.name}")
    elif args.command == "tables":
        for name in sorted(app.tables):
            print(name)


def run_worker(app: Any) -> None:
    """Run ``app`` on a new event loop until SIGINT or SIGTERM.

    The first signal stops the app gracefully (the agents finish the events in hand, a
    last checkpoint is taken); a second one while that waits (an agent that never
    finishes its event) ends the worker at once, with exit status 1: the tables and
    positions stay at the last checkpoint, and a restart goes on from there.
    """
    log = logging.getLogger("streams.app")
    signals = []

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None

        def on_signal() -> None:
            signals.append(1)
            if len(signals) == 1:
                log.info("App %s: stopping (a second signal stops at once)", app.id)
                app.request_stop()
            else:
                task.cancel()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        try:
            await app.serve()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)

    log.info("App %s: worker starting", app.id)
    try:
        asyncio.run(serve())
    except asyncio.CancelledError:
        log.error(
            "App %s: worker stopped at once by a second signal; its tables and positions "
            "are those of the last checkpoint",
            app.id,
        )
        raise SystemExit(1) from None
    log.info("App %s: worker stopped", app.id)


async def _send(app: Any, entity: str, value: Any, key: Any, repeat: int) -> list[Any]:
    if entity.startswith("@"):
        name = entity[1:]
        target = app.agents.get(name) or next(
            (a for n, a in app.agents.items() if n.rsplit(".", 1)[-1] == name), None
        )
        if target is None:
            raise SystemExit(f"streams send: no agent named {name!r} (see `agents`)")
        channel = target.channel
    else:
        channel = app.topic(entity)
    decoded = _value(value, getattr(channel, "value_type", None))
    sent = []
    try:
        for _ in range(repeat):
            meta = await channel.send(key=key, value=decoded)
            sent.append({"topic": meta.topic, "partition": meta.partition, "offset": meta.offset})
    finally:
        await app._close_clients()
    return sent


def _value(text: str | None, value_type: Any) -> Any:
    if text is None:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = text
    from_data = getattr(value_type, "from_data", None)
    if from_data is not None and isinstance(data, dict):
        return from_data(data)
    return data
