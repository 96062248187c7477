"""The autopilot in the UI (key ``A``): which runs it steers, its countdown bar, ``x`` cancels.

The policy is :class:`~lrwatch.session.autopilot.Autopilot`'s; this module only drives it
from the app's one-second tick and shows what it decided:

- ``A`` cycles: off → the current run → every run → off. While it is on, a bar under the
  header says so (and for which runs).
- Each tick asks ``decide()`` for every run it steers. A change, revert or rewind is announced
  in the bar with a countdown (``Bounds.countdown``, 5 s): ``autopilot: ÷10 on run a
  (divergence since step 120) in 5 s — x cancels``. When it runs out the command goes through
  the app's send path, exactly as a key's: the ack on the status line, the ``lr_change``
  record (with ``by: "autopilot"``, the finding and the reason) and its chart marker.
- ``x`` during a countdown cancels it; the cancellation (and every skip, hold or stop the
  policy decides) is written to the run's log as a ``note`` with ``by: "autopilot"``.
- During a change's or revert's countdown the bar grows to hold the run's remaining LR
  schedule as it is (dim) and as the change will make it (bright): the confirmation dialog's
  :class:`~lrwatch.tui.widgets.schedule.SchedulePreview`, asked once per decision through
  :func:`~lrwatch.session.preview.ask_schedule` on a worker thread ("asking the run…" until
  it answers). A rewind's countdown shows the snapshot step and the LR it restores instead.
  The bar is one line again once nothing is pending.

Notes and the ``status`` polls (the snapshots a rewind needs) use a connection of their own,
so they never take the place of a person's command in flight on the run's connection.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol

import numpy as np
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from lrwatch.lrchange import LRChange
from lrwatch.numfmt import fmt_num
from lrwatch.session.autopilot import Autopilot, Bounds, Decision
from lrwatch.session.commands import Command, change_text
from lrwatch.session.control import RunControl
from lrwatch.session.events import ControlReply
from lrwatch.session.pilot_driver import ask_status
from lrwatch.session.pilot_view import view_in
from lrwatch.session.preview import Forecast, ask_schedule
from lrwatch.session.session import Session
from lrwatch.store import RunData, lr_names
from lrwatch.tui.widgets.header import StatusLine
from lrwatch.tui.widgets.schedule import SchedulePreview

#: The scope that steers every run.
ALL = "*"
#: The key that cancels a pending automatic change (shown in the bar).
CANCEL_KEY = "x"
#: Ticks (seconds) between ``status`` polls, when rewinds are allowed (they need snapshots).
STATUS_EVERY = 5


#: Blocking (a worker thread): the run's schedule forecast, or a note why there is none.
AskSchedule = Callable[[RunControl], Forecast | str]


class CountdownBar(Vertical):
    """Under the header while the autopilot is on: one line (its scope, or the countdown),
    and under it, while a decision counts down, what it will do (its ``.preview``)."""

    DEFAULT_CSS = """
    CountdownBar { height: auto; display: none; background: $primary 30%; }
    CountdownBar.-on { display: block; }
    CountdownBar > .line { height: 1; width: 100%; }
    CountdownBar.-pending > .line { background: $warning 50%; text-style: bold; }
    CountdownBar > .preview { height: auto; margin: 0 1; }
    """

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.line = Static("", classes="line")

    def compose(self) -> ComposeResult:
        yield self.line

    @property
    def text(self) -> str:
        """The line as shown."""
        return str(self.line.render())

    @property
    def preview(self) -> Widget | None:
        """The countdown's preview, while one is shown."""
        found = self.query(".preview")
        return found.last() if found else None


def rewind_preview(cmd: Command, restored: Sequence[float] | None) -> Text:
    """What a rewind will do: the snapshot step, the LR it restores and the LR after.

    ``restored``: the LR per group the run logged at the snapshot's step (None when it did
    not log one); the run scales what it restores by the command's ``scale_lr``.
    """
    to, factor = cmd.extra.get("to_step"), cmd.extra.get("scale_lr")
    where = f"{to:,}" if isinstance(to, int) else "?"
    lines = [f"rewind: restores the snapshot of step {where}"]
    change = LRChange.scale(factor) if isinstance(factor, int | float) else None
    how = f"{change.describe()}, {cmd.extra.get('mode') or 'rescale'}" if change else ""
    if restored:
        if change is None:
            lines.append(f"LR at step {where}: {' '.join(fmt_num(x) for x in restored)}, kept")
        else:
            after = change.apply(list(restored))
            lines.append(f"LR at step {where}: {change_text(restored, after)} ({how})")
    else:
        lines.append(f"LR: the snapshot's{f', then {how}' if how else ''}")
    return Text("\n").join(Text(line) for line in lines)


