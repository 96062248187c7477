"""Control commands as a person (or a program acting like one) plans and confirms them (pure).

What a key means (×0.5 from 3e-3 is 1.5e-3), the confirmation question, and what the run's
reply says, worded once for the TUI, ``guard`` and the autopilot.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lrwatch.lrchange import LRChange, ack_step
from lrwatch.numfmt import fmt_num

#: Largest LR the input dialog accepts (the run enforces its own ceiling too).
MAX_LR = 10.0


def change_text(old: Sequence[float], new: Sequence[float]) -> str:
    """``3e-3 → 3e-4`` (one group) or ``g0 3e-3 → 3e-4, g1 …``."""
    if len(old) == 1 and len(new) == 1:
        return f"{fmt_num(old[0])} → {fmt_num(new[0])}"
    return ", ".join(
        f"g{i} {fmt_num(a)} → {fmt_num(b)}" for i, (a, b) in enumerate(zip(old, new, strict=False))
    )


@dataclass
class Command:
    """One control request (an LR ``change``, or ``pause``/``resume``), with the LRs per
    group before and after, as the user is shown them before confirming."""

    op: str
    change: LRChange | None = None
    old: list[float] = field(default_factory=list)
    new: list[float] = field(default_factory=list)
    #: Who asked and why (``by``, ``finding``, ``reason``; docs/protocol.md): the run writes
    #: them into the record the command makes. Empty for a person's key (the run says ``by``).
    attribution: dict[str, str] = field(default_factory=dict)
    #: Arguments of an op that is no LR change (``rewind``'s ``to_step``/``scale_lr``,
    #: ``note``'s ``text``).
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def args(self) -> dict[str, Any]:
        """The request's arguments (the change's, the op's own, then the attribution)."""
        base = self.change.args() if self.change is not None else {}
        return {**base, **self.extra, **self.attribution}

    def prompt(self, run: str) -> str:
        """The confirmation question."""
        if self.change is None:
            return f"{self.op.capitalize()} training of run {run}?"
        mode = self.change.mode or "rescale"
        change = change_text(self.old, self.new) if self.old else self.describe()
        return f"Change the LR of run {run}: {change}  (mode {mode})?"

    def describe(self) -> str:
        """A few words for status lines."""
        c = self.change
        if c is not None and c.factor is not None:
            return f"scale LR ×{fmt_num(c.factor)}"
        if c is not None and c.value is not None:
            return f"set LR {fmt_num(c.value)}"
        return self.op


def parse_lr(text: str) -> float:
    """A user-typed LR (``3e-4``, ``0.001``); raises ValueError with a readable reason."""
    try:
        value = float(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError("the LR must be a positive finite number")
    if value > MAX_LR:
        raise ValueError(f"{fmt_num(value)} is above the {fmt_num(MAX_LR)} ceiling")
    return value


def plan_change(change: LRChange, current: list[float], mode: str) -> Command:
    """The command for ``change`` in ``mode`` (rescale or pin), from the ``current`` LRs."""
    change = change.with_mode(mode)
    return Command(change.op, change, current, change.apply(current))


def plan_scale(factor: float, current: list[float], mode: str) -> Command:
    """``scale_lr`` by ``factor`` in ``mode`` (rescale or pin)."""
    return plan_change(LRChange.scale(factor), current, mode)


def plan_set(value: float, current: list[float], mode: str) -> Command:
    """``set_lr`` to ``value`` (group 0; other groups keep their ratio to it)."""
    return plan_change(LRChange.set(value), current, mode)


def plan_action(action: Mapping[str, Any], current: list[float], mode: str) -> Command | None:
    """The command for a finding's ``action`` (None when it is not an LR change or pause)."""
    op = action.get("op")
    if op in ("pause", "resume"):
        return Command(str(op))
    change = action if isinstance(action, LRChange) else LRChange.from_wire(action)
    if change is None or change.op == "unpin":
        return None
    return plan_change(change, current, mode)


def ack_text(cmd: Command, reply: Mapping[str, Any]) -> str:
    """What the run said it did, e.g. ``applied at step 130: 3e-3 → 1.5e-3``."""
    step = ack_step(reply)
    old, new = reply.get("old"), reply.get("new")
    where = f" at step {step:,}" if step is not None else ""
    if isinstance(old, list) and isinstance(new, list) and old and new:
        return f"{cmd.op} applied{where}: {change_text(old, new)}"
    return f"{cmd.op} acknowledged{where}"


def error_text(reply: Mapping[str, Any]) -> str:
    """The refusal reason from an error reply."""
    err = reply.get("error")
    if isinstance(err, dict):
        return f"{err.get('code', 'error')}: {err.get('message', '')}".strip()
    return str(err or "refused")
