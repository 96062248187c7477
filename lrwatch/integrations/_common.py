"""What the framework callbacks share: holding a :class:`lrwatch.Monitor` and binding it."""

from __future__ import annotations

from typing import Any

from lrwatch.train.lr import unwrap_optimizer, unwrap_scheduler
from lrwatch.train.monitor import Monitor


class MonitorCallback:
    """Base of the framework callbacks: an optional given Monitor, or the arguments to create
    one (``log``, ``control``, ``run`` and ``opts``, see :class:`lrwatch.Monitor`) when
    training starts."""

    def __init__(
        self,
        log: str | None = None,
        control: str | None = None,
        run: str | None = None,
        monitor: Monitor | None = None,
        **opts: Any,
    ) -> None:
        self.monitor = monitor
        self._args = {"log": log, "control": control, "run": run, **opts}

    def _start_monitor(self, optimizer: Any, scheduler: Any) -> Monitor:
        """Create the Monitor unless one was given, and bind the optimizer and scheduler."""
        if self.monitor is None:
            self.monitor = Monitor(**self._args)
        # accelerate (and some strategies) wrap both; step hooks only work on the real torch
        # optimizer.
        self.monitor.attach(unwrap_optimizer(optimizer), unwrap_scheduler(scheduler))
        return self.monitor
