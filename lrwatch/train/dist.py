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
from typing import Any, NamedTuple

from lrwatch.train.lr import LRController

# (op, mode) <-> one float code, so a change is five plain numbers on the wire.
_CODES: dict[tuple[str, str], int] = {
    ("scale", "rescale"): 0,
    ("scale", "pin"): 1,
    ("set", "rescale"): 2,
    ("set", "pin"): 3,
    ("unpin", "pin"): 4,
}
_DECODE = {c: k for k, c in _CODES.items()}
_NOTHING = -1.0


class Change(NamedTuple):
    """A change every rank applies now.

    ``op`` is ``"scale"`` (value is a factor), ``"set"`` (value is an LR) or ``"unpin"``;
    ``mode`` is ``"rescale"`` or ``"pin"``; ``group`` None means all groups. ``step`` is the
    step passed to the :meth:`DistSync.exchange` call that delivered it. ``tag`` is whatever
    rank 0 attached to the request (e.g. the client's request id); it never leaves rank 0 and
    is None on the other ranks.
    """

    op: str
    value: float
    group: int | None
    mode: str
    step: int
    tag: Any = None


def apply_change(ctl: LRController, change: Change) -> tuple[list[float], list[float]]:
    """Apply ``change`` with ``ctl``; returns (old, new) LRs per group. Raises ValueError."""
    if change.op == "scale":
        return ctl.scale(change.value, change.group, change.mode, step=change.step)
    if change.op == "set":
        return ctl.set(change.value, change.group, change.mode, step=change.step)
    return ctl.unpin(change.group, step=change.step)


def _normalize(pending: tuple[Any, ...]) -> tuple[str, str, float, int | None, Any]:
    """``(op, value, group, mode[, tag])`` -> checked fields; ValueError on anything else."""
    if not isinstance(pending, tuple) or len(pending) not in (4, 5):
        raise ValueError(f"pending must be (op, value, group, mode[, tag]), got {pending!r}")
    op, value, group, mode = pending[:4]
    if op == "unpin":
        mode = "pin"
    if (op, mode) not in _CODES:
        raise ValueError(f"unknown change {op!r} with mode {mode!r}")
    if group is not None and (isinstance(group, bool) or not isinstance(group, int) or group < 0):
        raise ValueError(f"group must be None or an int >= 0, got {group!r}")
    tag = pending[4] if len(pending) == 5 else None
    return op, mode, float(value), group, tag


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
        self._outbox: deque[tuple[str, str, float, int | None, Any]] = deque()
        self._tags: dict[int, Any] = {}
        self._seq = 0
        self._calls = 0
        self._inflight: tuple[Any, Any] | None = None  # (work handle, tensor) of every>1

    @property
    def active(self) -> bool:
        """Whether changes cross processes (a process group with more than one rank)."""
        return self._dist is not None and self.world_size > 1

    def exchange(self, step: int, pending: tuple[Any, ...] | None = None) -> Change | None:
        """Call once per step on every rank; returns the change every rank applies now.

        ``pending`` (rank 0 only; ignored elsewhere) is a new request
        ``(op, value, group, mode[, tag])``; requests queue, and one is delivered per sync.
        """
        if pending is not None and self.rank == 0:
            self._outbox.append(_normalize(pending))
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
        lost.extend(item[4] for item in self._outbox)
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
        return self._dist.get_global_rank(self._group, 0)

    def _local(self, step: int) -> Change | None:
        if not self._outbox:
            return None
        op, mode, value, group, tag = self._outbox.popleft()
        return Change(op, value, group, mode, step, tag)

    def _encode(self, apply_at: int) -> Any:
        import torch

        row = [_NOTHING, 0.0, 0.0, -1.0, 0.0]
        if self.rank == 0 and self._outbox:
            op, mode, value, group, tag = self._outbox.popleft()
            self._seq += 1
            self._tags[self._seq] = tag
            row = [
                float(apply_at),
                float(_CODES[op, mode]),
                value,
                -1.0 if group is None else group,
            ]
            row.append(float(self._seq))
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
        return Change(op, value, None if group < 0 else int(group), mode, step, tag)
