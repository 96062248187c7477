"""Shared by the UI tests: waiting on a condition with a deadline (never on a fixed sleep),
a stock finding to show, a training script started as a process of its own, and the events
its log holds."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrwatch.rules import Finding


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


def finding(step: int, sev: str = "error", **kw: Any) -> Finding:
    """A too-high-LR finding at ``step`` with a ÷10 fix (id ``f<step>``)."""
    return Finding(
        "lr_too_high",
        sev,
        step,
        step,
        {"ratio": 4.0},
        "loss is diverging",
        "reduce LR 10×",
        {"op": "scale_lr", "factor": 0.1},
        0.8,
        id=f"f{step}",
        **kw,
    )


def start_script(
    *args: str | Path, ready: Callable[[], object], timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """``python ARGS`` (a training script) in a process of its own, returned once ``ready()``
    is true (its log or control socket exists); fails when it dies or takes ``timeout``."""
    proc = subprocess.Popen([sys.executable, *map(str, args)])
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, "trainer died"
        assert time.monotonic() < deadline, "trainer did not start"
        time.sleep(0.05)
    return proc


def records(log: Path, kind: str) -> list[dict[str, Any]]:
    """The records of ``kind`` (``rewind``, ``lr_change`` …) in the JSONL ``log``: its whole
    lines only, since a live trainer may be halfway through writing the last one."""
    text = log.read_text()
    lines = text[: text.rfind("\n") + 1].splitlines()
    return [r for r in map(json.loads, lines) if r.get("kind") == kind]
