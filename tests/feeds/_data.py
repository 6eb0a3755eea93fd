"""Activities for feed tests, at fixed distinct times."""

from datetime import datetime, timedelta

from streams.feeds import Activity, Add, Love

BASE = datetime(2024, 3, 1, 8, 0, 0)


def activities(n, verb=Love, actor=None, start=BASE, step=timedelta(seconds=1), first_object=1):
    """``n`` activities, object ids ``first_object..``, one ``step`` apart, oldest first."""
    return [
        Activity(actor if actor is not None else i, verb, first_object + i, time=start + i * step)
        for i in range(n)
    ]


__all__ = ["BASE", "Activity", "Add", "Love", "activities"]
