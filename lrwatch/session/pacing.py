"""Keep background threads from starving the UI thread of the GIL.

A reader or the rule engine can always find more work while records stream in; a pure-Python
loop then holds the GIL for whole switch intervals, and the UI thread, which needs only a few
milliseconds per key or frame, waits behind every busy thread. A :class:`Pacer` caps a
thread's duty cycle: after ``work`` seconds of work it sleeps ``rest`` seconds, which releases
the GIL for that long, so a key is handled and drawn within about one work slice.
"""

from __future__ import annotations

import time


class Pacer:
    """Call :meth:`tick` between small units of work; it sleeps once a work slice is used up."""

    def __init__(self, work: float = 0.02, rest: float = 0.005) -> None:
        self.work = work
        self.rest = rest
        self._since = time.monotonic()
        self.rested = 0.0  #: total seconds slept (for benchmarks)

    def tick(self) -> None:
        """Sleep ``rest`` seconds if ``work`` seconds passed since the last rest."""
        now = time.monotonic()
        if now - self._since >= self.work:
            time.sleep(self.rest)
            self.rested += self.rest
            self._since = time.monotonic()

    def idle(self) -> None:
        """The thread waited anyway (no data): start a fresh work slice."""
        self._since = time.monotonic()
