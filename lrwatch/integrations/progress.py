"""The run's total steps, as a framework states it, handed to the Monitor (progress, ETA)."""

from __future__ import annotations

import math
from typing import Any


def known_total(value: Any) -> int | None:
    """``value`` as a step count; None where the framework means "unknown": ``-1`` (HF and
    Lightning's unset ``max_steps``), ``0``, ``inf`` (Lightning's estimate of an endless
    run), ``None`` or anything that is not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 1:
        return None
    return int(value)


def announce_total(monitor: Any, *candidates: Any) -> None:
    """Tell ``monitor`` the first usable total of ``candidates`` (in order of trust).

    A total the user gave (``Monitor(total_steps=N)``) is kept: they know their run.
    """
    if getattr(monitor, "total_steps", None):
        return
    for value in candidates:
        total = known_total(value)
        if total is not None:
            monitor.set_total_steps(total)
            return
