"""LR commands as the UI plans and sends them (pure planning + one blocking send).

Planning (what a key means: ×0.5 from 3e-3 is 1.5e-3) is pure and tested without an app;
:func:`send` runs in a worker thread because a control request blocks until the run applies
it at its next step boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from lrwatch.tui.cards import change_text, new_lrs
from lrwatch.tui.scale import fmt_num

#: Largest LR the input dialog accepts (the run enforces its own ceiling too).
MAX_LR = 10.0


@dataclass
class Command:
    """One control request, with what the user is shown before confirming."""

    op: str
    args: dict[str, Any] = field(default_factory=dict)
    old: list[float] = field(default_factory=list)
    new: list[float] = field(default_factory=list)

    def prompt(self, run: str) -> str:
        """The confirmation question."""
        if self.op in ("pause", "resume"):
            return f"{self.op.capitalize()} training of run {run}?"
        mode = self.args.get("mode", "rescale")
        change = change_text(self.old, self.new) if self.old else self.describe()
        return f"Change the LR of run {run}: {change}  (mode {mode})?"

    def describe(self) -> str:
        """A few words for status lines."""
        if self.op == "scale_lr":
            return f"scale LR ×{fmt_num(self.args['factor'])}"
        if self.op == "set_lr":
            return f"set LR {fmt_num(self.args['value'])}"
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


def plan_scale(factor: float, current: list[float], mode: str) -> Command:
    """``scale_lr`` by ``factor`` in ``mode`` (rescale or pin)."""
    action = {"op": "scale_lr", "factor": factor}
    return Command(
        "scale_lr", {"factor": factor, "mode": mode}, current, new_lrs(action, current) or []
    )


def plan_set(value: float, current: list[float], mode: str) -> Command:
    """``set_lr`` to ``value`` (group 0; other groups keep their ratio to it)."""
    action = {"op": "set_lr", "value": value}
    return Command(
        "set_lr", {"value": value, "mode": mode}, current, new_lrs(action, current) or []
    )


def plan_action(action: dict[str, Any], current: list[float], mode: str) -> Command | None:
    """The command for a finding's ``action`` (None when it is not an LR change)."""
    op = action.get("op")
    if op == "scale_lr":
        return plan_scale(float(action["factor"]), current, mode)
    if op == "set_lr":
        return plan_set(float(action["value"]), current, mode)
    if op in ("pause", "resume"):
        return Command(op)
    return None


def ack_text(cmd: Command, reply: dict[str, Any]) -> str:
    """What the run said it did, e.g. ``applied at step 130: 3e-3 → 1.5e-3``."""
    step = reply.get("step", reply.get("applied_step"))
    old, new = reply.get("old"), reply.get("new")
    where = f" at step {step:,}" if isinstance(step, int) else ""
    if isinstance(old, list) and isinstance(new, list) and old and new:
        return f"{cmd.op} applied{where}: {change_text(old, new)}"
    return f"{cmd.op} acknowledged{where}"


def error_text(reply: dict[str, Any]) -> str:
    """The refusal reason from an error reply."""
    err = reply.get("error")
    if isinstance(err, dict):
        return f"{err.get('code', 'error')}: {err.get('message', '')}".strip()
    return str(err or "refused")


def connect(endpoint: str, token: str | None = None, timeout: float = 5.0) -> Any:
    """A control client for ``endpoint`` (raises on failure; run in a worker thread)."""
    from lrwatch.control.client import ControlClient

    client = ControlClient(endpoint, token=token, timeout=timeout)
    reply = client.request("hello")
    if not reply.get("ok", False):
        raise ConnectionError(error_text(reply))
    return client


def send(client: Any, cmd: Command) -> dict[str, Any]:
    """Send ``cmd`` and wait for the run's reply (blocking)."""
    return client.request(cmd.op, **cmd.args)
