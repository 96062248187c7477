"""Rewind a live run from the UI (key ``R``): the plan, the run's snapshots, the ack's words.

The run keeps in-memory snapshots (``Monitor(snapshot_every=N, keep=K)``) and answers
``status`` with their steps. The key asks for that status on a short-lived connection of its
own (the run's connection serves pings and changes one request at a time: see
:func:`ask_status`), opens :class:`~lrwatch.tui.widgets.rewind_dialog.RewindScreen` with the
snapshots and a default (:func:`default_steps_back`), and sends the confirmed
:class:`RewindCommand` through the run's ``RunControl`` exactly as an LR key does.

The request names the target step (``to_step``), not ``steps_back``: the run moves on while
the dialog is open, and "100 steps back" from a later step could pick a snapshot taken after
the trouble began. What the dialog showed is what the run restores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from lrwatch.lrchange import LRChange
from lrwatch.numfmt import fmt_num
from lrwatch.session.commands import Command, change_text
from lrwatch.session.control import Notice, RunControl
from lrwatch.session.events import ControlReply

#: Steps back when no finding and no snapshot suggest better.
DEFAULT_STEPS_BACK = 100
#: The LR factor the dialog proposes (÷10, what large-model practice pairs with a rewind).
DEFAULT_FACTOR = 0.1


@dataclass
class RewindCommand(Command):
    """A ``rewind`` to ``to_step`` (from ``from_step``, the run's step when it was planned),
    with an optional LR ``factor`` applied after the restore; its request arguments are in
    ``extra`` (``to_step``, ``scale_lr``, ``mode``)."""

    from_step: int = 0
    to_step: int = 0
    factor: float | None = None
    mode: str = "rescale"
    #: The snapshot the run will restore (None: it has none at or before ``to_step``).
    snapshot: int | None = None

    def describe(self) -> str:
        """``rewind to step 1,100, LR ×0.1``."""
        lr = f", LR ×{fmt_num(self.factor)}" if self.factor is not None else ""
        return f"rewind to step {self.to_step:,}{lr}"

    def prompt(self, run: str) -> str:
        """The confirmation question."""
        lr = (
            f", LR {change_text(self.old, self.new)}"
            if self.factor is not None and self.old
            else ""
        )
        return f"Rewind run {run} from step {self.from_step:,} to {self.to_step:,}{lr}?"


def plan_rewind(
    step: int,
    steps_back: int,
    factor: float | None,
    lrs: Sequence[float],
    snapshots: Sequence[int],
    mode: str = "rescale",
) -> RewindCommand:
    """The rewind ``steps_back`` from ``step``, with the LR scaled by ``factor`` (or not)."""
    to_step = max(0, step - steps_back)
    snapshot = newest_at_or_before(snapshots, to_step)
    change = LRChange.scale(factor, mode=mode) if factor is not None else None
    new = change.apply(list(lrs)) if change is not None else list(lrs)
    extra: dict[str, Any] = {"to_step": to_step, "mode": mode}
    if factor is not None:
        extra["scale_lr"] = factor
    return RewindCommand(
        "rewind",
        None,
        list(lrs),
        new,
        extra=extra,
        from_step=step,
        to_step=to_step,
        factor=factor,
        mode=mode,
        snapshot=snapshot,
    )


def newest_at_or_before(snapshots: Sequence[int], step: int) -> int | None:
    """The snapshot the run restores for a target ``step`` (None when there is none)."""
    at = [s for s in snapshots if s <= step]
    return max(at) if at else None


def default_steps_back(step: int, snapshots: Sequence[int], onset: int | None) -> int:
    """How far the dialog proposes to go back from ``step``.

    To the newest snapshot before the finding's ``onset`` (the trouble began there), or
    without a finding to the newest one ``DEFAULT_STEPS_BACK`` or more steps back; when there
    is none that far, to the oldest snapshot the run keeps (as far back as it can go); with
    no snapshots reported (a script's ``on_rewind`` may restore its own), that many steps.
    """
    target = (onset - 1) if onset is not None else step - DEFAULT_STEPS_BACK
    earlier = [s for s in snapshots if s < step]
    snap = newest_at_or_before(earlier, target)
    if snap is None and earlier:
        snap = min(earlier)
    if snap is not None:
        return step - snap
    return max(1, min(DEFAULT_STEPS_BACK, step))


def rewind_ack(reply: Mapping[str, Any]) -> str:
    """``rewound 1,200 → 1,100, LR 3e-2 → 3e-3`` from the run's reply (the record's fields)."""
    frm, to = reply.get("step"), reply.get("to_step")
    where = f" {frm:,} → {to:,}" if isinstance(frm, int) and isinstance(to, int) else ""
    old, new = reply.get("old"), reply.get("new")
    lr = ""
    if isinstance(old, list) and isinstance(new, list) and old and new:
        same = old == new  # no factor: the snapshot's LR, as it was before
        lr = (
            f", LR {' '.join(fmt_num(x) for x in new)}" if same else f", LR {change_text(old, new)}"
        )
    source = " (from the script's own checkpoint)" if reply.get("source") == "hook" else ""
    return f"rewound{where}{lr}{source}"


def reword(message: ControlReply, notices: list[Notice]) -> list[Notice]:
    """The ack of a ``rewind`` says what was rewound (other replies pass as they are)."""
    if message.op != "rewind" or not message.ok:
        return notices
    text = rewind_ack(message.reply)
    return [
        replace(n, text=f"✓ {message.run}: {text}", toast=text) if n.text.startswith("✓") else n
        for n in notices
    ]


@dataclass
class RunStatus:
    """What the dialog needs of the run: its step, LRs and snapshot steps (or why not)."""

    step: int | None = None
    lrs: list[float] = field(default_factory=list)
    snapshots: list[int] = field(default_factory=list)
    error: str = ""

    @classmethod
    def of(cls, reply: Mapping[str, Any]) -> RunStatus:
        """From a ``status`` reply (fields the run does not send stay empty)."""
        if not reply.get("ok", True):
            err = reply.get("error")
            return cls(error=str(err.get("message") if isinstance(err, dict) else err))
        step = reply.get("step")
        lrs = [float(x) for x in reply.get("lr") or [] if isinstance(x, int | float)]
        snaps = sorted(int(s) for s in reply.get("snapshots") or [] if isinstance(s, int))
        return cls(step if isinstance(step, int) else None, lrs, snaps)


def ask_status(rc: RunControl) -> RunStatus:
    """The run's ``status`` on a connection of our own (blocking: call it from a worker)."""
    if rc.endpoint is None:
        return RunStatus(error="read-only")
    try:
        return RunStatus.of(rc.request_aside("status"))
    except Exception as exc:
        return RunStatus(error=str(exc) or type(exc).__name__)
