"""The remaining LR schedule as it is and as a planned change will make it (pure, plus one job).

The run forecasts its own schedule (the ``schedule`` op, lrwatch/train/forecast.py) because
only it can step its scheduler. Here that answer becomes a :class:`Forecast`, and
:func:`preview` turns a forecast and a planned :class:`~lrwatch.session.commands.Command` into
two curves: *as is* and *will be*. ``rescale`` multiplies the schedule by the change's ratio
(it keeps its shape), ``pin`` holds the new value flat, ``unpin`` goes back to the schedule.
:func:`ask_schedule` is the blocking request, for a worker thread.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lrwatch.session.commands import Command, error_text
from lrwatch.session.control import RunControl

#: Seconds to wait for the run's answer: it comes at the run's next step boundary.
ASK_TIMEOUT = 10.0
#: What to say instead of a chart when the run cannot be asked.
NO_CONTROL = "no preview: this run is read-only (no control socket)"
OLD_RUN = "no preview: this run cannot forecast its schedule (its lrwatch is older)"


@dataclass(frozen=True)
class Forecast:
    """A run's answer to ``schedule``: the effective LR per group at sampled future steps."""

    step: int  #: the last step the run finished
    steps: list[int]
    lrs: list[list[float]]  #: per group, aligned with ``steps`` (pins applied)
    unpinned: list[list[float]] | None = None  #: per group, the schedule ignoring pins
    exact: bool = True
    why: str = ""
    scheduler: str | None = None

    @classmethod
    def from_reply(cls, reply: Mapping[str, Any]) -> Forecast:
        """Parse a successful ``schedule`` reply; ValueError when it is not one."""
        steps = [int(s) for s in reply["steps"]]
        lrs = [[float(v) for v in col] for col in reply["lr"]]
        if any(len(col) != len(steps) for col in lrs):
            raise ValueError("schedule reply: lr lists differ in length from steps")
        raw = reply.get("unpinned")
        unpinned = [[float(v) for v in col] for col in raw] if isinstance(raw, list) else None
        return cls(
            int(reply.get("step", 0)),
            steps,
            lrs,
            unpinned,
            bool(reply.get("exact", True)),
            str(reply.get("why") or ""),
            reply.get("scheduler") if isinstance(reply.get("scheduler"), str) else None,
        )


@dataclass(frozen=True)
class Curves:
    """Two curves of one param group over the same steps, ready to draw."""

    steps: list[int]
    as_is: list[float]
    will_be: list[float]
    group: int
    label: str  #: what the will-be curve is: ``rescale ×0.5``, ``pin 1e-4``, ``unpin``
    note: str = ""  #: why the forecast is not exact, when it is not


def shown_group(command: Command) -> int:
    """The param group a preview draws: the one the change names, else group 0."""
    change = command.change
    return change.group if change is not None and change.group is not None else 0


def preview(forecast: Forecast, command: Command, group: int | None = None) -> Curves | None:
    """The as-is and will-be curves of ``group`` (default :func:`shown_group`); None when
    the forecast has no points (the loop owns the LR) or no such group."""
    g = shown_group(command) if group is None else group
    if not forecast.steps or g >= len(forecast.lrs):
        return None
    as_is = forecast.lrs[g]
    change = command.change
    if change is None:  # pause / resume: the schedule does not change
        return Curves(forecast.steps, as_is, list(as_is), g, command.op, forecast.why)
    label = change.describe()
    if change.op == "unpin":
        base = forecast.unpinned[g] if forecast.unpinned is not None else as_is
        return Curves(forecast.steps, as_is, list(base), g, label, forecast.why)
    touched = change.group is None or change.group == g
    if not touched:
        return Curves(forecast.steps, as_is, list(as_is), g, label, forecast.why)
    mode = change.mode or "rescale"
    # The change applied to the run's own next LRs (fresher than the ones it was planned
    # from), as the run will apply it: set_lr keeps the groups' ratios to group 0.
    firsts = [col[0] for col in forecast.lrs]
    if mode == "pin":
        will_be = [change.apply(firsts)[g]] * len(as_is)
    else:
        ratio = change.ratio(firsts)  # NaN: set_lr while the LR is 0 (the run refuses it)
        will_be = [v * ratio for v in as_is]
    return Curves(forecast.steps, as_is, will_be, g, f"{mode} {label}", forecast.why)


def ask_schedule(
    rc: RunControl, horizon: int | None = None, points: int = 200, timeout: float = ASK_TIMEOUT
) -> Forecast | str:
    """Ask the run for its schedule (blocking: a worker thread); a note when it cannot say."""
    if rc.endpoint is None:
        return NO_CONTROL
    args: dict[str, Any] = {"points": points}
    if horizon is not None:
        args["horizon"] = horizon
    try:  # on the run's connection, in turn with its pings and commands
        reply = rc.request("schedule", timeout=timeout, **args)
    except Exception as exc:  # not connected, busy, lost: the note says which
        return f"no preview: {exc or type(exc).__name__}"
    return forecast_or_note(reply)


def forecast_or_note(reply: Mapping[str, Any]) -> Forecast | str:
    """A ``schedule`` reply as a :class:`Forecast`, or the note to show instead."""
    if not reply.get("ok"):
        code = reply.get("error", {}).get("code") if isinstance(reply.get("error"), dict) else ""
        if code in ("unknown_op", "unsupported"):
            return OLD_RUN
        return f"no preview: {error_text(reply)}"
    try:
        forecast = Forecast.from_reply(reply)
    except (KeyError, TypeError, ValueError) as exc:
        return f"no preview: the run's answer is malformed ({exc})"
    if not forecast.steps:
        return f"no preview: {forecast.why or 'the run gave no schedule'}"
    return forecast


def scale_span(values: Sequence[float]) -> float:
    """max / min of the positive finite values (1.0 when there are none): > 10 wants log-y."""
    vals = [v for v in values if math.isfinite(v) and v > 0]
    return max(vals) / min(vals) if vals else 1.0
