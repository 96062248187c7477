"""Waiting in pilot tests: on a condition with a deadline, never on a fixed sleep."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


async def until(pilot: Any, cond: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app run until ``cond()`` is true; fail after ``timeout`` seconds.

    A message posted from a test reaches its handler after a few hops of the app's queues
    (and a handler may defer work to after the next refresh); under load one ``pause()``
    is not always enough, so tests wait for what they expect to see.
    """
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.02)
