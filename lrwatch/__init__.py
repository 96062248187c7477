"""lrwatch: watch a training run live, diagnose its learning rate, and fix it while it runs.

The public API is imported lazily so that ``import lrwatch`` inside a training job pulls in
neither textual, rich nor torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lrwatch._version import __version__

__all__ = ["Monitor", "__version__", "find_lr"]

if TYPE_CHECKING:  # pragma: no cover
    from lrwatch.train.finder import find_lr
    from lrwatch.train.monitor import Monitor


def __getattr__(name: str) -> Any:
    if name == "Monitor":
        from lrwatch.train.monitor import Monitor

        return Monitor
    if name == "find_lr":
        from lrwatch.train.finder import find_lr

        return find_lr
    raise AttributeError(f"module 'lrwatch' has no attribute {name!r}")
