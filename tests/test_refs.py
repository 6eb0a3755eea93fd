"""RefCounter and the retain/release helpers (streams/refs.py)."""

from streams import RefCounter
from streams.refs import release_refs, retain_refs


def test_refcounter_counts_and_calls_back_at_zero():
    calls = []
    ref = RefCounter(initial=2, cb=lambda: calls.append(1))
    ref.release()
    assert (ref.count, calls) == (1, [])
    ref.retain(3)
    ref.release(4)
    assert (ref.count, calls) == (0, [1])
    assert repr(ref) == "<RefCounter count=0>"


def test_refcounter_without_callback_just_counts():
    ref = RefCounter()
    ref.release()
    assert ref.count == -1


def test_helpers_touch_only_ref_entries():
    a, b = RefCounter(), RefCounter()
    metadata = [{"ref": a}, {"offset": 7}, {"ref": b}]
    retain_refs(metadata, 2)
    assert (a.count, b.count) == (2, 2)
    release_refs(metadata)
    assert (a.count, b.count) == (1, 1)


class FakeIOLoop:
    """Has tornado's add_callback but no call_soon_threadsafe."""

    def __init__(self):
        self.scheduled = []

    def add_callback(self, cb):
        self.scheduled.append(cb)


def test_refcounter_uses_add_callback_of_tornado_style_loops():
    calls = []
    loop = FakeIOLoop()
    ref = RefCounter(initial=1, cb=lambda: calls.append(1), loop=loop)
    ref.release()
    assert calls == [] and len(loop.scheduled) == 1
    loop.scheduled[0]()
    assert calls == [1]
