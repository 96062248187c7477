"""What ``lrwatch guard`` says about findings, and where it says it (no Textual, no Rich).

:class:`AlertPolicy` turns the rule engine's findings (and runs ending) into :class:`Alert`
values: one when a finding at or above the threshold opens, when it escalates, and once when
it resolves; a finding that keeps coming back (the same id reopened, same severity) alerts at
most once per ``repeat`` seconds — a comeback inside the window is held and sent when the
window ends if the finding is still open then, so the last word is never a stale "resolved".
It is pure: the caller passes the clock.

The sinks deliver them: :class:`LineSink` (one line or one JSON object per alert),
:class:`BellSink`, :class:`ExecSink` (a shell command with the alert in its environment and on
stdin) and :class:`WebhookSink` (an HTTP POST). The last two run on their own worker thread
behind a bounded queue, so a slow command or server never holds up the follower; their
failures are reported once per kind, never raised.
"""

from __future__ import annotations

import abc
import json
import os
import queue
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TextIO

from lrwatch.records import Event
from lrwatch.rules import Finding, severity_rank

#: What an alert is about (LRWATCH_EVENT): a finding opened, came back, got worse, resolved;
#: a run ended.
EVENTS = ("opened", "repeated", "escalated", "resolved", "ended")
#: Symptoms said on every line whatever ``--on`` is: a run going quiet is news at any level.
ALWAYS_SAID = ("stalled",)
_ICON = {"error": "✗", "warning": "!", "info": "i"}

#: Where a sink reports that it failed (a line for stderr).
Problem = Callable[[str], object]


@dataclass(frozen=True)
class Alert:
    """One thing guard tells the user about a run."""

    event: str  #: one of :data:`EVENTS`
    run: str
    severity: str  #: info | warning | error (a crashed run: error; finished: info)
    symptom: str  #: the finding's symptom, or ``finished`` / ``crashed`` for ``ended``
    step: int | None  #: onset; where it came back, escalated or resolved; a run's last step
    message: str
    fix: str = ""
    finding_id: str = ""
    t: float = field(default_factory=time.time)  #: wall time of the alert
    finding: dict[str, Any] | None = None  #: the finding as ``diagnose --json`` gives it
    #: Sent to every sink (at or above ``--on``); False: only said on the line.
    notify: bool = True

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``--json``, the webhook body and the command's stdin."""
        return {
            "event": self.event,
            "run": self.run,
            "severity": self.severity,
            "symptom": self.symptom,
            "step": self.step,
            "message": self.message,
            "fix": self.fix,
            "finding_id": self.finding_id,
            "t": round(self.t, 3),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.t)),
            "finding": self.finding,
        }

    def line(self) -> str:
        """One line: local time, run, step, what happened, the message and the fix."""
        clock = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.t))
        where = f"step {self.step}" if self.step is not None else "step ?"
        if self.event == "ended":
            icon = "✗" if self.severity == "error" else "■"
            return f"{clock}  {self.run}  {where}  {icon} run {self.symptom}"
        if self.event == "resolved":
            head = f"✓ resolved {self.symptom}"
        else:
            head = f"{_ICON.get(self.severity, '?')} {self.severity} {self.symptom} {self.event}"
        text = f"{clock}  {self.run}  {where}  {head}: {self.message}"
        return f"{text}  fix: {self.fix}" if self.fix else text

    def env(self) -> dict[str, str]:
        """The ``LRWATCH_*`` environment variables of ``--exec``."""
        return {
            "LRWATCH_RUN": self.run,
            "LRWATCH_SYMPTOM": self.symptom,
            "LRWATCH_SEVERITY": self.severity,
            "LRWATCH_STEP": "" if self.step is None else str(self.step),
            "LRWATCH_MESSAGE": self.message,
            "LRWATCH_FIX": self.fix,
            "LRWATCH_EVENT": self.event,
            "LRWATCH_FINDING_ID": self.finding_id,
        }


@dataclass
class _Seen:
    """What the policy knows of one finding."""

    run: str
    severity: str
    resolved: bool
    reopened: int
    shown_open: bool = False  #: the user was last told it is open
    sent_at: float | None = None  #: when an opened/repeated/escalated alert last went out
    held: Finding | None = None  #: a comeback inside the window, to send when it ends


