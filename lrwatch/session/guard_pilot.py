"""``lrwatch guard --autopilot``: the autopilot as a :class:`~lrwatch.session.guard.GuardSink`.

:class:`GuardPilot` drives :class:`~lrwatch.session.autopilot.Autopilot` from guard's loop,
headless and without a countdown (``Bounds.countdown`` is 0: nobody is there to cancel):

- per run, on guard's tick (at most every :data:`DECIDE_EVERY` s), it builds the run's
  :func:`~lrwatch.session.pilot_view.pilot_view` under the store's lock and asks
  ``decide()``; only for runs whose control is connected (guard connects them when due);
- every decision is carried out by a :class:`~lrwatch.session.pilot_driver.PilotDriver` on
  the run's :class:`~lrwatch.session.control.RunControl`, in a job on its own thread
  (:meth:`Guard.run_job`), one job per run at a time: a change is answered at the run's next
  step boundary and guard's loop never waits for it;
- the results come back to guard's thread through a queue; the RunControl gets its replies
  there (``handle_reply``) and every decision becomes one alert line
  (``autopilot: ÷10 on run a (divergence since step 100): applied at step 130, 3e-2 →
  3e-3``), a stop at error level;
- with rewinds allowed, the run's ``status`` (its ``snapshots``) is asked for every
  :data:`STATUS_EVERY` s on a connection of its own, and at once when a divergence or NaN
  finding appears: the decision waits for that answer (at most :data:`STATUS_WAIT` s), so a
  snapshot taken just before the onset is known;
- a run without a control endpoint is said once to be read-only; guard keeps alerting.

The autopilot's state is touched under one lock: ``decide`` runs on guard's thread,
``answered`` inside the driver on the job's thread.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lrwatch.lrchange import ack_step
from lrwatch.rules import Finding
from lrwatch.session.alerts import Alert
from lrwatch.session.autopilot import REWIND_SYMPTOMS, Autopilot, Bounds, Decision
from lrwatch.session.commands import change_text, error_text
from lrwatch.session.control import Job, RunControl
from lrwatch.session.events import ControlReply, SessionEvent
from lrwatch.session.guard import Guard, GuardSink
from lrwatch.session.pilot_driver import PilotDriver, PilotResult, ask_status
from lrwatch.session.pilot_view import PilotView, view_in

#: Seconds between two ``decide()`` calls for one run (guard ticks faster while data comes).
DECIDE_EVERY = 0.25
#: Seconds between ``status`` polls per run (only when rewinds are allowed: the snapshots).
STATUS_EVERY = 2.0
#: Seconds a divergence or NaN finding waits for a fresh ``status`` before it is decided on.
STATUS_WAIT = 3.0
#: Seconds to wait for a ``status`` reply.
STATUS_TIMEOUT = 3.0
#: The alert's ``event`` (``LRWATCH_EVENT``) for what the autopilot did or decided.
EVENT = "autopilot"
#: Severity of the alert per decision kind (a refusal is a warning, whatever it was).
SEVERITY = {"change": "warning", "revert": "warning", "rewind": "warning", "stop": "error"}


@dataclass(frozen=True)
class PilotAlert(Alert):
    """An alert about the autopilot: its line is the decision's own words."""

    decision: str = ""  #: the decision's kind (change, revert, rewind, skip, stop, held)

    def line(self) -> str:
        """``2026-12-06 16:18:20  a  step 130  ↻ autopilot: ÷10 on run a (…): applied …``."""
        clock = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.t))
        where = f"step {self.step}" if self.step is not None else "step ?"
        icon = {"error": "✗", "warning": "↻"}.get(self.severity, "i")
        return f"{clock}  {self.run}  {where}  {icon} {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """The alert's JSON object, plus ``decision``."""
        return {**super().to_dict(), "decision": self.decision}

    def env(self) -> dict[str, str]:
        """The ``LRWATCH_*`` variables, plus ``LRWATCH_DECISION``."""
        return {**super().env(), "LRWATCH_DECISION": self.decision}


class _LockedAutopilot(Autopilot):
    """An :class:`Autopilot` whose state one lock guards (decide and answer on two threads)."""

    def __init__(self, bounds: Bounds) -> None:
        super().__init__(bounds)
        self.lock = threading.Lock()

    def decide(self, run: str, view: PilotView, now: float) -> list[Decision]:
        with self.lock:
            return super().decide(run, view, now)

    def answered(self, decision: Decision, ok: bool, reply: dict[str, Any]) -> list[Decision]:
        with self.lock:
            return super().answered(decision, ok, reply)


