"""Apply live LR changes on every torch.distributed rank at the same step.

Rank 0 decides (it serves the control socket); every rank must apply the same change at the
same step or the replicas drift apart. :class:`DistSync` carries a change as a five-float64
tensor ``[apply_at, op_mode, value, group, seq]`` -- no pickled objects on the hot path:

* ``every=1`` (default): one blocking ``broadcast`` of that tensor per step; a change applies
  at the step rank 0 received it. Costs one tiny collective per step (see
  ``benchmarks/dist_sync.py``).
* ``every=N``: an *asynchronous* broadcast is started every N steps and waited for N steps
  later, when it is long finished, so the latency of the collective hides behind training; a
  change applies at most ``2N - 1`` steps after rank 0 got it, on every rank at the same call.

Ranks are counted in calls to :meth:`DistSync.exchange`: every rank must call it once per step
(the Monitor does, at each step boundary). Without an initialised process group (one process)
it passes changes straight through.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from lrwatch.lrchange import MODES, RECORD_OPS, LRChange
from lrwatch.train.lr import LRController

# (op, mode) <-> one float code, so a change is five plain numbers on the wire.
_CODES: dict[tuple[str, str | None], int] = {
    ("scale_lr", "rescale"): 0,
    ("scale_lr", "pin"): 1,
    ("set_lr", "rescale"): 2,
    ("set_lr", "pin"): 3,
    ("unpin", None): 4,
}
_DECODE = {c: k for k, c in _CODES.items()}
_NOTHING = -1.0
#: The tuple form's short op names (those of an ``lr_change`` record) -> protocol ops.
_LONG = {short: op for op, short in RECORD_OPS.items()}


@dataclass(frozen=True, slots=True)
class Change:
    """A change every rank applies now: ``lr_change`` at ``step``.

    ``step`` is the step passed to the :meth:`DistSync.exchange` call that delivered it.
    ``tag`` is whatever rank 0 attached to the request (e.g. the client's request id); it
    never leaves rank 0 and is None on the other ranks. ``op``, ``value``, ``group`` and
    ``mode`` read the change as the tuple form does: ``op`` ``"scale"`` (value is a factor),
    ``"set"`` (value is an LR) or ``"unpin"``; ``mode`` ``"rescale"`` or ``"pin"``.
    """

    lr_change: LRChange
    step: int
    tag: Any = None

    @property
    def op(self) -> str:
        """``scale`` / ``set`` / ``unpin``."""
        return self.lr_change.record_op

    @property
    def value(self) -> float:
        """The factor of a scale, the LR of a set, 0.0 for unpin."""
        return _number(self.lr_change)

    @property
    def group(self) -> int | None:
        """The param group changed (None: all)."""
        return self.lr_change.group

    @property
    def mode(self) -> str:
        """``rescale`` or ``pin`` (``pin`` for unpin, as on the wire)."""
        return _mode(self.lr_change) or "pin"


def apply_lr_change(
    ctl: LRController, change: LRChange, step: int | None = None
) -> tuple[list[float], list[float]]:
    """Apply ``change`` with ``ctl`` (recorded at ``step``); (old, new) LRs per group.

    Raises ValueError where the controller refuses it, with nothing changed.
    """
    if change.op == "unpin":
        return ctl.unpin(change.group, step=step)
    mode = _mode(change) or "rescale"
    if change.op == "scale_lr":
        assert change.factor is not None
        return ctl.scale(change.factor, change.group, mode, step=step)
    assert change.value is not None
    return ctl.set(change.value, change.group, mode, step=step)


def apply_change(ctl: LRController, change: Change) -> tuple[list[float], list[float]]:
    """Apply a delivered ``change`` with ``ctl``; returns (old, new) LRs per group.

    Raises ValueError.
    """
    return apply_lr_change(ctl, change.lr_change, change.step)


def _number(change: LRChange) -> float:
    """The one number on the wire: a scale's factor, a set's LR, 0.0 for unpin."""
    number = change.factor if change.op == "scale_lr" else change.value
    return 0.0 if number is None else float(number)


def _mode(change: LRChange) -> str | None:
    """The change's mode as the wire code reads it: None for unpin, else rescale or pin."""
    return None if change.op == "unpin" else change.mode or "rescale"


def _normalize(pending: Any, tag: Any) -> tuple[LRChange, Any]:
    """An :class:`LRChange` (with ``tag``) or the tuple ``(op, value, group, mode[, tag])``
    -> ``(change, tag)`` checked to fit the wire; ValueError on anything else."""
    if isinstance(pending, LRChange):
        change = pending
    elif isinstance(pending, tuple) and len(pending) in (4, 5):
        op, value, group, mode = pending[:4]
        if op not in _LONG or (op != "unpin" and mode not in MODES):
            raise ValueError(f"unknown change {op!r} with mode {mode!r}")
        if op == "unpin":
            change = LRChange.unpin(group)
        else:
            number = "factor" if op == "scale" else "value"
            change = LRChange(_LONG[op], group=group, mode=mode, **{number: float(value)})
        tag = pending[4] if len(pending) == 5 else None
    else:
        raise ValueError(f"pending must be (op, value, group, mode[, tag]), got {pending!r}")
    if (change.op, _mode(change)) not in _CODES:
        raise ValueError(f"unknown change {change.op!r} with mode {change.mode!r}")
    group = change.group
    if group is not None and (isinstance(group, bool) or not isinstance(group, int) or group < 0):
        raise ValueError(f"group must be None or an int >= 0, got {group!r}")
    return change, tag


class DistSync:
    """Agree across ranks on which LR change applies at which step.

    Args:
        every: run the collective every ``every`` steps (1: blocking, each step; N > 1:
            asynchronous, overlapped with the next N steps).
        group: the torch.distributed process group (default: the world).
    """

    def __init__(self, every: int = 1, group: Any = None) -> None:
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"every must be an int >= 1, got {every!r}")
        self.every = every
        self._group = group
        self._dist: Any = None
        self.rank, self.world_size = 0, 1
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            self._dist = dist
            self.rank = dist.get_rank(group)
            self.world_size = dist.get_world_size(group)
        self._device = self._pick_device()
        self._outbox: deque[tuple[LRChange, Any]] = deque()
        self._tags: dict[int, Any] = {}
        self._seq = 0
        self._calls = 0
        self._inflight: tuple[Any, Any] | None = None  # (work handle, tensor) of every>1

    @property
    def active(self) -> bool:
        """Whether changes cross processes (a process group with more than one rank)."""
        return self._dist is not None and self.world_size > 1

    def exchange(
        self, step: int, pending: LRChange | tuple[Any, ...] | None = None, tag: Any = None
    ) -> Change | None:
        """Call once per step on every rank; returns the change every rank applies now.

        ``pending`` (rank 0 only; ignored elsewhere) is a new request: an :class:`LRChange`
        with its ``tag``, or the tuple ``(op, value, group, mode[, tag])`` with the short op
        names ``scale`` / ``set`` / ``unpin``. Requests queue, and one is delivered per sync.
        """
        if pending is not None and self.rank == 0:
            self._outbox.append(_normalize(pending, tag))
        if not self.active:
            return self._local(step)
        self._calls += 1
        if self.every == 1:
            buf = self._encode(self._calls)
            self._dist.broadcast(buf, src=self._src(), group=self._group)
            return self._decode(buf, step)
        if (self._calls - 1) % self.every:
            return None
        arrived = None
        if self._inflight is not None:
            work, buf = self._inflight
            work.wait()
            arrived = self._decode(buf, step)
        buf = self._encode(self._calls + self.every)
        work = self._dist.broadcast(buf, src=self._src(), group=self._group, async_op=True)
        self._inflight = (work, buf)
        return arrived

    def close(self) -> list[Any]:
        """Finish the collective in flight; returns rank 0's tags of undelivered requests."""
        lost: list[Any] = []
        if self._inflight is not None:
            work, buf = self._inflight
            work.wait()
            self._inflight = None
            if buf[0].item() != _NOTHING and self.rank == 0:
                lost.append(self._tags.pop(int(buf[4].item()), None))
        lost.extend(tag for _, tag in self._outbox)
        self._outbox.clear()
        return lost

    # -- internals -----------------------------------------------------------------------

    def _pick_device(self) -> Any:
        """NCCL only moves CUDA tensors; gloo and single-process use the CPU."""
        import torch

        if self._dist is not None and self._dist.get_backend(self._group) == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def _src(self) -> int:
        """Global rank of the group's rank 0 (broadcast takes a global rank)."""
        if self._group is None:
            return 0
        return int(self._dist.get_global_rank(self._group, 0))

    def _local(self, step: int) -> Change | None:
        if not self._outbox:
            return None
        change, tag = self._outbox.popleft()
        return Change(change, step, tag)

    def _encode(self, apply_at: int) -> Any:
        import torch

        row = [_NOTHING, 0.0, 0.0, -1.0, 0.0]
        if self.rank == 0 and self._outbox:
            change, tag = self._outbox.popleft()
            self._seq += 1
            self._tags[self._seq] = tag
            row = [
                float(apply_at),
                float(_CODES[change.op, _mode(change)]),
                _number(change),
                -1.0 if change.group is None else float(change.group),
                float(self._seq),
            ]
        return torch.tensor(row, dtype=torch.float64, device=self._device)

    def _decode(self, buf: Any, step: int) -> Change | None:
        apply_at, code, value, group, seq = buf.tolist()
        if apply_at == _NOTHING:
            return None
        if int(apply_at) != self._calls:
            raise RuntimeError(
                f"lrwatch DistSync: rank {self.rank} is at call {self._calls} but the change was "
                f"scheduled for call {int(apply_at)}: every rank must call exchange once per step"
            )
        op, mode = _DECODE[int(code)]
        tag = self._tags.pop(int(seq), None) if self.rank == 0 else None
        number = {"scale_lr": "factor", "set_lr": "value"}.get(op)
        kwargs = {} if number is None else {number: value}
        change = LRChange(op, group=None if group < 0 else int(group), mode=mode, **kwargs)
        return Change(change, step, tag)
