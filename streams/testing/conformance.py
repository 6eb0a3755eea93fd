"""Checks that every source and sink connector must pass.

Run them on a real event loop (connectors do real I/O): in a test marked
``@pytest.mark.real_time``, or under ``asyncio.run``. Each raises ``AssertionError``
with a message saying which property failed.

A source must: start and stop idempotently; emit nothing before ``start``; emit what
arrives after ``start``; honour back pressure (not hand on the next element while a
consumer still works on the previous one); emit nothing after ``stop``; be done once
stopped; lose no element it handed on (every one it emitted was accepted); and close
its resources (no ``ResourceWarning`` once it is gone).

A sink must: write every element; make its emitter wait until the element is written
(or, for a batching sink, acknowledge an element only once it is written); and close
its resources on ``destroy()`` without losing what it accepted.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from .._util import identity
from ..core import Stream
from ..refs import RefCounter

__all__ = ["check_sink", "check_source"]


async def _call(func: Callable[..., Any], *args: Any) -> Any:
    result = func(*args)
    if inspect.isawaitable(result):
        result = await result
    return result


async def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting until {what}")
        await asyncio.sleep(0.01)


class _Gate:
    """An async sink that holds each element until released, counting what is in flight."""

    def __init__(self) -> None:
        self.started: list[Any] = []
        self.finished: list[Any] = []
        self.open = asyncio.Event()

    async def __call__(self, x: Any) -> None:
        self.started.append(x)
        await self.open.wait()
        self.finished.append(x)


async def check_source(
    make: Callable[[], Any],
    produce: Callable[[Sequence[Any]], Any],
    items: Sequence[Any],
    *,
    expect: Callable[[Any], Any] = identity,
    produce_before_start: bool = True,
    timeout: float = 10.0,
    quiet: float = 0.3,
) -> None:
    """Check a source connector against the conformance properties.

    Parameters
    ----------
    make : callable
        Returns a new, unstarted source.
    produce : callable
        Puts the given items into the external system the source reads (may be async).
    items : sequence
        At least 6 distinct items to produce.
    expect : callable, optional
        What the source emits for an item (default: the item itself).
    produce_before_start : bool, optional
        Produce one item before ``start`` to check that nothing is emitted early (turn
        off for sources that cannot receive before they start, like servers).
    timeout : float, optional
        Seconds to wait for expected elements.
    quiet : float, optional
        Seconds to watch for elements that must not come.
    """
    if len(items) < 6:
        raise ValueError("check_source needs at least 6 items")
    _collect_earlier_garbage()
    remains = await _exercise_source(
        make, produce, items, expect, produce_before_start, timeout, quiet
    )
    _gone_without_leaks(remains)


async def _exercise_source(
    make: Callable[[], Any],
    produce: Callable[[Sequence[Any]], Any],
    items: Sequence[Any],
    expect: Callable[[Any], Any],
    produce_before_start: bool,
    timeout: float,
    quiet: float,
) -> list[Any]:
    """Run the checks of :func:`check_source`; return what must be gone afterwards."""
    source = make()
    got = source.sink_to_list()
    assert not source.started, "a new source must not be started"
    assert source.stopped, "a new source must not be running"
    if produce_before_start:
        await _call(produce, items[:1])
        await asyncio.sleep(quiet)
        assert got == [], f"emitted {got!r} before start()"

    source.start()
    source.start()  # idempotent
    assert source.started, "start() did not start the source"
    assert not source.stopped, "start() did not start the source"
    wanted = [expect(x) for x in items[1:3]]
    await _call(produce, items[1:3])
    await _until(lambda: all(w in got for w in wanted), timeout, f"{wanted!r} were emitted")

    gate = _Gate()
    source.sink(gate)
    held = [expect(x) for x in items[3:5]]
    await _call(produce, items[3:5])
    await _until(lambda: held[0] in gate.started, timeout, f"{held[0]!r} reached a slow sink")
    await asyncio.sleep(quiet)
    assert held[1] not in gate.started, (
        f"back pressure: {held[1]!r} was handed on while the consumer still worked on {held[0]!r}"
    )
    gate.open.set()
    await _until(lambda: all(h in gate.finished for h in held), timeout, f"{held!r} were done")

    source.stop()
    source.stop()  # idempotent
    await asyncio.wait_for(_wait_source(source), timeout)
    assert source.stopped, "the source still runs after stop()"
    assert source.done, "the source is not done after stop()"
    seen = len(got)
    await _call(produce, items[5:])
    await asyncio.sleep(quiet)
    assert len(got) == seen, f"emitted {got[seen:]!r} after stop()"
    assert gate.started == gate.finished, "an element was handed on but never finished"
    return [source, got.node]


async def _wait_source(source: Any) -> None:
    result = source.wait()
    if result is not None:
        await result


def _collect_earlier_garbage() -> None:
    """Collect what earlier code left for the garbage collector (a finished Dask cluster's
    sockets, say) so that the leak check after the exercise blames only what it made."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def _gone_without_leaks(remains: list[Any]) -> None:
    """Destroy and drop the last references to ``remains`` (the caller holds no other),
    then collect: unclosed files or sockets warn then."""
    for obj in remains:
        obj.destroy()
    remains.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, f"resources were not closed: {leaks}"


