"""What happens at a step boundary: queued control commands applied on the training thread.

The control server thread only queues requests; :class:`Boundary` applies them between
optimizer steps with :class:`~lrwatch.train.lr.LRController`, writes the ``lr_change`` /
``pause`` / ``resume`` records and answers the client. Under torch.distributed every rank
calls :meth:`Boundary.run` each step: rank 0 hands one change at a time to
:class:`~lrwatch.train.dist.DistSync`, and every rank applies it at the same step.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from collections.abc import Callable
from typing import Any

from lrwatch.control import protocol as P
from lrwatch.control.dispatch import Reply

Emit = Callable[[dict[str, Any]], None]

MAX_QUEUE = 64

#: Protocol op -> the ``op`` of an ``lr_change`` record (and of DistSync changes).
_SHORT = {"set_lr": "set", "scale_lr": "scale", "unpin": "unpin"}


class Boundary:
    """Command queue + application of changes, pause and resume."""

    def __init__(self, limits: P.Limits, emit: Emit, flush: Callable[[], None]) -> None:
        self.limits = limits
        self.emit = emit
        self.flush = flush
        self.lr: Any = None  # LRController, once an optimizer is attached
        self.sync: Any = None  # DistSync when more than one rank
        self.rank = 0
        self.cmds: collections.deque[tuple[P.Request, Reply, str]] = collections.deque()
        self.history: list[dict[str, Any]] = []
        self.paused = False
        self.closed = False
        self.wake = threading.Event()

    def submit(self, req: P.Request, reply: Reply, by: str) -> bool:
        """Queue a change op (any thread); False when the queue is full."""
        if self.closed:
            reply(P.error_reply(req.id, P.CLOSED, "run has ended"))
            return True
        if len(self.cmds) >= MAX_QUEUE:
            return False
        self.cmds.append((req, reply, by))
        self.wake.set()
        return True

    def due(self) -> bool:
        """Whether this boundary has anything to do (cheap: checked every step)."""
        return bool(self.cmds) or self.paused or self.sync is not None

    def run(self, step: int, poll: Callable[[], None]) -> None:
        """Apply what is queued at ``step`` (the step just finished); block while paused."""
        while True:
            poll()
            self._drain(step)
            if not self.paused or self.closed:
                break
            self.wake.wait(0.05)
            self.wake.clear()
        if self.sync is not None:
            self._exchange(step)

    def cancel(self, status: str) -> None:
        """Answer every queued command: the run has ended."""
        self.closed = True
        while self.cmds:
            req, reply, _ = self.cmds.popleft()
            reply(P.error_reply(req.id, P.CLOSED, f"run ended ({status})"))

    # -- internals -------------------------------------------------------------------------

    def _drain(self, step: int) -> None:
        keep: list[tuple[P.Request, Reply, str]] = []
        # Only what is queued now: a client that answers each ack with a new request must
        # not keep the training thread in this loop forever.
        for _ in range(len(self.cmds)):
            req, reply, by = self.cmds.popleft()
            if self.sync is not None and req.op not in ("pause", "resume"):
                keep.append((req, reply, by))  # changes go through the rank exchange
                continue
            try:
                reply(self._apply(req, by, step))
            except Exception as exc:  # a refused change must never stop training
                reply(P.error_reply(req.id, P.REFUSED, f"{type(exc).__name__}: {exc}"))
        self.cmds.extendleft(reversed(keep))

    def _apply(self, req: P.Request, by: str, step: int) -> dict[str, Any]:
        if req.op == "pause":
            if not self.paused:
                self.paused = True
                self.emit({"kind": "pause", "step": step, "t": round(time.time(), 3), "by": by})
                self.flush()
            return P.ok_reply(req.id, op="pause", step=step, paused=True)
        if req.op == "resume":
            was = self.paused
            if was:
                self.paused = False
                self.emit({"kind": "resume", "step": step, "t": round(time.time(), 3), "by": by})
            return P.ok_reply(req.id, op="resume", step=step, paused=False, was_paused=was)
        refusal = self._check(req)
        if refusal is not None:
            return refusal
        old, new = self._change(*_change_args(req), step)
        return self._record(req, by, step, old, new)

    def _check(self, req: P.Request) -> dict[str, Any] | None:
        """Refuse a change whose result would be non-finite or above the ceiling."""
        if self.lr is None:
            return P.error_reply(req.id, P.REFUSED, "no optimizer attached yet")
        if req.op == "unpin":
            return None
        old = self.lr.current()
        group = req.args["group"]
        ref = old[0 if group is None else group]
        factor = req.args["factor"] if req.op == "scale_lr" else req.args["value"] / ref
        targets = range(len(old)) if group is None else [group]
        if any(not math.isfinite(old[g] * factor) for g in targets):
            return P.error_reply(req.id, P.BAD_VALUE, "resulting LR is not finite")
        over = [g for g in targets if old[g] * factor > self.limits.lr_ceiling * (1 + 1e-12)]
        if over:
            msg = f"new LR of group {over[0]} would exceed the ceiling {self.limits.lr_ceiling:g}"
            return P.error_reply(req.id, P.OUT_OF_RANGE, msg)
        return None

    def _change(
        self, op: str, value: float, group: int | None, mode: str, step: int
    ) -> tuple[list[float], list[float]]:
        # The new LR is used from the next optimizer step on: that is the step recorded.
        if op == "scale":
            return self.lr.scale(value, group, mode, step=step + 1)
        if op == "set":
            return self.lr.set(value, group, mode, step=step + 1)
        return self.lr.unpin(group, step=step + 1)

    def _record(
        self, req: P.Request, by: str, step: int, old: list[float], new: list[float]
    ) -> dict[str, Any]:
        change = {
            "step": step + 1,  # the first optimizer step that runs with the new LR
            "t": round(time.time(), 3),
            "old": [float(x) for x in old],
            "new": [float(x) for x in new],
            "mode": req.args.get("mode", "pin"),
            "by": by,
            "id": req.id,
            "op": _SHORT[req.op],  # docs/format.md: scale / set / unpin
        }
        self.history.append(change)
        self.emit({"kind": "lr_change", **change})
        return P.ok_reply(req.id, **change)

    def _exchange(self, step: int) -> None:
        """One DistSync call (every rank, every step); rank 0 offers its next change."""
        from lrwatch.train.dist import apply_change

        pending = None
        while self.rank == 0 and self.cmds and pending is None:
            req, reply, by = self.cmds.popleft()
            refusal = self._check(req)
            if refusal is not None:
                reply(refusal)
                continue
            pending = (*_change_args(req), (req, reply, by))
        change = self.sync.exchange(step + 1, pending)
        if change is None or self.lr is None:
            return
        try:
            old, new = apply_change(self.lr, change)
        except ValueError as exc:
            if change.tag is not None:
                req, reply, _ = change.tag
                reply(P.error_reply(req.id, P.REFUSED, str(exc)))
            return
        if change.tag is not None:
            req, reply, by = change.tag
            reply(self._record(req, by, step, old, new))


def _change_args(req: P.Request) -> tuple[str, float, int | None, str]:
    """``(op, value, group, mode)`` of a validated change request (for _change and DistSync)."""
    return (
        _SHORT[req.op],
        req.args.get("value", req.args.get("factor", 0.0)),
        req.args.get("group"),
        req.args.get("mode", "pin"),
    )