def lr_at(run: RunData, step: int) -> list[float] | None:
    """The LR per group the run logged at ``step``, or last before it (call with the
    store's lock held); None when it logged none."""
    out = []
    for name in lr_names(run):
        steps = run.series[name].steps
        # The newest record of that very step (after a rewind, the branch the snapshot is
        # on), else the last one logged before it.
        at = np.nonzero(steps == step)[0]
        if not len(at):
            at = np.nonzero(steps <= step)[0]
        if len(at):
            out.append(float(run.series[name].values[at[-1]]))
    return out or None


class Host(Protocol):
    """What the autopilot needs of the app (:class:`~lrwatch.tui.app.LRWatchApp`)."""

    session: Session
    status_w: StatusLine
    findings: dict[str, list[Any]]

    @property
    def run_names(self) -> list[str]: ...
    @property
    def current_run(self) -> Any: ...
    def send(self, rc: RunControl, cmd: Command) -> None: ...
    @property
    def run_worker(self) -> Callable[..., Any]: ...


class AutopilotView:
    """Toggle state, announced decisions and their countdowns (see the module docstring)."""

    def __init__(
        self, app: Host, bounds: Bounds | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.app = app
        self.pilot = Autopilot(bounds)
        #: None: off; a run's name; :data:`ALL`.
        self.scope: str | None = None
        #: Announced changes, oldest first (one per run at most: the policy keeps one pending).
        self.countdowns: list[Decision] = []
        #: Sent, not answered yet, per run.
        self.sent: dict[str, Decision] = {}
        #: The latest ``status`` reply per run (its ``snapshots``).
        self.statuses: dict[str, dict[str, Any]] = {}
        self.clock = clock
        #: How the countdown's preview asks the run (a test may wrap it).
        self.ask: AskSchedule = ask_schedule
        self.bar = CountdownBar(id="autopilot")
        self._ticks = 0
        self._previewed: Decision | None = None  # the decision the bar's preview is for

    def start(self, bounds: Bounds) -> None:
        """On for every run from the start, within ``bounds`` (``--autopilot``)."""
        self.pilot = Autopilot(bounds)
        self.scope = ALL

    # -- keys ---------------------------------------------------------------------------------

    def toggle(self) -> None:
        """``A``: off → the current run → every run → off."""
        run = self.app.current_run
        if self.scope is None:
            if run is None:
                self._say("autopilot: no run to steer yet", error=True)
                return
            self.scope = run.name
        elif self.scope != ALL:
            self.scope = ALL
        else:
            self.scope = None
            self.countdowns.clear()  # nothing announced goes out once it is off
        self._say(self.describe_scope())
        self.tick()

    def cancel(self) -> bool:
        """``x``: cancel the oldest pending countdown (and say so in the run's log)."""
        if not self.countdowns:
            self._say("autopilot: no automatic change to cancel")
            return False
        d = self.countdowns.pop(0)
        for note in self.pilot.cancel(d):
            self._note(note)
        self._say(f"✗ cancelled: {d.describe()}")
        self._draw(self.clock())
        return True

    # -- the tick -----------------------------------------------------------------------------

    def tick(self) -> None:
        """Once a second (the app's tick): decide, send what is due, redraw the bar."""
        if self.scope is None:
            self._draw(self.clock())
            return
        now = self.clock()
        for name in self.runs():
            for d in self._decide(name, now):
                self._take(d, now)
        self._send_due(now)
        self._ticks += 1
        if "rewind" in self.pilot.bounds.actions and self._ticks % STATUS_EVERY == 1:
            self._poll_status()
        self._draw(now)

    def runs(self) -> list[str]:
        """The runs it steers now: those it can reach (read-only and ended runs are left)."""
        names = self.app.run_names if self.scope == ALL else [self.scope or ""]
        out = []
        for name in names:
            if name not in self.app.session.store.runs:
                continue
            rc = self.app.session.control(name)
            if rc.refusal() is None and not rc.ended:
                out.append(name)
        return out

    def replied(self, message: ControlReply) -> None:
        """The run answered a command: if it was ours, tell the policy (it may add a note)."""
        d = self.sent.get(message.run)
        if d is None or d.command is None or message.op != d.command.op:
            return
        del self.sent[message.run]
        reply = message.reply if message.ok else {"error": message.error}
        for note in self.pilot.answered(d, message.ok, reply):
            self._note(note)

    def describe_scope(self) -> str:
        """``autopilot on · run a · decreases only, ≤3 changes, ≥100 steps apart``."""
        if self.scope is None:
            return "autopilot off"
        b = self.pilot.bounds
        who = "every run" if self.scope == ALL else f"run {self.scope}"
        allowed = "decreases only" if b.actions == {"decrease"} else ", ".join(sorted(b.actions))
        bounds = f"{allowed}, ≤{b.max_changes} changes, ≥{b.min_steps} steps apart"
        return f"autopilot on · {who} · {bounds}"

    # -- internals ----------------------------------------------------------------------------

    def _decide(self, name: str, now: float) -> list[Decision]:
        findings, status = self.app.findings.get(name, []), self.statuses.get(name)
        view = view_in(self.app.session.store, name, findings, status, self.pilot.bounds.horizon)
        return [] if view is None else self.pilot.decide(name, view, now)

    def _take(self, d: Decision, now: float) -> None:
        if d.changes:
            self.countdowns.append(d)
        else:
            self._note(d)
            self._say(d.describe(), error=d.kind == "stop")

    def _send_due(self, now: float) -> None:
        for d in [d for d in self.countdowns if d.due <= now]:
            self.countdowns.remove(d)
            rc = self.app.session.control(d.run)
            why = rc.refusal()
            if why is not None:  # the run went away meanwhile: nothing to send, or to note
                self.pilot.cancel(d)
                self._say(f"✗ not sent: {d.describe()}: {why}", error=True)
                continue
            self.sent[d.run] = d
            self.app.send(rc, d.request())

    def _note(self, d: Decision) -> None:
        """Write ``d`` to its run's log as a ``note`` (a worker, own connection)."""
        rc = self.app.session.control(d.run)
        cmd = d.request()
        if rc.endpoint is None:
            return

        def work() -> None:
            # A note that cannot be written: the status line said it already.
            with contextlib.suppress(Exception):
                rc.request_aside(cmd.op, **cmd.args)

        self.app.run_worker(work, thread=True, exit_on_error=False, group="autopilot")

    def _poll_status(self) -> None:
        controls = [self.app.session.control(n) for n in self.runs()]

        def work() -> None:
            for rc in controls:
                status = ask_status(rc)
                if status is not None:
                    self.statuses[rc.name] = status

        self.app.run_worker(work, thread=True, exit_on_error=False, group="autopilot-status")

    def _draw(self, now: float) -> None:
        bar = self.bar
        bar.set_class(self.scope is not None, "-on")
        bar.set_class(bool(self.countdowns), "-pending")
        if self.countdowns:
            d = self.countdowns[0]
            more = f" (+{len(self.countdowns) - 1} more)" if len(self.countdowns) > 1 else ""
            text = f" {d.describe(now)}{more} — {CANCEL_KEY} cancels"
        else:
            stopped = [n for n in self.runs() if self.pilot.stopped(n)]
            text = " " + self.describe_scope()
            if stopped:
                text += f" · stopped on {', '.join(stopped)}"
        if bar.line.is_attached:
            bar.line.update(Text(text))
        self._show_preview(self.countdowns[0] if self.countdowns else None)

    def _show_preview(self, d: Decision | None) -> None:
        """Show what ``d`` will do under the line (nothing: None); a new one per decision,
        so the run is asked once for each."""
        bar = self.bar
        if d is self._previewed or not bar.is_attached:
            return
        self._previewed = d
        for old in bar.query(".preview"):
            old.remove()
        if d is not None and d.command is not None:
            bar.mount(self._preview_of(d))

    def _preview_of(self, d: Decision) -> Widget:
        cmd = d.command
        assert cmd is not None
        if d.kind == "rewind":
            to = cmd.extra.get("to_step")
            store = self.app.session.store
            with store.lock:
                run = store.runs.get(d.run)
                restored = lr_at(run, to) if run is not None and isinstance(to, int) else None
            widget: Widget = Static(rewind_preview(cmd, restored))
        else:
            rc = self.app.session.control(d.run)
            widget = SchedulePreview(None, cmd, ask=partial(self.ask, rc))
        widget.add_class("preview")
        return widget

    def _say(self, text: str, error: bool = False) -> None:
        self.app.status_w.show(text, error=error)
