"""Small helpers of :class:`lrwatch.Monitor` about its process: the rank, the run name, the
SIGTERM handler, and turning what a script logs into numbers."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def to_float(value: Any) -> float | None:
    """A logged value as a float (tensors and numpy scalars too), None when it is none."""
    if type(value) is float:
        return value
    try:
        if hasattr(value, "item"):
            value = value.item()  # tensors / numpy scalars: the only sync, and only here
        return float(value)  # bools too: True/False log as 1.0/0.0
    except (TypeError, ValueError, RuntimeError):
        return None


def positive_int(n: Any) -> int | None:
    """``n`` as a positive int, or None (HF's ``max_steps=-1``: unknown)."""
    try:
        value = int(n)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if value > 0 else None


def default_run(log: str | os.PathLike[str] | None) -> str:
    """The run name when none is given: the log's stem, else a timestamp."""
    if log:
        return Path(log).stem
    return time.strftime("run-%Y%m%d-%H%M%S")


def dist_rank() -> tuple[int, int]:
    """(rank, world size): torch.distributed's when initialised, else ``$RANK``/``$WORLD_SIZE``."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def install_sigterm(close: Callable[[str], None]) -> None:
    """On SIGTERM: ``close("crashed")``, then the previous handler (or the default death)."""
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.getsignal(signal.SIGTERM)

    def handler(signum: int, frame: Any) -> None:
        close("crashed")
        if callable(previous):
            previous(signum, frame)
            return
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, handler)
