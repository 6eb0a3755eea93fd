"""streamz-style programs run unchanged with ``import streams as sz``.

Each program below is run twice, once with ``import streamz as sz`` and once with
``import streams as sz``, and must print the same lines. Only behaviour both libraries
share is exercised here; deliberate differences are tested where they live.
"""

import subprocess
import sys
import textwrap

import pytest

PROGRAMS = {
    "map-filter-sink": """
        source = sz.Stream()
        source.map(lambda x: x + 1).filter(lambda x: x % 2 == 0).sink(print)
        for i in range(6):
            source.emit(i)
    """,
    "accumulate-forms": """
        from operator import add
        source = sz.Stream()
        source.accumulate(add).sink(print)
        source.scan(lambda acc, x: acc + 1, start=0).sink(print)
        source.accumulate(lambda acc, x: ((acc[0] + 1, x), (acc[0], x)),
                          start=(0, 0), returns_state=True).sink(print)
        source.accumulate(add, start=10, with_state=True).sink(print)
        for i in range(3):
            source.emit(i)
    """,
    "partitions-and-windows": """
        source = sz.Stream()
        source.partition(3).sink(print)
        source.partition(2, key=lambda x: x % 2).sink(print)
        source.sliding_window(3).sink(print)
        source.sliding_window(2, return_partial=False).sink(print)
        source.partition_unique(2).sink(print)
        for x in [1, 1, 2, 3, 3, 4, 5]:
            source.emit(x)
    """,
    "joins": """
        a, b, c = sz.Stream(), sz.Stream(), sz.Stream()
        sz.zip(a, b).sink(print)
        a.zip(b, "lit").sink(print)
        a.combine_latest(b, emit_on=a).sink(print)
        c.zip_latest(a).sink(print)
        sz.union(a, b).sink(print)
        c.emit("c0")
        a.emit(1); b.emit("x"); a.emit(2); c.emit("c1"); b.emit("y"); a.emit(3)
    """,
    "flatten-unique-pluck-frequencies": """
        source = sz.Stream()
        flat = source.flatten()
        flat.unique().sink(print)
        flat.unique(maxsize=1).sink(print)
        source.concat().frequencies().sink(print)
        source.pluck(0).sink(print)
        source.pluck([0, 1]).sink(print)
        for x in [[1, 1, 2], [2, 3, 1]]:
            source.emit(x)
    """,
    "collect-flush": """
        source, ticks = sz.Stream(), sz.Stream()
        coll = source.collect()
        coll.sink(print)
        ticks.sink(coll.flush)
        source.emit(1); source.emit(2); ticks.emit("now"); source.emit(3); ticks.emit("now")
    """,
    "custom-nodes-and-register-api": """
        @sz.Stream.register_api()
        class double(sz.Stream):
            def update(self, x, who=None, metadata=None):
                return self._emit(2 * x, metadata=metadata)

        class Offset(sz.Stream):
            def __init__(self, upstream, k, **kwargs):
                self.k = k
                sz.Stream.__init__(self, upstream, **kwargs)

            def update(self, x, who=None, metadata=None):
                return self._emit(x + self.k, metadata=metadata)

        source = sz.Stream()
        Offset(source.double(), 100).sink(print)
        L = source.sink_to_list()
        source.emit(1); source.emit(2)
        print(L)
        plain = sz.Stream()
        source.connect(plain)
        plain.sink(print)
        source.emit(3)
    """,
    "graph-attributes": """
        source = sz.Stream(stream_name="src")
        m = source.map(str)
        print(m.upstream is source, source.downstreams and list(source.downstreams) == [m])
        print(source.name, len(m.upstreams))
        source.emit(5)
        print(m.current_value)
        m.destroy()
        print(len(list(source.downstreams)))
    """,
    "dask-scatter-gather": """
        from distributed import Client
        def inc(x):
            return x + 1
        if __name__ == "__main__":
            client = Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=":0")
            source = sz.Stream()
            source.scatter().map(inc).accumulate(lambda a, b: a + b).gather().sink(print)
            L = source.scatter().map(inc).gather().sink_to_list()
            for i in range(5):
                source.emit(i)
            print(L)
            client.close()
    """,
    "node-str": """
        def add(x, y=0):
            return x + y
        source = sz.Stream()
        named = sz.Stream(stream_name="prices")
        print(source, named, repr(source))
        print(source.map(add, y=1), source.filter(bool), source.accumulate(add))
        print(source.partition(2), source.sliding_window(3), source.timed_window(0.05))
        print(source.delay(0.5), source.rate_limit(2))
    """,
    "custom-source-on-its-loop": """
        import time
        from tornado import gen

        @sz.Stream.register_api()
        class from_list(sz.Stream):
            def __init__(self, items, **kwargs):
                self.items = list(items)
                super().__init__(ensure_io_loop=True, **kwargs)

            def start(self):
                self.loop.add_callback(self.run)  # a loop from construction on

            @gen.coroutine
            def run(self):
                while self.items:
                    yield self._emit(self.items.pop(0))

        source = sz.Stream.from_list([1, 2, 3])
        out = source.map(lambda x: 10 * x).sink_to_list()
        print(source.loop is not None, hasattr(source.loop, "asyncio_loop"))
        source.start()
        deadline = time.time() + 10
        while len(out) < 3 and time.time() < deadline:
            time.sleep(0.01)
        print(out)
    """,
    "sink-kwargs": """
        def show(x, prefix, suffix="!"):
            print(prefix + str(x) + suffix)
        source = sz.Stream()
        source.sink(show, ">", suffix="?")
        source.starmap(lambda a, b, c: a + b + c, 10).sink(print)
        source.emit((1, 2))
    """,
}


def run(module: str, program: str) -> str:
    code = f"import {module} as sz\n" + textwrap.dedent(program)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_same_output_as_streamz(name):
    expected = run("streamz", PROGRAMS[name])
    assert expected.strip(), "the program printed nothing"
    assert run("streams", PROGRAMS[name]) == expected
