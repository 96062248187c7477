"""What the framework callbacks share: holding a :class:`lrwatch.Monitor` and binding it."""

from __future__ import annotations

from typing import Any

from lrwatch.train.lr import unwrap_optimizer, unwrap_scheduler
from lrwatch.train.monitor import Monitor
from lrwatch.train.snapshots import OnRewind, Rewind

#: ``on_rewind=`` value that asks a callback for its framework's own disk checkpoint hook.
CHECKPOINT = "checkpoint"


class MonitorCallback:
    """Base of the framework callbacks: an optional given Monitor, or the arguments to create
    one (``log``, ``control``, ``run`` and ``opts``, see :class:`lrwatch.Monitor`) when
    training starts. ``opts`` may hold ``snapshot_every``, ``keep`` and ``on_rewind`` (a hook,
    or ``"checkpoint"``: restore from the framework's own checkpoints on disk)."""

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
        self._rewind_seen: Rewind | None = None

    def _start_monitor(self, optimizer: Any, scheduler: Any, model: Any = None) -> Monitor:
        """Create the Monitor unless one was given, and bind the optimizer, scheduler and
        model (the model is what snapshots copy and a rewind restores)."""
        if self.monitor is None:
            args = dict(self._args)
            if args.get("on_rewind") == CHECKPOINT:
                args["on_rewind"] = self._checkpoint_hook()
            self.monitor = Monitor(**args)
        # accelerate (and some strategies) wrap both; step hooks only work on the real torch
        # optimizer.
        self.monitor.attach(unwrap_optimizer(optimizer), unwrap_scheduler(scheduler), model=model)
        return self.monitor

    def _checkpoint_hook(self) -> OnRewind:
        """The framework's disk hook for ``on_rewind="checkpoint"`` (subclasses give one)."""
        raise ValueError(f"on_rewind={CHECKPOINT!r} is not supported by {type(self).__name__}")

    def _new_rewind(self) -> Rewind | None:
        """The rewind the Monitor applied at the step boundary that just ran, if any."""
        last = self.monitor.last_rewind if self.monitor is not None else None
        if last is None or last is self._rewind_seen:
            return None
        self._rewind_seen = last
        return last
