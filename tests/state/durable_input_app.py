"""The program of the durable_input crash tests, run in a child process (see
test_durable_input.py).

``python durable_input_app.py <workdir> [options]``: a producer emits the lines
``u<i % 50>,<i % 7 + 1>`` for ``i < --lines`` into a plain ``Stream()`` (direct ``emit()``
calls: nothing can replay them) logged by ``durable_input`` into ``<workdir>/state.db``;
the graph after the log keeps running totals per user. The producer starts at the number
of elements already logged (``logged.logged``), as a client resending what was not
acknowledged would. Each start appends what it restored to ``restored.jsonl``; a run that
counted every element writes ``result.json``.

``--checkpoint-after i``: a checkpoint once element ``i`` was emitted;
``--kill-after i``: SIGKILL once element ``i`` was accepted (its emit returned);
``--kill-at n``: SIGKILL when the n-th element (counted in this process) reaches the
first node after the log.
"""

import argparse
import asyncio
import json
import os
import signal
from pathlib import Path

import streams.state.wal  # noqa: F401  (registers the durable input's adapter)
from streams import Stream
from streams.state import Checkpointer, SQLiteStore


def line(i):
    return f"u{i % 50},{i % 7 + 1}"


def killer(kill_at):
    seen = 0

    def check(x):
        nonlocal seen
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        seen += 1
        return x

    return check


async def main(work, args):
    store = SQLiteStore(work / "state.db")
    source = Stream()
    logged = source.durable_input(store, max_backlog=args.backlog, stream_name="orders")
    orders = logged.map(killer(args.kill_at)).map(lambda text: text.split(","))
    totals = orders.accumulate(
        lambda total, o: total + int(o[1]), start=0, key=0, stream_name="totals"
    )
    count = orders.accumulate(lambda n, o: n + 1, start=0, stream_name="n")
    done = asyncio.Event()
    count.sink(lambda n: n == args.lines and done.set())
    ck = Checkpointer(logged, store=store, interval=None, every=args.every)
    async with ck:
        first = logged.logged  # what the log holds already need not be sent again
        with open(work / "restored.jsonl", "a") as f:
            note = {"id": ck.last_id, "positions": ck.restored, "first": first}
            f.write(json.dumps(note) + "\n")
        for i in range(first, args.lines):
            await source.emit(line(i))  # returns once the line is in the log
            if i == args.checkpoint_after:
                await ck.checkpoint()
            if i == args.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
        if count.state != args.lines:
            await done.wait()
    result = {"totals": totals.state, "n": count.state, "last_id": ck.last_id}
    (work / "result.json").write_text(json.dumps(result))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("work", type=Path)
    parser.add_argument("--lines", type=int, default=3000)
    parser.add_argument("--every", type=int, default=None)
    parser.add_argument("--backlog", type=int, default=10_000)
    parser.add_argument("--checkpoint-after", type=int, default=-1)
    parser.add_argument("--kill-after", type=int, default=-1)
    parser.add_argument("--kill-at", type=int, default=-1)
    args = parser.parse_args()
    asyncio.run(main(args.work, args))
