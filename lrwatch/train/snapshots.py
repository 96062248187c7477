"""In-memory snapshots of a training run, and ``rewind`` to one of them.

``Monitor(snapshot_every=N, keep=K)`` keeps, every N steps, CPU copies of the model's
parameters and buffers, the optimizer's and scheduler's state, the LR controller's pins and
multipliers and the RNG states (torch CPU, CUDA when initialised, Python ``random``, numpy):
the newest K of them. The ``rewind`` op restores the newest snapshot at or before a target
step at a step boundary, on the training thread, optionally scales the LR, writes a ``rewind``
record and goes on. An ``on_rewind`` hook lets a script restore from its own checkpoint.

Everything is restored in place: ``model.load_state_dict`` copies into the parameter tensors
the optimizer references, so nothing that holds a parameter has to be told. The data stream
is not rewound: later batches are new data.

torch is imported lazily (only when a snapshot is taken or restored).
"""

from __future__ import annotations

import collections
import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lrwatch.control import protocol as P
from lrwatch.train.boundary import NO_SNAPSHOTS, who
from lrwatch.train.dist import apply_lr_change

Emit = Callable[[dict[str, Any]], None]


@dataclass
class Snapshot:
    """CPU copies of a run's state after step ``step`` (the next step it runs is step + 1)."""

    step: int
    t: float
    #: ``model.state_dict()`` (parameters and buffers), or None without a model
    model: dict[str, Any] | None
    #: the optimizer's parameters, in param-group order, when no model was given
    params: list[Any] | None
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    #: the LR controller's state (pins, multipliers)
    lr: dict[str, Any] | None
    #: the effective LR per group when it was taken (what the next step would have used)
    lrs: list[float]
    rng: dict[str, Any]
    #: bytes of tensor data it holds
    nbytes: int = 0
    #: seconds taking it cost the training thread
    seconds: float = 0.0


@dataclass
class Rewind:
    """One rewind: asked at ``from_step`` for ``target``; ``to_step`` is set once restored.

    ``snapshot``: the newest snapshot at or before ``target`` (None when there is none, or
    when the ``on_rewind`` hook is asked first and restores from its own checkpoint).
    """

    from_step: int
    target: int
    to_step: int | None = None
    snapshot: Snapshot | None = None


OnRewind = Callable[[Rewind], "int | None"]


@dataclass
class Parts:
    """What a snapshot copies and a rewind restores (the Monitor's current objects)."""

    model: Any
    optimizer: Any
    scheduler: Any
    lr: Any  # LRController


# -- copying -----------------------------------------------------------------------------------


def _is_tensor(obj: Any) -> bool:
    return hasattr(obj, "detach") and hasattr(obj, "element_size")