async def check_sink(
    make: Callable[[Stream[Any]], Any],
    read_back: Callable[[], Any],
    items: Sequence[Any],
    *,
    expect: Callable[[Any], Any] = identity,
    batched: bool = False,
    timeout: float = 10.0,
) -> None:
    """Check a sink connector against the conformance properties.

    Parameters
    ----------
    make : callable
        Called with an upstream stream; attaches the sink and returns its node.
    read_back : callable
        Returns what the external system holds so far, as a list (may be async).
    items : sequence
        At least 3 distinct items to write.
    expect : callable, optional
        How an item looks when read back (default: the item itself).
    batched : bool, optional
        The sink writes in batches: an element is acknowledged (its ref released) only
        once written, but ``await emit`` may return earlier.
    timeout : float, optional
        Seconds to wait for writes to appear.
    """
    if len(items) < 3:
        raise ValueError("check_sink needs at least 3 items")
    _collect_earlier_garbage()
    remains = await _exercise_sink(make, read_back, items, expect, batched, timeout)
    _gone_without_leaks(remains)  # destroys again: idempotent


async def _exercise_sink(
    make: Callable[[Stream[Any]], Any],
    read_back: Callable[[], Any],
    items: Sequence[Any],
    expect: Callable[[Any], Any],
    batched: bool,
    timeout: float,
) -> list[Any]:
    """Run the checks of :func:`check_sink`; return what must be gone afterwards."""
    source: Stream[Any] = Stream()
    node = make(source)
    acked: list[Any] = []
    for item in items:
        ref = RefCounter(cb=_appender(acked, item))
        await source.emit(item, metadata=[{"ref": ref}])
        if not batched:
            written = await _call(read_back)
            assert expect(item) in written, (
                f"await emit({item!r}) returned before the sink wrote it (no back pressure)"
            )
            assert item in acked, f"{item!r} was written but never acknowledged"
        else:
            for earlier in acked:
                assert expect(earlier) in await _call(read_back), (
                    f"{earlier!r} was acknowledged before it was written"
                )
    await _wait_drain(source)
    written = await _call(read_back)
    missing = [expect(x) for x in items if expect(x) not in written]
    assert not missing, f"not written: {missing!r}"
    await _until(lambda: len(acked) == len(items), timeout, "every element was acknowledged")
    node.destroy()
    return [node, source]


async def _wait_drain(node: Stream[Any]) -> None:
    result = node.drain()
    if result is not None:
        await result


def _appender(out: list[Any], item: Any) -> Callable[[], None]:
    def append() -> None:
        out.append(item)

    return append
