"""Task functions for tests/test_dask.py, importable by Dask workers.

Workers of a threads cluster (``LocalCluster(processes=False)``) run in the test
process, so the module-level state here (counters, a gate) is shared with the test.
Worker processes (``processes=True``) import this module by name too (the test
directory is on ``sys.path``); there the state is per process and only the pure
functions are used.
"""

import threading
import time

_lock = threading.Lock()
running = 0  # tasks inside ``tracked`` right now
peak = 0  # the most that were inside at once since ``reset()``
finished: list = []  # elements in the order their task finished
task_keys: dict = {}  # label -> keys of the tasks that called ``keyed``
started: list = []  # elements that entered ``gated``
failed_once: set = set()  # elements ``fails_once`` has failed for
gate = threading.Event()


def reset():
    """Forget everything recorded so far (and close the gate)."""
    global running, peak
    with _lock:
        running = 0
        peak = 0
        finished.clear()
        task_keys.clear()
        started.clear()
        failed_once.clear()
        gate.clear()


def jitter(x):
    """A short, pseudo-random but deterministic sleep for element ``x`` (0-45 ms)."""
    return ((x * 7919 + 13) % 10) * 0.005


def slow_square(x):
    """``x * x`` after a deterministic-per-element sleep; records completion order."""
    time.sleep(jitter(x))
    with _lock:
        finished.append(x)
    return x * x


def tracked(x, delay=0.05):
    """``x + 1000`` after ``delay`` seconds, counting how many calls overlap."""
    global running, peak
    with _lock:
        running += 1
        peak = max(peak, running)
    try:
        time.sleep(delay)
    finally:
        with _lock:
            running -= 1
    return x + 1000


def gated(x):
    """``-x`` once the test opens the gate (waits at most 10 s, never forever)."""
    with _lock:
        started.append(x)
    gate.wait(10)
    return -x


class Keyed:
    """``func`` wrapped so that every call records the key of the task running it.

    A module-level class (not a closure), so that it pickles by reference and its
    calls on a threads cluster update this module's ``task_keys``.
    """

    def __init__(self, label, func):
        self.label = label
        self.func = func
        self.__name__ = f"keyed_{label}"

    def __call__(self, *args, **kwargs):
        from distributed import get_worker

        try:
            key = get_worker().get_current_task()
        except ValueError:  # called locally (the oracle run): nothing to record
            pass
        else:
            with _lock:
                task_keys.setdefault(self.label, set()).add(key)
        return self.func(*args, **kwargs)


def pause_square(x):
    """``x * x`` after 50 ms: slow enough that a worker dies with tasks in flight."""
    time.sleep(0.05)
    return x * x


def fails_on_three(x):
    """``10 // (x - 3)``: raises ZeroDivisionError for 3."""
    return 10 // (x - 3)


def fails_once(x):
    """``-x``, but the first call for each odd ``x`` raises ValueError."""
    with _lock:
        first = x % 2 == 1 and x not in failed_once
        failed_once.add(x)
    if first:
        raise ValueError(f"transient failure for {x}")
    return -x


def add(a, b):
    return a + b


def add_pair(state, x):
    """An accumulate step that returns ``(new state, result)``."""
    new = state + x
    return new, new * 10
