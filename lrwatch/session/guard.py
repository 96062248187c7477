"""``lrwatch guard``'s engine, headless: a :class:`Session` driven from one plain loop.

A :class:`Guard` owns a :class:`~lrwatch.session.session.Session` (files, directories and
globs through its follower) plus one subscribe stream per control endpoint, takes the
session's events from a queue on the thread that calls :meth:`Guard.run`, turns findings and
run ends into alerts (:class:`~lrwatch.session.alerts.AlertPolicy`) for its alert sinks, and
hands the same news to its :class:`GuardSink` plug-ins (the autopilot), which may steer a run
through :meth:`Guard.control`/:meth:`Guard.send` — the path a key press in the UI takes.

It stops once every run it follows wrote its ``end`` record (or its pipe closed) and every
stream ended, or when :meth:`Guard.stop` is called (Ctrl+C, SIGTERM).
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable

from lrwatch.control.client import ControlClient
from lrwatch.records import Event
from lrwatch.rules import Finding, severity_rank
from lrwatch.session.alerts import Alert, AlertPolicy, AlertSink
from lrwatch.session.commands import Command
from lrwatch.session.control import Job, RunControl
from lrwatch.session.events import (
    ControlReply,
    ControlState,
    DataArrived,
    FindingsChanged,
    InputClosed,
    ReadProgress,
    SessionEvent,
    SourceProblem,
)
from lrwatch.session.session import Session
from lrwatch.session.stream import follow_stream
from lrwatch.store import RunData

#: Seconds the loop waits for an event before its clock work (rate-limit windows, ticks).
TICK = 0.25
#: Seconds to wait at the end for the rules to judge what was read.
DRAIN = 30.0


class GuardSink:
    """A plug-in that sees what guard sees, on guard's thread (the autopilot is one).

    Every method does nothing unless overridden; none may block (run I/O through
    :meth:`Guard.send`, whose reply comes back to :meth:`replied`).
    """

    def attach(self, guard: Guard) -> None:
        """Called once before the loop starts: keep ``guard`` to reach runs and controls."""

    def findings(self, run: str, findings: list[Finding], now: float) -> None:
        """Run ``run``'s findings changed: all of them, open and resolved (``now``: wall time)."""

    def events(self, run: str, events: list[Event]) -> None:
        """Run ``run`` logged these events (``lr_change``, ``rewind``, ``note``, ``end`` …)."""

    def replied(self, run: str, reply: ControlReply) -> None:
        """The run answered a command sent with :meth:`Guard.send`."""

    def tick(self, now: float) -> None:
        """Called about every :data:`TICK` seconds (``now``: wall time)."""

    def close(self) -> None:
        """Guard is stopping."""


