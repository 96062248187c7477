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
from lrwatch.lrchange import LRChange
from lrwatch.train.dist import apply_change, apply_lr_change

Emit = Callable[[dict[str, Any]], None]
#: ``(request, step) -> reply``: answers a queued op on the training thread (``rewind``,
#: ``schedule``); ``who`` (:func:`who`) is in ``request.attribution`` and the transport.
Answer = Callable[[P.Request, str, int], dict[str, Any]]

MAX_QUEUE = 64
#: The refusal of a ``rewind`` by a run that keeps no snapshots and has no ``on_rewind`` hook.
NO_SNAPSHOTS = "no snapshots to rewind to: start the Monitor with snapshot_every=N or on_rewind="


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
        #: Answers ``rewind`` (the Monitor's snapshots) and ``schedule`` (its forecast); an op
        #: without one is refused.
        self.answers: dict[str, Answer] = {}

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
            if self.sync is not None and req.op in P.LR_CHANGE_OPS:
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
                t = round(time.time(), 3)
                self.emit({"kind": "pause", "step": step, "t": t, **who(req, by)})
                self.flush()
            return P.ok_reply(req.id, op="pause", step=step, paused=True)
        if req.op == "resume":
            was = self.paused
            if was:
                self.paused = False
                t = round(time.time(), 3)
                self.emit({"kind": "resume", "step": step, "t": t, **who(req, by)})
            return P.ok_reply(req.id, op="resume", step=step, paused=False, was_paused=was)
        if req.op in self.answers:
            return self.answers[req.op](req, by, step)
        if req.op == "rewind":
            return P.error_reply(req.id, P.REFUSED, NO_SNAPSHOTS)
        if req.op == "schedule":
            return P.error_reply(req.id, P.UNSUPPORTED, "this run cannot forecast its schedule")
        refusal = self._check(req)
        if refusal is not None:
            return refusal
        assert req.change is not None  # _check refuses a request without one
        # The new LR is used from the next optimizer step on: that is the step recorded.
        old, new = apply_lr_change(self.lr, req.change, step + 1)
        return self._record(req, by, step, old, new)

    def _check(self, req: P.Request) -> dict[str, Any] | None:
        """Refuse a change whose result would be non-finite or above the ceiling."""
        if self.lr is None:
            return P.error_reply(req.id, P.REFUSED, "no optimizer attached yet")
        change = req.change
        if change is None:
            return P.error_reply(req.id, P.REFUSED, f"{req.op} is not an LR change")
        if change.op == "unpin":
            return None
        old = self.lr.current()
        ref = _ref(change, old)
        if change.op == "set_lr" and ref <= 0:
            # No ratio to an LR of 0 (warmup from 0): refused, as docs/protocol.md says.
            msg = f"cannot set the LR while it is {ref!r}: wait until the schedule's LR is above 0"
            return P.error_reply(req.id, P.REFUSED, msg)
        factor = change.ratio(old)
        group = change.group
        targets = range(len(old)) if group is None else [group]
        if any(not math.isfinite(old[g] * factor) for g in targets):
            return P.error_reply(req.id, P.BAD_VALUE, "resulting LR is not finite")
        over = [g for g in targets if old[g] * factor > self.limits.lr_ceiling * (1 + 1e-12)]
        if over:
            msg = f"new LR of group {over[0]} would exceed the ceiling {self.limits.lr_ceiling:g}"
            return P.error_reply(req.id, P.OUT_OF_RANGE, msg)
        return None

    def _record(
        self, req: P.Request, by: str, step: int, old: list[float], new: list[float]
    ) -> dict[str, Any]:
        assert req.change is not None
        change = {
            "step": step + 1,  # the first optimizer step that runs with the new LR
            "t": round(time.time(), 3),
            "old": [float(x) for x in old],
            "new": [float(x) for x in new],
            "mode": _record_mode(req.change),
            **who(req, by),
            "id": req.id,
            "op": req.change.record_op,  # docs/format.md: scale / set / unpin
        }
        self.history.append(change)
        self.emit({"kind": "lr_change", **change})
        return P.ok_reply(req.id, **change)

    def _exchange(self, step: int) -> None:
        """One DistSync call (every rank, every step); rank 0 offers its next change."""
        pending: LRChange | None = None
        tag: tuple[P.Request, Reply, str] | None = None
        while self.rank == 0 and self.cmds and pending is None:
            req, reply, by = self.cmds.popleft()
            refusal = self._check(req)
            if refusal is not None:
                reply(refusal)
                continue
            pending, tag = req.change, (req, reply, by)
        change = self.sync.exchange(step + 1, pending, tag)
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


def who(req: P.Request, by: str) -> dict[str, str]:
    """Who asked, for a record: ``by`` (the transport, or the requester's own ``by`` with the
    transport as ``via``) and the request's ``finding`` and ``reason`` when it gave them."""
    out = dict(req.attribution)
    if "by" in out:
        return {"by": out.pop("by"), "via": by, **out}
    return {"by": by, **out}


def _ref(change: LRChange, lrs: list[float]) -> float:
    """The LR ``set_lr`` divides by (its group's, or group 0's); NaN when there is none."""
    g = change.group or 0
    return float(lrs[g]) if g < len(lrs) else math.nan


def _record_mode(change: LRChange) -> str:
    """The ``mode`` of an ``lr_change`` record: ``unpin``, or the change's (default rescale)."""
    return "unpin" if change.op == "unpin" else change.mode or "rescale"
