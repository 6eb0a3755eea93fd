"""The conformance checks pass good connectors and catch bad ones."""

import asyncio
import collections

import pytest

from streams import Sink, Source, Stream
from streams.testing import check_sink, check_source

ITEMS = list(range(10, 20))


class Inbox(Source):
    """A well-behaved source: emits what arrives in a deque, polling it."""

    def __init__(self, inbox, **kwargs):
        self.inbox = inbox
        super().__init__(**kwargs)

    async def run(self):
        while not self.stopped:
            if self.inbox:
                await self.emit(self.inbox.popleft())
            else:
                await self.sleep(0.005)


class Eager(Inbox):
    """Hands every waiting element on without waiting for the consumer: no back pressure."""

    async def run(self):
        while not self.stopped:
            while self.inbox:
                Stream.emit(self, self.inbox.popleft())  # not awaited: the task runs alone
            await self.sleep(0.005)


class Early(Inbox):
    """Already runs before start()."""

    def __init__(self, inbox, **kwargs):
        super().__init__(inbox, **kwargs)
        self.start()

    def start(self):
        if not self.started:
            super().start()


class Deaf(Inbox):
    """Keeps emitting after stop()."""

    async def run(self):
        while True:  # ignores self.stopped
            if self.inbox:
                await self.emit(self.inbox.popleft())
            else:
                await asyncio.sleep(0.005)

    def stop(self):
        super().stop()
        self._run.finished.set()  # claims to be done


def produce_into(inbox):
    return lambda items: inbox.extend(items)


@pytest.mark.real_time
async def test_a_well_behaved_source_passes():
    inbox = collections.deque()
    await check_source(lambda: Inbox(inbox), produce_into(inbox), ITEMS, quiet=0.05)


@pytest.mark.real_time
async def test_a_source_without_back_pressure_fails():
    inbox = collections.deque()
    with pytest.raises(AssertionError, match="back pressure"):
        await check_source(lambda: Eager(inbox), produce_into(inbox), ITEMS, quiet=0.05)


@pytest.mark.real_time
async def test_a_source_running_before_start_fails():
    inbox = collections.deque()
    with pytest.raises(AssertionError, match="must not be started"):
        await check_source(lambda: Early(inbox), produce_into(inbox), ITEMS, quiet=0.05)


@pytest.mark.real_time
async def test_a_source_ignoring_stop_fails():
    inbox = collections.deque()
    with pytest.raises(AssertionError, match="after stop"):
        await check_source(lambda: Deaf(inbox), produce_into(inbox), ITEMS, quiet=0.05)


class Notebook(Sink):
    """A well-behaved sink: writes (after a pause) before accepting."""

    def __init__(self, upstream, page, **kwargs):
        self.page = page
        super().__init__(upstream, **kwargs)

    def update(self, x, who=None, metadata=()):
        return self._write(x)

    async def _write(self, x):
        await asyncio.sleep(0.001)
        self.page.append(x)


class Hasty(Notebook):
    """Accepts at once and writes later: the emitter does not wait."""

    def update(self, x, who=None, metadata=()):
        asyncio.get_running_loop().call_later(0.01, self.page.append, x)


class Lossy(Notebook):
    """Drops every third element."""

    def update(self, x, who=None, metadata=()):
        if x % 3:
            return self._write(x)
        return None


@pytest.mark.real_time
async def test_a_well_behaved_sink_passes():
    page = []
    await check_sink(lambda s: Notebook(s, page), lambda: page, ITEMS)


@pytest.mark.real_time
async def test_a_sink_without_back_pressure_fails():
    page = []
    with pytest.raises(AssertionError, match="no back pressure"):
        await check_sink(lambda s: Hasty(s, page), lambda: page, ITEMS)


@pytest.mark.real_time
async def test_a_sink_that_loses_elements_fails():
    page = []
    with pytest.raises(AssertionError, match="before the sink wrote it"):
        await check_sink(lambda s: Lossy(s, page), lambda: page, ITEMS)


@pytest.mark.real_time
async def test_a_source_that_leaks_a_file_fails(tmp_path):
    inbox = collections.deque()

    class Leaky(Inbox):
        async def run(self):
            self.handle = open(tmp_path / "leak.txt", "w")  # noqa: SIM115 -- the point
            await super().run()

    with pytest.raises(AssertionError, match="resources were not closed"):
        await check_source(lambda: Leaky(inbox), produce_into(inbox), ITEMS, quiet=0.05)


async def test_checks_refuse_too_few_items():
    with pytest.raises(ValueError, match="at least 6"):
        await check_source(Stream, list, [1, 2])
    with pytest.raises(ValueError, match="at least 3"):
        await check_sink(Stream, list, [1])