class Guard:
    """Follows runs, alerts on findings and run ends, and drives its plug-ins."""

    def __init__(
        self,
        paths: list[str],
        endpoints: list[str],
        policy: AlertPolicy,
        alerts: list[AlertSink],
        *,
        session: Callable[[Callable[[SessionEvent], object]], Session] | None = None,
        token: str | None = None,
        plugins: list[GuardSink] | None = None,
        note: Callable[[str], object] = print,
        warn: Callable[[str], object] = print,
    ) -> None:
        """``session(emit)`` makes the session (default: one following ``paths``)."""
        self.events: queue.Queue[SessionEvent] = queue.Queue()
        make = session or (lambda emit: Session(emit, paths=paths, token=token))
        self.session = make(self.events.put)
        self.has_files = bool(self.session.paths)
        self.endpoints, self.token = endpoints, token
        self.policy, self.alert_sinks = policy, alerts
        self.plugins = plugins or []
        self.note = note  #: where lines that are not alerts go (a command's ack)
        self.warn = warn  #: where reading problems go (stderr)
        self.ended: dict[str, Event | None] = {}  #: runs over (their end record, if any)
        self.crashed: set[str] = set()
        self.problem = ""  #: a fatal reading problem (guard exits 2)
        self._ending: dict[str, Event | None] = {}  # ended, awaiting the rules' last word
        self._streams: list[threading.Thread] = []
        self._clients: list[ControlClient] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- for plug-ins ---------------------------------------------------------------------------

    def runs(self) -> list[str]:
        """The runs seen so far."""
        return list(self.session.store.runs)

    def data(self, run: str) -> RunData | None:
        """Run ``run``'s data (read it under ``guard.session.store.lock``)."""
        return self.session.store.runs.get(run)

    def control(self, run: str) -> RunControl:
        """Run ``run``'s control (its endpoint from the log's header, once read); a
        connection is started when one is due."""
        rc = self.session.control(run)
        self.run_job(rc.connect_job())
        return rc

    def send(self, run: str, cmd: Command) -> str | None:
        """Send ``cmd`` to run ``run`` (the reply goes to :meth:`GuardSink.replied`);
        returns why it cannot be sent now (None: sent)."""
        rc = self.control(run)
        refusal = rc.refusal()
        if refusal is None:
            self.run_job(rc.send_job(cmd))
        return refusal

    def alert(self, alert: Alert) -> None:
        """Say ``alert`` through every alert sink (a plug-in's own alerts, too)."""
        for sink in self.alert_sinks:
            sink.send(alert)

    def stop(self) -> None:
        """End the loop (any thread, or a signal handler)."""
        self._stop.set()
        self.events.put(ReadProgress(0, 0))  # wake the loop

    # -- the loop -------------------------------------------------------------------------------

    def run(self) -> None:
        """Follow until every run ended or :meth:`stop`; then drain the rules and stop."""
        for plugin in self.plugins:
            plugin.attach(self)
        self.session.start()
        if self.has_files:
            self._thread(self.session.read_files, "lrwatch-guard-files")
        for target in self.endpoints:
            self._streams.append(self._thread(self._follow, "lrwatch-guard-stream", target))
        try:
            while not self._stop.is_set() and not self._over():
                try:
                    ev = self.events.get(timeout=TICK)
                except queue.Empty:
                    ev = None
                if ev is not None:
                    self._handle(ev)
                self._settle()
                self._tick()
            self._finish()
        finally:
            self.session.close()
            for client in self._clients:
                client.close()
            for plugin in self.plugins:
                plugin.close()

    def _thread(self, target: Callable[..., object], name: str, *args: object) -> threading.Thread:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)
        return t

    def _follow(self, target: str) -> None:
        follow_stream(
            target, self.token, self.session.ingest, self.session.stop, self._clients.append
        )

    def run_job(self, job: Job | None) -> None:
        """Run a blocking job (a RunControl job, a PilotDriver's execute) on a thread; the
        events it returns come back to this loop (a reply reaches :meth:`GuardSink.replied`)."""
        if job is None:
            return

        def run() -> None:
            for ev in job():
                self.events.put(ev)

        self._thread(run, "lrwatch-guard-control")

    def _over(self) -> bool:
        """Every run seen is over, and every input that could bring more has ended."""
        if any(t.is_alive() for t in self._streams):
            return False
        runs = self.runs()
        if self.problem:
            return True
        if not runs:
            return bool(self.endpoints) and not self.has_files  # streams ended with nothing
        return all(r in self.ended for r in runs)

    def _handle(self, ev: SessionEvent) -> None:
        if isinstance(ev, DataArrived):
            for run, evs in ev.events.items():
                for plugin in self.plugins:
                    plugin.events(run, evs)
                for e in evs:
                    if e.kind == "end":
                        self._ending.setdefault(run, e)
        elif isinstance(ev, FindingsChanged):
            self._findings(ev.run, ev.findings)
        elif isinstance(ev, InputClosed):
            self._ending.setdefault(ev.run, None)
        elif isinstance(ev, ReadProgress) and ev.done:
            self.session.ingest.release_rules()  # the backlog is read: judge it
        elif isinstance(ev, SourceProblem):
            if not (ev.text.startswith("stream from ") and ev.text.endswith(" ended")):
                self.warn(ev.text)  # (a stream that ended after its records is no problem)
            if ev.fatal:
                self.problem = ev.text
        elif isinstance(ev, ControlState):
            self._control_state(ev)
        elif isinstance(ev, ControlReply):
            rc = self.session.control(ev.run)
            for notice in rc.handle_reply(ev):
                self.note(notice.text)
            for plugin in self.plugins:
                plugin.replied(ev.run, ev)

    def _control_state(self, ev: ControlState) -> None:
        rc = self.session.control(ev.run)
        end = self.ended.get(ev.run) or self._ending.get(ev.run)
        over = ev.run in self.ended or ev.run in self._ending
        for notice in rc.handle_state(ev, end, over):
            if notice.text:
                self.note(notice.text)

    def _findings(self, run: str, findings: list[Finding]) -> None:
        now = time.time()
        for alert in self.policy.findings(run, findings, now):
            self.alert(alert)
        for plugin in self.plugins:
            plugin.findings(run, findings, now)

    def _settle(self) -> None:
        """Runs that ended: once the rules judged all they read, their last findings, then
        the end itself."""
        rules = self.session.ingest.rules
        for run, end in list(self._ending.items()):
            if rules is not None and rules.queued(run) and not rules.failed:
                continue
            del self._ending[run]
            engine = rules.engines.get(run) if rules is not None else None
            if engine is not None:
                self._findings(run, engine.findings)
            self.ended[run] = end
            if end is not None and end.data.get("status") == "crashed":
                self.crashed.add(run)
            data = self.data(run)
            last = data.last_step if data is not None else None
            for alert in self.policy.ended(run, end, time.time(), last):
                self.alert(alert)

    def _tick(self) -> None:
        now = time.time()
        for alert in self.policy.tick(now):
            self.alert(alert)
        for plugin in self.plugins:
            plugin.tick(now)

    def _finish(self) -> None:
        """Stopping: let the rules judge what was read (bounded), and say what they found."""
        rules = self.session.ingest.rules
        if rules is None:
            return
        self.session.ingest.release_rules()
        deadline = time.monotonic() + DRAIN
        while time.monotonic() < deadline and rules.backlog and not rules.failed:
            with contextlib.suppress(queue.Empty):
                self._handle(self.events.get(timeout=0.05))
        while True:
            try:
                self._handle(self.events.get_nowait())
            except queue.Empty:
                break
        self._settle()
        for run, engine in list(rules.engines.items()):
            self._findings(run, engine.findings)

    # -- the verdict ----------------------------------------------------------------------------

    def reached(self, level: str) -> bool:
        """Whether a finding (open or resolved: it happened) or a crash reached ``level``."""
        rules = self.session.ingest.rules
        line = severity_rank(level)
        engines = list(rules.engines.values()) if rules is not None else []
        if any(severity_rank(f.severity) >= line for e in engines for f in e.findings):
            return True
        return bool(self.crashed) and line <= severity_rank("error")

    def without_loss(self) -> list[str]:
        """Runs that gave records but no training loss (nothing to judge)."""
        out = []
        with self.session.store.lock:
            for name, run in self.session.store.runs.items():
                loss = run.series.get("loss")
                if loss is None or not len(loss):
                    out.append(name)
        return out
