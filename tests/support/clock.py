"""A fake monotonic clock for code that polls with (clock, sleep): time moves only when it sleeps."""

from __future__ import annotations


class Clock:
    """Call it for the time; pass its sleep() as the sleep function."""

    def __init__(self, now=0.0):
        self.now = now

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