class AlertPolicy:
    """Which findings and run ends become alerts, and when (see the module docstring)."""

    def __init__(self, on: str = "error", repeat: float = 60.0) -> None:
        self.on = severity_rank(on)
        self.repeat = repeat
        self._seen: dict[tuple[str, str], _Seen] = {}  # (run, finding id) -> state
        self._ended: set[str] = set()

    def reaches(self, severity: str) -> bool:
        """Whether ``severity`` is at or above the threshold."""
        return severity_rank(severity) >= self.on

    def findings(self, run: str, findings: Iterable[Finding], now: float) -> list[Alert]:
        """The alerts a run's findings (all of them, or those that changed) call for now."""
        out: list[Alert] = []
        for f in findings:
            out.extend(self._finding(run, f, now))
        return out

    def _finding(self, run: str, f: Finding, now: float) -> list[Alert]:
        reopened = int(f.evidence.get("reopened", 0) or 0)
        seen = self._seen.get((run, f.id))
        if seen is None:
            seen = self._seen[(run, f.id)] = _Seen(run, f.severity, f.resolved, reopened)
            if not self._said(f):
                return []
            opened = self._send(run, f, "opened", now, seen)
            return [opened, *(self._resolution(run, f, seen, now) if f.resolved else [])]
        out: list[Alert] = []
        rose = severity_rank(f.severity) > severity_rank(seen.severity)
        # It came back (reopened), even if it resolved again since the last look: a symptom
        # that flickers (a NaN batch every few steps) is news once per window.
        came_back = reopened > seen.reopened
        seen.severity, seen.reopened, seen.resolved = f.severity, reopened, f.resolved
        if rose and self._said(f):
            out.append(self._send(run, f, "escalated", now, seen))  # never rate-limited
        elif came_back and self._said(f):
            if seen.sent_at is not None and now - seen.sent_at < self.repeat:
                seen.held = f  # said when the window ends (tick)
            else:
                out.append(self._send(run, f, "repeated", now, seen))
        if f.resolved:
            out.extend(self._resolution(run, f, seen, now))
        return out

    def _said(self, f: Finding) -> bool:
        return self.reaches(f.severity) or f.symptom in ALWAYS_SAID

    def _send(self, run: str, f: Finding, event: str, now: float, seen: _Seen) -> Alert:
        seen.shown_open, seen.sent_at, seen.held = True, now, None
        return _of_finding(run, f, event, now, self.reaches(f.severity))

    def _resolution(self, run: str, f: Finding, seen: _Seen, now: float) -> list[Alert]:
        """Once per opening the user was told of (a comeback held before this resolution is
        dropped: the user hears it resolved, which it is)."""
        if not seen.shown_open:
            return []
        seen.shown_open, seen.held = False, None
        return [_of_finding(run, f, "resolved", now, self.reaches(f.severity))]

    def tick(self, now: float) -> list[Alert]:
        """Comebacks held by the rate limit whose window has ended: ``repeated``, and its
        resolution at once when it is over by now."""
        out = []
        for seen in self._seen.values():
            f = seen.held
            if f is None or seen.sent_at is None or now - seen.sent_at < self.repeat:
                continue
            out.append(self._send(seen.run, f, "repeated", now, seen))
            if f.resolved:
                out.extend(self._resolution(seen.run, f, seen, now))
        return out

    def ended(self, run: str, end: Event | None, now: float, last_step: int | None) -> list[Alert]:
        """The run wrote ``end`` (None: its input closed without one); once per run.

        ``crashed`` is an error alert, ``finished`` an info one.
        """
        if run in self._ended:
            return []
        self._ended.add(run)
        status = str(end.data.get("status", "finished")) if end is not None else "closed"
        step = end.step if end is not None and end.step is not None else last_step
        severity = "error" if status == "crashed" else "info"
        text = {
            "crashed": "the run crashed (its end record says so)",
            "finished": "the run finished",
        }.get(status, f"the run ended ({status})" if end is not None else "its input closed")
        return [
            Alert("ended", run, severity, status, step, text, t=now, notify=self.reaches(severity))
        ]


def _of_finding(run: str, f: Finding, event: str, now: float, notify: bool) -> Alert:
    # Where it happened: the onset, the step it came back or got worse, the step it resolved.
    step = {"opened": f.step, "resolved": f.resolved_step}.get(event, f.last_step)
    step = f.step if step is None else step
    message = f.message
    if event == "resolved":
        why = f.evidence.get("resolved_because")
        message = f"since step {f.step}" + (f"; {why}" if why else "")
    fix = "" if event == "resolved" else f.suggestion
    return Alert(
        event, run, f.severity, f.symptom, step, message, fix, f.id, now, f.to_dict(), notify
    )


# -- sinks ------------------------------------------------------------------------------------


class AlertSink(abc.ABC):
    """Where alerts go; :meth:`send` never blocks for long and never raises."""

    @abc.abstractmethod
    def send(self, alert: Alert) -> None:
        """Deliver ``alert`` (or queue it)."""

    def close(self, timeout: float = 5.0) -> None:  # noqa: B027 (a hook: most have no queue)
        """Deliver what is queued, waiting at most ``timeout`` seconds."""