@dataclass
class _Run:
    """What the plug-in keeps per run."""

    findings: list[Finding] = field(default_factory=list)
    status: dict[str, Any] | None = None  #: the latest ``status`` reply
    status_at: float = -math.inf  #: when it was last asked for (monotonic)
    known_at: float = -math.inf  #: when the latest answered one was asked for
    asking: bool = False  #: a ``status`` job in flight
    want_status: float | None = None  #: a rewind candidate appeared then: wait for a status
    busy: bool = False  #: a decision job in flight
    decided_at: float = -math.inf
    said_read_only: bool = False
    note_failed: bool = False  #: a note could not be written (said once)
    candidates: set[str] = field(default_factory=set)  #: rewind candidates seen (ids)


@dataclass(frozen=True)
class _Status:
    """A ``status`` job's answer (None: no answer)."""

    run: str
    asked: float
    reply: dict[str, Any] | None


@dataclass(frozen=True)
class _Done:
    """A decision job finished (its results came before it)."""

    run: str


class GuardPilot(GuardSink):
    """The autopilot in ``lrwatch guard`` (see the module docstring)."""

    def __init__(self, bounds: Bounds) -> None:
        self.pilot = _LockedAutopilot(bounds)
        self.guard: Guard | None = None
        self._runs: defaultdict[str, _Run] = defaultdict(_Run)
        self._back: queue.Queue[PilotResult | _Status | _Done] = queue.Queue()

    @property
    def bounds(self) -> Bounds:
        return self.pilot.bounds

    # -- GuardSink ------------------------------------------------------------------------------

    def attach(self, guard: Guard) -> None:
        self.guard = guard

    def findings(self, run: str, findings: list[Finding], now: float) -> None:
        st = self._runs[run]
        st.findings = list(findings)
        if "rewind" not in self.bounds.actions:
            return
        # A new divergence/NaN finding: ask the run which snapshots it holds before deciding.
        fresh = {
            f.id for f in findings if not f.resolved and f.symptom in REWIND_SYMPTOMS
        } - st.candidates
        if fresh:
            st.candidates |= fresh
            st.want_status = time.monotonic()

    def tick(self, now: float) -> None:
        self._drain(now)
        if self.guard is None:
            return
        for run in self.guard.runs():
            self._steer(run, now)

    # -- one run --------------------------------------------------------------------------------

    def _steer(self, run: str, now: float) -> None:
        """Connect, poll the status, decide and act for ``run``, whichever is due."""
        guard = self.guard
        assert guard is not None
        st = self._runs[run]
        rc = guard.session.control(run)
        if not self._live(run, rc, st, now):
            return
        if not rc.connected:
            guard.control(run)  # starts a connection when one is due
            return
        mono = time.monotonic()
        if "rewind" in self.bounds.actions and mono - st.status_at >= STATUS_EVERY:
            self._ask_status(rc, st, mono)
        if st.busy or mono - st.decided_at < DECIDE_EVERY:
            return
        if st.want_status is not None:
            if st.known_at < st.want_status and mono - st.want_status < STATUS_WAIT:
                if not st.asking:
                    self._ask_status(rc, st, mono)
                return  # decide once the run said which snapshots it holds
            st.want_status = None
        st.decided_at = mono
        decisions = self._decide(run, st, now)
        if decisions:
            self._act(rc, st, decisions, now)

    def _live(self, run: str, rc: RunControl, st: _Run, now: float) -> bool:
        """Whether the autopilot can act on ``run`` at all (says once when it is read-only)."""
        guard = self.guard
        assert guard is not None
        data = guard.data(run)
        if data is None:
            return False
        if rc.endpoint is not None:
            return not (rc.ended or data.ended is not None or run in guard.ended)
        loss = data.series.get("loss")
        if not st.said_read_only and loss is not None and len(loss):
            # The header came first and named no control endpoint: nothing to steer.
            st.said_read_only = True
            text = f"autopilot: run {run} is read-only: autopilot cannot act (no control endpoint)"
            guard.alert(
                PilotAlert(
                    EVENT,
                    run,
                    "info",
                    "read-only",
                    data.last_step,
                    text,
                    t=now,
                    notify=False,
                    decision="read-only",
                )
            )
        return False

    def _decide(self, run: str, st: _Run, now: float) -> list[Decision]:
        guard = self.guard
        assert guard is not None
        view = view_in(guard.session.store, run, st.findings, st.status, self.bounds.horizon)
        return [] if view is None else self.pilot.decide(run, view, now)

    def _act(self, rc: RunControl, st: _Run, decisions: list[Decision], now: float) -> None:
        """Say the notes now; carry every decision out on a job (one per run at a time)."""
        guard = self.guard
        assert guard is not None
        for d in decisions:
            if not d.changes:
                guard.alert(self._alert(d, d.describe(), self._last_step(d.run), now))
        st.busy = True
        guard.run_job(self._job(rc, decisions))

    def _job(self, rc: RunControl, decisions: list[Decision]) -> Job:
        driver, back, run = PilotDriver(rc, self.pilot), self._back, rc.name

        def job() -> list[SessionEvent]:
            events: list[SessionEvent] = []
            try:
                for d in decisions:
                    result = driver.execute(d)
                    back.put(result)
                    # Replies come back with the result (handled by _drain); a lost
                    # connection goes to guard's loop, as any job's.
                    events += [ev for ev in result.events if not isinstance(ev, ControlReply)]
            finally:
                back.put(_Done(run))
            return events

        return job

    def _ask_status(self, rc: RunControl, st: _Run, mono: float) -> None:
        guard = self.guard
        assert guard is not None
        if st.asking:
            return
        st.asking, st.status_at = True, mono
        back = self._back

        def job() -> list[SessionEvent]:
            # No answer (None) is asked again at the next poll.
            back.put(_Status(rc.name, mono, ask_status(rc, STATUS_TIMEOUT)))
            return []

        guard.run_job(job)

    # -- results, on guard's thread -------------------------------------------------------------

    def _drain(self, now: float) -> None:
        while True:
            try:
                item = self._back.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Done):
                self._runs[item.run].busy = False
            elif isinstance(item, _Status):
                st = self._runs[item.run]
                st.asking = False
                if item.reply is not None:
                    st.status, st.known_at = item.reply, max(st.known_at, item.asked)
            else:
                self._result(item, now)

    def _result(self, result: PilotResult, now: float) -> None:
        """A decision was carried out: hand the replies to the RunControl, say how it went."""
        guard = self.guard
        assert guard is not None
        d = result.decision
        rc = guard.session.control(d.run)
        for ev in result.events:
            if isinstance(ev, ControlReply):
                rc.handle_reply(ev)  # (its ack line is said by the alert below)
        if not d.changes:
            if not result.ok and not self._runs[d.run].note_failed:
                self._runs[d.run].note_failed = True
                guard.warn(
                    f"autopilot: cannot write its notes to run {d.run}'s log: "
                    f"{error_text(result.reply)} (further failures are not shown)"
                )
            return
        step = ack_step(result.reply)
        if result.ok:
            text = f"{d.describe()}: {_ack(d, result.reply)}"
        else:
            text = f"{d.describe()}: refused: {error_text(result.reply)}"
            step = self._last_step(d.run)
        if d.kind == "revert" and d.reason.startswith("revert: "):
            text += f"; {d.reason[len('revert: ') :]}"
        guard.alert(self._alert(d, text, step, now, "warning" if not result.ok else None))

    def _alert(
        self, d: Decision, text: str, step: int | None, now: float, severity: str | None = None
    ) -> PilotAlert:
        guard = self.guard
        assert guard is not None
        level = severity or SEVERITY.get(d.kind, "info")
        f = next((f for f in self._runs[d.run].findings if f.id == d.finding), None)
        # What the autopilot does to a run reaches every sink; a skip or a hold is a line
        # unless its level reaches --on.
        notify = d.kind in SEVERITY or guard.policy.reaches(level)
        return PilotAlert(
            EVENT,
            d.run,
            level,
            f.symptom if f is not None else EVENT,
            step,
            text,
            finding_id=d.finding,
            t=now,
            finding=f.to_dict() if f is not None else None,
            notify=notify,
            decision=d.kind,
        )

    def _last_step(self, run: str) -> int | None:
        guard = self.guard
        data = guard.data(run) if guard is not None else None
        return data.last_step if data is not None else None


def _ack(d: Decision, reply: dict[str, Any]) -> str:
    """``applied at step 130, 3e-2 → 3e-3`` or ``rewound 170 → 150, LR 1.25 → 0.125``."""
    old, new = reply.get("old"), reply.get("new")
    lrs = change_text(old, new) if isinstance(old, list) and isinstance(new, list) else ""
    if d.kind == "rewind":
        frm, to = reply.get("step"), reply.get("to_step")
        return f"rewound {frm} → {to}" + (f", LR {lrs}" if lrs else "")
    return f"applied at step {reply.get('step')}" + (f", {lrs}" if lrs else "")
