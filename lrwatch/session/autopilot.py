"""The autopilot's policy: which findings to act on, inside which bounds, and whether it
worked (pure: no IO, no threads; the time comes in as ``now``).

:meth:`Autopilot.decide` looks at one run (a :class:`~lrwatch.session.pilot_view.PilotView`)
and returns :class:`Decision` values; a :class:`~lrwatch.session.pilot_driver.PilotDriver`
carries them out and hands the run's answer back (:meth:`Autopilot.answered`). A change is
planned exactly as the UI's ``a`` key plans it (:func:`~lrwatch.session.commands.plan_action`)
and carries ``by="autopilot"``, the finding's id and the reason into the run's record.

Per run: one change in flight; then its outcome is watched over ``Bounds.horizon`` logged
loss points; if the finding did not resolve or the mean loss got worse than over the same
number of points before (or is not finite), the change is reverted or the autopilot stops
for that run (``Bounds.on_fail``). The counts and the last change's step are also read
back from the run's log (records with ``by == "autopilot"``), so a restarted ``guard`` keeps
within the bounds. docs/autopilot.md has the rules and the defaults.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from lrwatch.lrchange import LRChange
from lrwatch.numfmt import fmt_num
from lrwatch.rules.finding import severity_rank
from lrwatch.session.commands import Command, error_text, plan_action, plan_scale
from lrwatch.session.pilot_view import PilotView, loss_around

#: What a change may do: lower the LR, raise it, rewind to a snapshot (with the change).
ACTIONS = ("decrease", "increase", "rewind")
ON_FAIL = ("revert", "stop")
#: Decision kinds; the first three send a command, the others only write a note.
KINDS = ("change", "revert", "rewind", "skip", "stop", "held")
#: Findings a rewind may answer (when allowed and the run keeps snapshots).
REWIND_SYMPTOMS = ("divergence", "nan_inf")
#: The ``by`` of everything the autopilot does.
BY = "autopilot"
#: Relative slack when comparing an LR with a bound (the run's float arithmetic).
EPS = 1e-9


@dataclass(frozen=True)
class Bounds:
    """What the autopilot may do to a run (the user's choice; defaults in docs/autopilot.md)."""

    actions: frozenset[str] = frozenset({"decrease"})
    max_changes: int = 3  #: changes per run (reverts do not count)
    min_steps: int = 100  #: fewest steps between two changes (a revert counts as one)
    floor: float = 1e-3  #: lowest LR, × the run's first LR (per group)
    ceiling: float = 1.0  #: highest LR, × the run's first LR
    horizon: int = 50  #: logged loss points after a change before its outcome is judged
    on_fail: str = "revert"
    severity: str = "error"  #: act on findings at or above this severity
    mode: str = "rescale"  #: how changes survive the schedule (docs/lr-changes.md)
    countdown: float = 5.0  #: seconds between announcing a change and sending it

    def __post_init__(self) -> None:
        unknown = set(self.actions) - set(ACTIONS)
        if unknown:
            raise ValueError(f"unknown autopilot action(s): {', '.join(sorted(unknown))}")
        if self.on_fail not in ON_FAIL:
            raise ValueError(f"on_fail must be one of {', '.join(ON_FAIL)}")
        if not 0 < self.floor <= self.ceiling:
            raise ValueError("the LR floor must be > 0 and at most the ceiling")
        if self.max_changes < 0 or self.min_steps < 0 or self.horizon < 1 or self.countdown < 0:
            raise ValueError("max_changes, min_steps, countdown must be ≥ 0 and horizon ≥ 1")


@dataclass(frozen=True)
class Decision:
    """One thing the autopilot decided for one run (see :data:`KINDS`)."""

    kind: str
    run: str
    command: Command | None = None  #: for change / revert / rewind
    finding: str = ""  #: the finding's id
    reason: str = ""
    what: str = ""  #: the finding in a few words: ``divergence since step 120``
    due: float = 0.0  #: when to send it (announced at ``due - countdown``)

    @property
    def changes(self) -> bool:
        """Whether it sends a command that changes the run (else it is a note)."""
        return self.kind in ("change", "revert", "rewind")

    def attribution(self) -> dict[str, str]:
        """``by``, ``finding`` and ``reason`` as the protocol takes them."""
        out = {"by": BY, "finding": self.finding[:128], "reason": self.reason[:300]}
        return {k: v for k, v in out.items() if v}

    def request(self) -> Command:
        """The command to send: the change with its attribution, or a ``note``."""
        if self.command is not None and self.changes:
            return replace(self.command, attribution=self.attribution())
        return Command("note", extra={"text": self.describe()}, attribution=self.attribution())

    def describe(self, now: float | None = None) -> str:
        """One line for alerts, notes and the UI's countdown:
        ``autopilot: ÷10 on run a (divergence since step 120) in 5 s``."""
        about = f" ({self.what})" if self.what else ""
        if self.kind == "stop":
            return f"autopilot stopped on run {self.run}{about}: {self.reason}"
        if self.kind in ("skip", "held"):
            return f"autopilot {self.kind} on run {self.run}{about}: {self.reason}"
        when = ""
        if now is not None and self.due > now:
            when = f" in {math.ceil(self.due - now - 1e-9)} s"
        return f"autopilot: {self.label()} on run {self.run}{about}{when}"

    def label(self) -> str:
        """The change in a few characters: ``÷10``, ``revert ×10``, ``rewind to 100, ÷10``."""
        cmd = self.command
        if cmd is None:
            return self.kind
        if self.kind == "rewind":
            factor = cmd.extra.get("scale_lr")
            scale = f", {LRChange.scale(factor).describe()}" if factor else ""
            return f"rewind to step {cmd.extra.get('to_step')}{scale}"
        change = cmd.change.describe() if cmd.change is not None else cmd.op
        return f"revert {change}" if self.kind == "revert" else change


@dataclass(frozen=True)
class _Watch:
    """A change that took effect at ``step`` (a rewind: its snapshot step), being judged."""

    decision: Decision
    step: int
    back: float  #: old / new LR of group 0, as the run acknowledged it: the revert's factor


@dataclass
class _RunState:
    changes: int = 0  #: changes made (this autopilot's count; the log's may be higher)
    last: int | None = None  #: step of the last change or revert (from its ack)
    log_last: int | None = None  #: the same, read from the log (a restarted autopilot)
    pending: Decision | None = None  #: announced or sent, not answered yet
    watch: _Watch | None = None
    stopped: str = ""  #: why it stopped for this run ("" while it has not)
    done: set[str] = field(default_factory=set)  #: findings acted on, refused or cancelled
    noted: set[tuple[str, str]] = field(default_factory=set)  #: (finding, bound) skips said


class Autopilot:
    """Bounded, self-checking LR changes for the runs it is shown (see the module docstring)."""

    def __init__(self, bounds: Bounds | None = None) -> None:
        self.bounds = bounds or Bounds()
        self._runs: defaultdict[str, _RunState] = defaultdict(_RunState)

    # -- the policy -----------------------------------------------------------------------------

    def decide(self, run: str, view: PilotView, now: float) -> list[Decision]:
        """What to do about ``run`` now (usually nothing). A change, revert or rewind is
        pending from here until :meth:`answered` or :meth:`cancel`."""
        st = self._runs[run]
        self._read_log(st, view)
        if st.stopped or st.pending is not None or view.ended:
            return []
        if st.watch is not None:
            return self._judge(st, view, now)
        finding = self._pick(st, view)
        return [] if finding is None else self._act(st, view, finding, now)

    def answered(self, decision: Decision, ok: bool, reply: dict[str, Any]) -> list[Decision]:
        """The run answered ``decision``'s command; returns the note to write for a refusal
        (a refusal counts against nothing, and that finding is not tried again)."""
        st = self._runs[decision.run]
        if st.pending is decision:
            st.pending = None
        if not decision.changes:
            return []
        st.done.add(decision.finding)
        if not ok:
            why = error_text(reply)
            return [replace(decision, kind="skip", command=None, reason=f"refused: {why}")]
        step = _int(reply.get("to_step" if decision.kind == "rewind" else "step"))
        if step is None and decision.command is not None:
            step = _int(decision.command.extra.get("to_step"))
        if step is None:
            return []  # an ack without a step: nothing to measure from
        st.last = step
        if decision.kind != "revert":
            st.changes += 1
            st.watch = _Watch(decision, step, _back(reply, decision.command))
        return []

    def cancel(self, decision: Decision) -> list[Decision]:
        """A person cancelled ``decision`` during its countdown: not tried again; the note."""
        st = self._runs[decision.run]
        if st.pending is decision:
            st.pending = None
        st.done.add(decision.finding)
        return [replace(decision, kind="skip", command=None, reason="cancelled by a person")]

    def stopped(self, run: str) -> str:
        """Why the autopilot stopped for ``run`` ("" while it has not)."""
        return self._runs[run].stopped

    # -- steps ----------------------------------------------------------------------------------

    def _read_log(self, st: _RunState, view: PilotView) -> None:
        """Take the count and the last step from the log too (a restarted autopilot)."""
        ours = [c for c in view.changes if c.by == BY]
        made = sum(1 for c in ours if not c.reason.startswith("revert"))
        st.changes = max(st.changes, made)
        if ours and st.last is None:
            # The newest in log order (a rewind moves the steps back), until an ack says.
            last = ours[-1]
            st.log_last = last.to_step if last.kind == "rewind" else last.step
        st.done.update(c.finding for c in ours if c.finding)

    def _pick(self, st: _RunState, view: PilotView) -> Any | None:
        """The open finding to act on: the most severe, then the newest, with an action."""
        least = severity_rank(self.bounds.severity)
        open_ = [
            f
            for f in view.findings
            if not getattr(f, "resolved", False)
            and getattr(f, "action", None)
            and severity_rank(getattr(f, "severity", "info")) >= least
            and getattr(f, "id", "") not in st.done
        ]
        if not open_:
            return None
        return max(open_, key=lambda f: (severity_rank(f.severity), f.last_step))

    def _act(self, st: _RunState, view: PilotView, f: Any, now: float) -> list[Decision]:
        b = self.bounds
        base = Decision("change", view.run, None, f.id, what=f"{f.symptom} since step {f.step}")
        if st.changes >= b.max_changes:
            return self._skip(st, base, "max_changes", f"made the most changes ({b.max_changes})")
        last = st.last if st.last is not None else st.log_last
        since = (view.last_step or 0) - last if last is not None else None
        if since is not None and since < b.min_steps:
            why = f"waits: {since} steps since the last change (fewest {b.min_steps})"
            return self._skip(st, base, "min_steps", why, final=False)
        cmd, ratio, note, bound = self._plan(view, f)
        if cmd is None or cmd.change is None:
            return self._skip(st, base, bound, note)
        text = f"{f.symptom} at step {f.step}: {cmd.change.describe()}{note}"
        d = replace(base, command=cmd, reason=text, due=now + b.countdown)
        d = self._rewind_instead(view, f, d, ratio) or d
        st.pending = d
        return [d]

    def _plan(self, view: PilotView, f: Any) -> tuple[Command | None, float, str, str]:
        """The finding's fix as ``a`` plans it, kept inside the bounds: (command, its ratio,
        what was clamped, ""), or (None, 0, why not, which bound)."""
        b = self.bounds
        if not view.first_lrs or not view.lrs:
            return None, 0.0, "the run's LR is not known: bounds cannot hold", "lr"
        cmd = plan_action(f.action, view.lrs, b.mode)
        if cmd is None or cmd.change is None or not cmd.old:
            return None, 0.0, "its fix is not an LR change", "action"
        ratio = cmd.change.ratio(view.lrs)  # the factor itself for scale_lr
        if not math.isfinite(ratio) or ratio <= 0 or ratio == 1:
            return None, 0.0, f"{cmd.change.describe()} changes nothing", "action"
        way = "decrease" if ratio < 1 else "increase"
        if way not in b.actions:
            return None, 0.0, f"{way}s are not allowed", "action"
        kept, clamp = self._clamp(view, ratio)
        if kept is None:
            return None, 0.0, clamp, "bound"
        if clamp:
            cmd = plan_scale(kept, view.lrs, b.mode)
        return cmd, kept, clamp, ""

    def _clamp(self, view: PilotView, ratio: float) -> tuple[float | None, str]:
        """``ratio`` kept inside the floor and ceiling of every group: (the ratio, what was
        clamped); (None, why) when the LR is already at the bound."""
        b, firsts = self.bounds, view.first_lrs
        # Per group, against that group's first LR (group 0's when the header has fewer).
        pairs = [(firsts[min(g, len(firsts) - 1)], x) for g, x in enumerate(view.lrs) if x > 0]
        lows = [b.floor * first / x for first, x in pairs]
        highs = [b.ceiling * first / x for first, x in pairs]
        if ratio < 1:
            low = max(lows)
            if low >= 1 - EPS:
                return None, f"the LR is at its floor ({fmt_num(b.floor)}× the first LR)"
            if ratio < low * (1 - EPS):
                return low, f" (clamped to the floor, {fmt_num(b.floor)}× the first LR)"
            return ratio, ""
        high = min(highs)
        if high <= 1 + EPS:
            return None, f"the LR is at its ceiling ({fmt_num(b.ceiling)}× the first LR)"
        if ratio > high * (1 + EPS):
            return high, f" (clamped to the ceiling, {fmt_num(b.ceiling)}× the first LR)"
        return ratio, ""

    def _rewind_instead(
        self, view: PilotView, f: Any, d: Decision, ratio: float
    ) -> Decision | None:
        """Divergence or NaN, rewind allowed, a snapshot before the onset: rewind there with
        the same factor."""
        if "rewind" not in self.bounds.actions or f.symptom not in REWIND_SYMPTOMS:
            return None
        before = [s for s in view.snapshots if s < f.step]
        if not before:
            return None
        to = max(before)
        extra = {"to_step": to, "scale_lr": ratio, "mode": self.bounds.mode}
        cmd = Command("rewind", None, list(view.lrs), [x * ratio for x in view.lrs], extra=extra)
        d = replace(d, kind="rewind", command=cmd)
        return replace(d, reason=f"{f.symptom} at step {f.step}: {d.label()}")

    def _skip(
        self, st: _RunState, d: Decision, bound: str, why: str, final: bool = True
    ) -> list[Decision]:
        """A skip note, once per finding and bound; ``final``: the finding is not tried again
        (a bound that time lifts, the spacing, is not final)."""
        if final:
            st.done.add(d.finding)
        if (d.finding, bound) in st.noted:
            return []
        st.noted.add((d.finding, bound))
        return [replace(d, kind="skip", reason=why)]

    def _judge(self, st: _RunState, view: PilotView, now: float) -> list[Decision]:
        """The watched change's outcome, once ``horizon`` points came after it."""
        w, h = st.watch, self.bounds.horizon
        assert w is not None
        around = loss_around(view, w.step, h, rewind=w.decision.kind == "rewind")
        if around is None or len(around[1]) < h:
            return []
        st.watch = None
        d = w.decision
        why = _failure(d, view, *around)
        if not why.startswith("the "):
            return [replace(d, kind="held", command=None, reason=f"{d.label()} held: {why}")]
        if d.kind == "rewind" or self.bounds.on_fail == "stop":
            st.stopped = why
            return [replace(d, kind="stop", command=None, reason=why)]
        return self._revert(st, view, d, w.back, why, now)

    def _revert(
        self, st: _RunState, view: PilotView, d: Decision, factor: float, why: str, now: float
    ) -> list[Decision]:
        """Undo ``d`` (scale by ``factor``), kept inside the floor and ceiling too."""
        kept, clamp = self._clamp(view, factor)
        if kept is None:
            return [replace(d, kind="skip", command=None, reason=f"no revert: {clamp}; {why}")]
        cmd = plan_scale(kept, view.lrs, self.bounds.mode)
        revert = replace(d, kind="revert", command=cmd, reason=f"revert: {why}{clamp}")
        st.pending = revert = replace(revert, due=now + self.bounds.countdown)
        return [revert]


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _back(reply: dict[str, Any], cmd: Command | None) -> float:
    """old / new LR of group 0 as the run acknowledged it (else as planned): the revert."""
    for old, new in ((reply.get("old"), reply.get("new")), (cmd and cmd.old, cmd and cmd.new)):
        if isinstance(old, list) and isinstance(new, list) and old and new:
            a, b = old[0], new[0]
            if isinstance(a, int | float) and isinstance(b, int | float) and a > 0 and b > 0:
                return float(a) / float(b)
    return 1.0


def _failure(d: Decision, view: PilotView, before: np.ndarray, after: np.ndarray) -> str:
    """Why the change ``d`` failed (``the ...``), or what shows it held.

    The loss where the change left the run, the median of the horizon's last quarter, is
    compared with the median of the points before it: a mean over the horizon is ruled by
    the first points after a blow-up (the change lands a few steps after the finding, at the
    peak) and called a recovered run worse (docs/autopilot.md).
    """
    end = after[-max(1, len(after) // 4) :]
    mb = float(np.median(before)) if len(before) else math.nan
    ma = float(np.median(end)) if np.all(np.isfinite(end)) else math.nan
    loss = f"median loss {fmt_num(mb)} before, {fmt_num(ma)} at the end of {len(after)} points"
    if not math.isfinite(ma):
        return f"the loss is not finite after {d.label()} ({loss})"
    if math.isfinite(mb) and ma > mb:
        return f"the loss got worse after {d.label()} ({loss})"
    if view.is_open(d.finding):
        return f"the finding did not resolve after {d.label()} ({loss})"
    return loss