class LineSink(AlertSink):
    """One line per alert on ``stream`` (``as_json``: one JSON object per line)."""

    def __init__(self, stream: TextIO, as_json: bool = False) -> None:
        self.stream, self.as_json = stream, as_json

    def send(self, alert: Alert) -> None:
        text = json.dumps(alert.to_dict(), allow_nan=False) if self.as_json else alert.line()
        self.stream.write(text + "\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        """A line that is not an alert (an LR change acknowledged); left out with ``--json``."""
        if not self.as_json:
            clock = time.strftime("%Y-%m-%d %H:%M:%S")
            self.stream.write(f"{clock}  {text}\n")
            self.stream.flush()


class BellSink(AlertSink):
    """The terminal bell (BEL) for every alert that notifies."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def send(self, alert: Alert) -> None:
        if alert.notify:
            self.stream.write("\a")
            self.stream.flush()


class _Worker(AlertSink):
    """Delivers notifying alerts on its own thread, from a bounded queue (full: dropped and
    counted), reporting each kind of failure once."""

    name = "worker"

    def __init__(self, problem: Problem, depth: int = 1000) -> None:
        self.problem = problem
        self.dropped = 0
        self._reported: set[str] = set()
        self._queue: queue.Queue[Alert | None] = queue.Queue(depth)
        self._thread = threading.Thread(target=self._run, name=f"lrwatch-{self.name}", daemon=True)
        self._thread.start()

    def send(self, alert: Alert) -> None:
        if not alert.notify:
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
            self.fail("queue full", "alerts are coming faster than they can be delivered")

    def close(self, timeout: float = 5.0) -> None:
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            alert = self._queue.get()
            if alert is None:
                return
            try:
                self.deliver(alert)
            except Exception as exc:  # a sink's bug must not end the guard
                self.fail(type(exc).__name__, repr(exc))

    @abc.abstractmethod
    def deliver(self, alert: Alert) -> None:
        """Deliver one alert (on the worker thread)."""

    def fail(self, kind: str, text: str) -> None:
        """Report a failure, the first of its ``kind`` only."""
        if kind in self._reported:
            return
        self._reported.add(kind)
        self.problem(f"{self.name}: {text} (further failures of this kind are not shown)")


class ExecSink(_Worker):
    """``--exec CMD``: runs ``sh -c CMD`` per alert with the ``LRWATCH_*`` variables set and the
    alert as one JSON object on stdin. The finding's text never reaches the command line."""

    name = "exec"

    def __init__(self, command: str, problem: Problem, timeout: float = 30.0) -> None:
        self.command, self.timeout = command, timeout
        super().__init__(problem)

    def deliver(self, alert: Alert) -> None:
        body = json.dumps(alert.to_dict(), allow_nan=False) + "\n"
        try:
            done = subprocess.run(
                ["/bin/sh", "-c", self.command],
                input=body.encode(),
                env={**os.environ, **alert.env()},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            self.fail("timeout", f"{self.command!r} ran over {self.timeout:g} s and was killed")
            return
        except OSError as exc:
            self.fail("oserror", f"cannot run {self.command!r}: {exc}")
            return
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip().splitlines()
            tail = f": {err[-1]}" if err else ""
            self.fail(f"exit {done.returncode}", f"{self.command!r} exited {done.returncode}{tail}")


class WebhookSink(_Worker):
    """``--webhook URL``: POSTs each alert as JSON (``slack``: ``{"text": line}``), with a
    timeout and ``retries`` more tries (backing off) on a network error or a 5xx/429."""

    name = "webhook"

    def __init__(
        self,
        url: str,
        problem: Problem,
        fmt: str = "json",
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 1.0,
    ) -> None:
        self.url, self.fmt, self.timeout = url, fmt, timeout
        self.retries, self.backoff = retries, backoff
        super().__init__(problem)

    def body(self, alert: Alert) -> bytes:
        """The POST body."""
        obj = {"text": alert.line()} if self.fmt == "slack" else alert.to_dict()
        return json.dumps(obj, allow_nan=False).encode()

    def deliver(self, alert: Alert) -> None:
        data = self.body(alert)
        for attempt in range(self.retries + 1):
            kind, text = self._post(data)
            if not kind:
                return
            if kind.startswith("http 4") and kind != "http 429":
                break  # the server refused this body: trying again cannot help
            if attempt < self.retries:
                time.sleep(self.backoff * 2**attempt)
        self.fail(kind, f"POST {self.url} failed: {text}")

    def _post(self, data: bytes) -> tuple[str, str]:
        """One POST: ("", "") on success, else (failure kind, what happened)."""
        req = urllib.request.Request(
            self.url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read()
            return "", ""
        except urllib.error.HTTPError as exc:
            return f"http {exc.code}", f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return type(reason).__name__, str(reason)
