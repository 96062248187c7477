"""One LR change as a value: what a rule suggests, what the protocol carries, what the
training side applies and what the UI confirms.

An :class:`LRChange` is also a read-only mapping of its wire form, so
``change == {"op": "scale_lr", "factor": 0.1}`` holds and ``json.dumps(dict(change))`` is the
request body (without ``id``). ``mode`` and ``group`` are left out of the wire form while
they are ``None`` (the receiver's default: every group, ``rescale``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from lrwatch.numfmt import fmt_num

#: The protocol ops that change an LR, in the order the protocol lists them (``hello``'s
#: ``ops``, docs/protocol.md).
OPS = ("set_lr", "scale_lr", "unpin")
#: How a change survives a scheduler (docs/lr-changes.md).
MODES = ("rescale", "pin")
#: Protocol op -> the ``op`` an ``lr_change`` record carries (docs/format.md).
RECORD_OPS = {"set_lr": "set", "scale_lr": "scale", "unpin": "unpin"}


@dataclass(frozen=True, eq=False)
class LRChange(Mapping[str, Any]):
    """``scale_lr`` by ``factor``, ``set_lr`` to ``value``, or ``unpin``; of one ``group``
    (None: every group, ratios kept) in ``mode`` (None: the receiver's default)."""

    op: str
    factor: float | None = None
    value: float | None = None
    group: int | None = None
    mode: str | None = None

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"not an LR change: {self.op!r}")
        if self.op == "scale_lr" and self.factor is None:
            raise ValueError("scale_lr needs a factor")
        if self.op == "set_lr" and self.value is None:
            raise ValueError("set_lr needs a value")

    # -- making one ---------------------------------------------------------------------------

    @classmethod
    def scale(cls, factor: float, group: int | None = None, mode: str | None = None) -> LRChange:
        """Multiply the LR by ``factor``."""
        return cls("scale_lr", factor=factor, group=group, mode=mode)

    @classmethod
    def set(cls, value: float, group: int | None = None, mode: str | None = None) -> LRChange:
        """Set the LR (of group 0 when ``group`` is None, the others keeping their ratio)."""
        return cls("set_lr", value=value, group=group, mode=mode)

    @classmethod
    def unpin(cls, group: int | None = None) -> LRChange:
        """Let pinned groups follow their schedule again."""
        return cls("unpin", group=group)

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> LRChange | None:
        """The change a request or action dict describes; None when ``op`` is not a change.

        Raises ValueError when the op is a change but its number is missing or not one.
        """
        op = obj.get("op")
        if op not in OPS:
            return None
        group, mode = obj.get("group"), obj.get("mode")
        number = {"scale_lr": "factor", "set_lr": "value"}.get(str(op))
        kwargs: dict[str, Any] = {}
        if number is not None:
            raw = obj.get(number)
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise ValueError(f"{op} needs a number {number!r}")
            kwargs[number] = float(raw)
        return cls(
            str(op),
            group=group if isinstance(group, int) and not isinstance(group, bool) else None,
            mode=mode if mode in MODES else None,
            **kwargs,
        )

    def with_mode(self, mode: str | None) -> LRChange:
        """The same change in ``mode`` (``unpin`` has none)."""
        return self if self.op == "unpin" else replace(self, mode=mode)

    # -- what it does -------------------------------------------------------------------------

    @property
    def record_op(self) -> str:
        """``scale`` / ``set`` / ``unpin``: the op of the ``lr_change`` record it writes."""
        return RECORD_OPS[self.op]

    def ratio(self, lrs: Sequence[float]) -> float:
        """The factor it applies to the groups it changes, given the current ``lrs``.

        ``set_lr`` divides by the reference group's LR (group 0 unless one is named); NaN
        when that is unknown or not positive; 1.0 for ``unpin`` (its LRs come from the schedule).
        """
        if self.op == "scale_lr":
            assert self.factor is not None
            return self.factor
        if self.op == "unpin":
            return 1.0
        assert self.value is not None
        ref = lrs[self.group or 0] if len(lrs) > (self.group or 0) else math.nan
        return self.value / ref if ref > 0 else math.nan

    def apply(self, lrs: Sequence[float]) -> list[float]:
        """The LR of every group after the change, from the current ``lrs``.

        ``set_lr`` of every group scales them all so that group 0 gets ``value`` (each group
        gets ``value`` while group 0's LR is 0); ``unpin`` returns ``lrs`` unchanged (the
        schedule decides).
        """
        if self.op == "unpin" or not lrs:
            return [float(x) for x in lrs]
        if self.op == "scale_lr":
            assert self.factor is not None
            k = self.factor
            return [x * k if self.group in (None, g) else float(x) for g, x in enumerate(lrs)]
        assert self.value is not None
        value = self.value
        if self.group is not None:
            return [value if g == self.group else float(x) for g, x in enumerate(lrs)]
        ref = lrs[0]
        return [value * (x / ref) if ref else value for x in lrs]

    def describe(self) -> str:
        """``×0.5``, ``÷10``, ``set 3e-3``, ``unpin``: the change in a few characters."""
        if self.op == "scale_lr":
            assert self.factor is not None
            f = self.factor
            return f"÷{fmt_num(1 / f)}" if 0 < f < 1 and (1 / f).is_integer() else f"×{fmt_num(f)}"
        if self.op == "set_lr":
            assert self.value is not None
            return f"set {fmt_num(self.value)}"
        return "unpin"

    def wire(self) -> dict[str, Any]:
        """The request body: ``op``, its number, and ``group``/``mode`` when given."""
        out: dict[str, Any] = {"op": self.op}
        if self.op == "scale_lr":
            out["factor"] = self.factor
        elif self.op == "set_lr":
            out["value"] = self.value
        if self.group is not None:
            out["group"] = self.group
        if self.mode is not None and self.op != "unpin":
            out["mode"] = self.mode
        return out

    def args(self) -> dict[str, Any]:
        """The request's arguments (the wire form without ``op``)."""
        return {k: v for k, v in self.wire().items() if k != "op"}

    # -- the mapping --------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self.wire()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.wire())

    def __len__(self) -> int:
        return len(self.wire())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self.wire() == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self.wire().items()))

    def __repr__(self) -> str:
        return f"LRChange({self.wire()!r})"


def ack_step(reply: Mapping[str, Any]) -> int | None:
    """The step an acknowledged change or pause took effect at (the reply's one step field)."""
    step = reply.get("step")
    return step if isinstance(step, int) and not isinstance(step, bool) else None