def cpu_copy(obj: Any) -> Any:
    """``obj`` with every tensor copied to fresh CPU memory, every list and dict copied:
    nothing in the result aliases the live state, and nothing live aliases it after a load."""
    if _is_tensor(obj):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: cpu_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [cpu_copy(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(cpu_copy(v) for v in obj)
    return obj  # numbers, strings, None: immutable


def nbytes(obj: Any) -> int:
    """Bytes of tensor data in ``obj`` (nested dicts, lists, tuples)."""
    if _is_tensor(obj):
        return int(obj.numel() * obj.element_size())
    if isinstance(obj, dict):
        return sum(nbytes(v) for v in obj.values())
    if isinstance(obj, list | tuple):
        return sum(nbytes(v) for v in obj)
    return 0


def _params(optimizer: Any) -> list[Any]:
    return [p for g in optimizer.param_groups for p in g["params"]]


def rng_state() -> dict[str, Any]:
    """The RNG states a step may draw from: torch CPU, CUDA (when initialised), random, numpy."""
    import torch

    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():  # type: ignore[no-untyped-call]
        state["cuda"] = torch.cuda.get_rng_state_all()
    np = sys.modules.get("numpy")  # only when the program uses it; never imported for this
    if np is not None:
        state["numpy"] = np.random.get_state()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    import torch

    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state:
        torch.cuda.set_rng_state_all(state["cuda"])
    np = sys.modules.get("numpy")
    if np is not None and "numpy" in state:
        np.random.set_state(state["numpy"])


def take(step: int, parts: Parts) -> Snapshot:
    """A snapshot of ``parts`` after ``step`` (on the training thread, between steps)."""
    import torch

    t0 = time.perf_counter()
    with torch.no_grad():
        model = cpu_copy(parts.model.state_dict()) if parts.model is not None else None
        params = None if model is not None else [cpu_copy(p) for p in _params(parts.optimizer)]
        optimizer = cpu_copy(parts.optimizer.state_dict())
    sched = parts.scheduler
    scheduler = cpu_copy(sched.state_dict()) if hasattr(sched, "state_dict") else None
    lr = cpu_copy(parts.lr.state_dict()) if parts.lr is not None else None
    lrs = [float(x) for x in parts.lr.current()] if parts.lr is not None else []
    snap = Snapshot(step, round(time.time(), 3), model, params, optimizer, scheduler, lr, lrs, {})
    snap.rng = rng_state()
    snap.nbytes = nbytes([model, params, optimizer])
    snap.seconds = time.perf_counter() - t0
    return snap


def restore(snap: Snapshot, parts: Parts) -> None:
    """Put ``snap`` back into ``parts``, in place; ``snap`` itself stays intact (copies are
    loaded: torch's loaders keep references to what they are given)."""
    import torch

    with torch.no_grad():
        if snap.model is not None and parts.model is not None:
            parts.model.load_state_dict(snap.model)  # copy_ into the live tensors
        elif snap.params is not None:
            for p, saved in zip(_params(parts.optimizer), snap.params, strict=True):
                p.copy_(saved)
        parts.optimizer.load_state_dict(cpu_copy(snap.optimizer))
    if snap.scheduler is not None and hasattr(parts.scheduler, "load_state_dict"):
        parts.scheduler.load_state_dict(cpu_copy(snap.scheduler))
    if snap.lr is not None and parts.lr is not None:
        parts.lr.load_state_dict(cpu_copy(snap.lr))
    set_rng_state(snap.rng)


# -- the rewind op -------------------------------------------------------------------------------


@dataclass
class Rewinder:
    """The Monitor's snapshots and its answer to ``rewind`` (``Boundary.answers["rewind"]``).

    ``parts`` gives the current model/optimizer/scheduler/controller (None before attach);
    ``set_step`` moves the Monitor's step counter; ``emit``/``flush`` write the log.
    """

    every: int | None
    keep: int
    hook: OnRewind | None
    parts: Callable[[], Parts | None]
    set_step: Callable[[int], None]
    emit: Emit
    flush: Callable[[], None]
    limits: P.Limits
    world_size: int = 1
    last: Rewind | None = None
    snaps: collections.deque[Snapshot] = field(default_factory=collections.deque)
    #: steps with a snapshot, oldest first (a tuple: read from the server thread)
    steps: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.every is not None and (isinstance(self.every, bool) or self.every < 1):
            raise ValueError(
                f"snapshot_every must be a positive integer or None, not {self.every!r}"
            )
        if isinstance(self.keep, bool) or self.keep < 1:
            raise ValueError(f"keep must be a positive integer, not {self.keep!r}")

    def after_step(self, step: int) -> None:
        """Take a snapshot when ``step`` is due (every N steps; none twice at one step)."""
        if self.every is None or step % self.every or self.world_size > 1:
            return
        if self.snaps and self.snaps[-1].step >= step:
            return  # just rewound to this step: its snapshot is the one restored
        parts = self.parts()
        if parts is None:
            return
        self.snaps.append(take(step, parts))
        while len(self.snaps) > self.keep:
            self.snaps.popleft()
        self._published()

    def clear(self) -> None:
        """Drop every snapshot (the run has ended: free the memory)."""
        self.snaps.clear()
        self._published()

    def pick(self, target: int) -> Snapshot | None:
        """The newest snapshot at or before ``target``."""
        return next((s for s in reversed(self.snaps) if s.step <= target), None)

    def answer(self, req: P.Request, by: str, step: int) -> dict[str, Any]:
        """Apply a validated ``rewind`` at the boundary after ``step``; the reply."""
        parts = self.parts()
        if self.world_size > 1:
            msg = "rewind is not supported under torch.distributed yet (world_size > 1)"
            return P.error_reply(req.id, P.UNSUPPORTED, msg)
        if parts is None:
            return P.error_reply(req.id, P.REFUSED, "no optimizer attached yet")
        target, refusal = self._target(req, step)
        if refusal is not None:
            return refusal
        rewind = Rewind(from_step=step, target=target, snapshot=self.pick(target))
        if self.hook is None and rewind.snapshot is None:
            return P.error_reply(req.id, P.REFUSED, self._none_message(target))
        if rewind.snapshot is not None and self.hook is None:
            refusal = self._ceiling(req, rewind.snapshot.lrs)
            if refusal is not None:
                return refusal
        old = [float(x) for x in parts.lr.current()]
        source, refusal = self._restore(req, rewind, parts)
        if refusal is not None:
            return refusal
        return self._finish(req, by, rewind, parts, old, source)

    # -- internals -------------------------------------------------------------------------

    def _published(self) -> None:
        self.steps = tuple(s.step for s in self.snaps)

    def _target(self, req: P.Request, step: int) -> tuple[int, dict[str, Any] | None]:
        to = req.args.get("to_step")
        if to is not None:
            if to > step:
                msg = f"to_step {to} is ahead of the run (it has finished step {step})"
                return 0, P.error_reply(req.id, P.OUT_OF_RANGE, msg)
            return int(to), None
        back = int(req.args["steps_back"])
        if back > step:
            msg = f"steps_back {back} goes before step 0 (the run has finished step {step})"
            return 0, P.error_reply(req.id, P.OUT_OF_RANGE, msg)
        return step - back, None

    def _none_message(self, target: int) -> str:
        if self.every is None:
            return NO_SNAPSHOTS
        if not self.snaps:
            return f"no snapshot yet: the first is taken at step {self.every}"
        have = ", ".join(str(s) for s in self.steps)
        return f"no snapshot at or before step {target}; snapshots at steps: {have}"

    def _ceiling(self, req: P.Request, lrs: list[float]) -> dict[str, Any] | None:
        """Refuse a ``scale_lr`` whose result from the snapshot's LRs passes the ceiling."""
        change = req.change
        if change is None:
            return None
        factor = change.ratio(lrs)
        ceiling = self.limits.lr_ceiling * (1 + 1e-12)
        if any(not math.isfinite(x * factor) or x * factor > ceiling for x in lrs):
            msg = f"the LR after rewinding, × {factor:g}, would exceed the ceiling {self.limits.lr_ceiling:g}"
            return P.error_reply(req.id, P.OUT_OF_RANGE, msg)
        return None

    def _restore(
        self, req: P.Request, rewind: Rewind, parts: Parts
    ) -> tuple[str, dict[str, Any] | None]:
        """Restore via the hook (asked first) or the snapshot; ``(source, refusal)``."""
        if self.hook is not None:
            try:
                got = self.hook(rewind)
            except Exception as exc:  # the script's hook failing must not stop training
                msg = f"on_rewind raised {type(exc).__name__}: {exc}"
                return "", P.error_reply(req.id, P.REFUSED, msg[:300])
            if got is not None:
                if isinstance(got, bool) or not isinstance(got, int) or got < 0:
                    msg = f"on_rewind returned {got!r}: it must return the step it restored or None"
                    return "", P.error_reply(req.id, P.REFUSED, msg[:300])
                rewind.to_step = int(got)
                return "hook", None
            if rewind.snapshot is None:
                return "", P.error_reply(req.id, P.REFUSED, self._none_message(rewind.target))
        assert rewind.snapshot is not None
        restore(rewind.snapshot, parts)
        rewind.to_step = rewind.snapshot.step
        return "snapshot", None

    def _finish(
        self,
        req: P.Request,
        by: str,
        rewind: Rewind,
        parts: Parts,
        old: list[float],
        source: str,
    ) -> dict[str, Any]:
        """Move the step back, apply the LR change, drop the abandoned branch, record it."""
        to_step = rewind.to_step
        assert to_step is not None
        self.set_step(to_step)
        while self.snaps and self.snaps[-1].step > to_step:
            self.snaps.pop()  # taken on the abandoned branch
        self._published()
        change = req.change
        # A hook restored state we could not look at beforehand: judge the change now, and
        # skip it (rewound all the same, said in the record) rather than pass the ceiling.
        late = None if self.hook is None else self._ceiling(req, parts.lr.current())
        if late is not None:
            change = None
        if change is not None:
            # The new LR is used from the next optimizer step on, to_step + 1.
            apply_lr_change(parts.lr, change, to_step + 1)
        self.last = rewind
        body = {
            "step": rewind.from_step,
            "to_step": to_step,
            "t": round(time.time(), 3),
            "old": old,
            "new": [float(x) for x in parts.lr.current()],
            "factor": None if change is None else change.factor,
            "mode": None if change is None else change.mode or "rescale",
            "source": source,
            **({"warning": late["error"]["message"]} if late is not None else {}),
            **who(req, by),
            "id": req.id,
        }
        self.emit({"kind": "rewind", **body})
        self.flush()
        return P.ok_reply(req.id, op="rewind", **body)
