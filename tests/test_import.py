"""Importing streams does no work: no thread, no loop, no heavy dependency."""

import subprocess
import sys
import textwrap


def run(code: str) -> None:
    subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=True)


def test_import_starts_no_thread_and_no_loop():
    run(
        """
        import asyncio, threading
        import streams
        assert threading.active_count() == 1, threading.enumerate()
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise AssertionError("a loop is running")
        """
    )


def test_import_does_not_load_heavy_dependencies():
    run(
        """
        import sys
        import streams, streams.graph, streams.loop, streams.refs
        heavy = {"dask", "distributed", "pandas", "numpy", "tornado", "graphviz", "networkx"}
        loaded = sorted(heavy & set(sys.modules))
        assert not loaded, loaded
        """
    )


def test_building_and_running_a_sync_graph_loads_nothing_heavy_either():
    run(
        """
        import sys, threading
        import streams
        s = streams.Stream()
        out = s.map(str).partition(2).zip(s).unique(key=str).flatten().sink_to_list()
        for i in range(6):
            s.emit(i)
        assert out, out
        assert threading.active_count() == 1
        assert not {"dask", "distributed", "pandas", "tornado"} & set(sys.modules)
        """
    )


def test_background_loop_starts_only_on_first_need():
    run(
        """
        import asyncio, threading
        import streams
        async def write(x):
            await asyncio.sleep(0)
        s = streams.Stream()
        s.sink(write)
        assert threading.active_count() == 1
        s.emit(1)
        names = [t.name for t in threading.enumerate()]
        assert names.count("streams-loop") == 1, names
        s.emit(2)
        assert [t.name for t in threading.enumerate()].count("streams-loop") == 1
        """
    )
