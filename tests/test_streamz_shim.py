"""The import shim of scripts/streamz_suite.py: ``streamz`` names are streams' names."""

import subprocess
import sys
import textwrap
from pathlib import Path

SHIM = Path(__file__).resolve().parent.parent / "scripts" / "streamz_shim"


def run_with_shim(program: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(program)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(SHIM), "PATH": ""},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_streamz_resolves_to_streams():
    out = run_with_shim("""
        import streams, streamz
        from streamz import Stream
        import streamz.sources
        print(Stream is streams.Stream, streamz.sources.sink_to_file is not None)
    """)
    assert out.split() == ["True", "True"]


def test_the_streamz_logger_is_the_streams_logger():
    # streamz's test_map_errors_log and test_accumulate_errors_log capture "streamz"
    out = run_with_shim("""
        import io, logging
        import streamz
        from streams import Stream
        print(logging.getLogger("streamz") is logging.getLogger("streams"))
        buffer = io.StringIO()
        logging.getLogger("streamz").addHandler(logging.StreamHandler(buffer))
        source = Stream()
        source.map(lambda x: 1 / x, on_error="dead_letter").sink(print)
        source.emit(0)  # no error stream: the dead letter is logged
        print("ZeroDivisionError" in buffer.getvalue())
    """)
    assert out.split() == ["True", "True"]
