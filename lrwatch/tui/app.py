"""The lrwatch terminal app: layout, key bindings, and routing of the session's events.

Everything that is not about the screen lives in a headless
:class:`~lrwatch.session.session.Session`: its readers fill the store, its rule engine judges
the runs, and one :class:`~lrwatch.session.control.RunControl` per run holds the control
connection. Its threads reach the app only as messages (:mod:`lrwatch.tui.messages`); the app
routes each to the widgets, which own what they show (a chart panel its
:class:`~lrwatch.tui.widgets.charts.PanelSpec`) and draw it through pure renderers.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.events import DeliveryComplete, DeliveryFailed
from textual.reactive import Reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from lrwatch.control.client import ControlClient
from lrwatch.numfmt import fmt_num
from lrwatch.records import Event
from lrwatch.rules import RuleConfig
from lrwatch.rules.coverage import not_enough
from lrwatch.session.autopilot import Bounds
from lrwatch.session.commands import Command, plan_action, plan_scale, plan_set
from lrwatch.session.control import LOST_GRACE, ControlInfo, Job, Notice, RunControl
from lrwatch.session.events import SessionEvent
from lrwatch.session.preview import ask_schedule
from lrwatch.session.session import Session
from lrwatch.store import MetricStore, RunData, lr_names
from lrwatch.tui import messages as msg
from lrwatch.tui import rewind
from lrwatch.tui.autopilot_view import AutopilotView
from lrwatch.tui.cards import finding_label, fix_question
from lrwatch.tui.palette import palette_commands
from lrwatch.tui.panels import SYSTEM, has_system, metric_chart, metric_names
from lrwatch.tui.prefs import ViewPrefs, dir_key
from lrwatch.tui.runs import RunRow, run_row
from lrwatch.tui.runs_view import RunsView
from lrwatch.tui.screenshot import base_name, free_name, shot_folder
from lrwatch.tui.smooth import SMOOTHING_LEVELS
from lrwatch.tui.summary import DONE_STATES, run_state, summarize
from lrwatch.tui.theme import LIGHT_ANSI, ThemeError, resolve_theme, theme_from_env
from lrwatch.tui.view import CHARTS, WINDOWS, ViewState
from lrwatch.tui.widgets.charts import PanelSpec, chart_panel, sync_metric_panels
from lrwatch.tui.widgets.console import ConsolePane
from lrwatch.tui.widgets.dialogs import ConfirmScreen, HelpScreen, LRInputScreen, QuitRunScreen
from lrwatch.tui.widgets.findings import FindingsPanel
from lrwatch.tui.widgets.header import RunHeader, StatusLine
from lrwatch.tui.widgets.metric_picker import MetricPicker
from lrwatch.tui.widgets.rewind_dialog import open_rewind
from lrwatch.tui.widgets.runs_table import RunsScreen, RunsTable

#: Seconds between redraws for new data (at most; see LRWatchApp._data_arrived_redraw).
REDRAW_EVERY = 0.1

#: How to steer a read-only run under ``lrwatch run`` (the header's control hint).
RUN_HINT = "add lrwatch.Monitor() to the script"

READ_ONLY_HINT = (
    "run {run} is read-only: it has no control socket. Add lrwatch.Monitor() to the training "
    "script (or start it with `lrwatch run -- CMD`) to change its LR from here."
)


class LRWatchApp(App[int]):
    """Watch runs live; ``paths`` are followed, or ``attach`` names a control socket to stream."""

    CSS_PATH = "app.tcss"
    TITLE = "lrwatch"
    #: Light themes draw our ANSI colour names darker than Textual's Alabaster (tui/theme.py).
    ansi_theme_light = Reactive(LIGHT_ANSI, init=False)
    BINDINGS: ClassVar[list[BindingType]] = [
        # The footer shows them in this order: at 80 columns the LR keys the demo names
        # and help come first; view keys may fall off the end (help and palette have them).
        Binding("a", "apply_finding", "Apply fix"),
        Binding("e", "set_lr", "Set LR"),
        Binding("minus", "scale(0.5)", "×0.5", key_display="-"),
        Binding("plus,equals_sign", "scale(2.0)", "×2", key_display="+"),
        Binding("slash", "scale(0.1)", "÷10", key_display="/"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        Binding("p", "pause", "Pause"),
        Binding("l", "log_y", "Log-y"),
        Binding("L", "auto_y", "Auto log-y", show=False),
        Binding("M", "metrics", "Metrics", show=False),
        Binding("s", "smooth(1)", "Smooth+"),
        Binding("S", "smooth(-1)", "Smooth-", show=False),
        Binding("w", "window", "Window"),
        Binding("f", "follow", "Follow"),
        Binding("n", "next_run(1)", "Next run"),
        Binding("N", "next_run(-1)", "Prev run", show=False),
        Binding("o", "overlay", "Overlay", show=False),
        Binding("g", "findings_panel", "Findings", show=False),
        Binding("j,down", "select(1)", "Select", show=False),
        Binding("k,up", "select(-1)", "Select", show=False),
        Binding("m", "mode", "Mode", show=False),
        Binding("R", "rewind", "Rewind", show=False),
        Binding("A", "autopilot", "Autopilot", show=False),
        Binding("x", "cancel_autopilot", "Cancel autopilot", show=False),
        Binding("c", "console", "Console"),
        Binding("P", "screenshot", "Save a screenshot (SVG)", show=False),
        Binding("r", "runs", "Runs"),
        Binding("escape", "runs", "Runs", show=False),
    ]

    def __init__(
        self,
        store: MetricStore | None = None,
        *,
        paths: list[str] | None = None,
        fmt: str | None = None,
        attach: str | None = None,
        token: str | None = None,
        follow: bool = True,
        rules_config: RuleConfig | None = None,
        clock: Callable[[], float] = time.time,
        child: subprocess.Popen[bytes] | None = None,
        prefer_path: str | None = None,
        stdin_fd: int | None = None,
        keep_child: bool = False,
        source_options: dict[str, Any] | None = None,
        autopilot: Bounds | None = None,
        theme: str | None = None,
    ) -> None:
        """``source_options`` go to ``open_runs`` (``loss``/``val_loss``, ``parser_factory``);
        ``autopilot``: on for every run from the start, within these bounds; ``theme``: a
        Textual theme, or ``dark``/``light`` (default: ``$LRWATCH_THEME``, else textual-dark).

        An unknown ``theme`` raises :class:`~lrwatch.tui.theme.ThemeError`; an unknown
        ``$LRWATCH_THEME`` exits with the message, as a bad command-line option would.
        """
        super().__init__()
        self.theme = self._chosen_theme(theme)
        self.session = Session(
            self.emit,
            store=store,
            paths=paths,
            fmt=fmt,
            follow=follow,
            stdin_fd=stdin_fd,  # where "-" is read from (the terminal is fd 0 again)
            attach=attach,
            token=token,
            rules_config=rules_config,
            source_options=source_options,
            backpressure=True,
        )
        self.rules_config = rules_config
        stalled = rules_config.stalled if rules_config is not None else None
        #: The header calls a run stalled when the ``stalled`` rule would (same numbers).
        self._quiet = (stalled.min_seconds, stalled.factor) if stalled is not None else None
        self.clock = clock
        self.view = ViewState()
        self.current = 0
        self.findings: dict[str, list[Any]] = {}
        self.arrivals: dict[str, float] = {}  #: when each run's records last arrived
        self.closed_inputs: set[str] = set()  #: runs read from a pipe that reached EOF
        #: (bytes read, bytes to read) while a backlog is read; None once it is (or never was).
        self.loading: tuple[int, int] | None = None
        self.prefer_path = prefer_path  # switch to this log's run once it has records
        # lrwatch run: the child, its exit code, and whether q stops it (--keep says no).
        self.child = child
        self.child_code: int | None = None
        self.child_log = prefer_path  #: the Monitor's log (for "watch it again")
        self.stop_child = not keep_child
        self.confirm_quit = child is not None and not keep_child
        self._version = 0  # bumped per data redraw: a panel's spec changes with it
        self._last_redraw = 0.0
        self._redraw_timer: Timer | None = None
        self._ticks = 0
        #: The runs table (a sweep opens on it; key r).
        title = "lrwatch · " + " ".join(paths or [attach or ""])[:60]
        self.runs_view = RunsView(
            self, lambda: self.run_names, self.run_row, title, self._table_note, self._table_made
        )
        #: Metric panels picked (key M), remembered per watched directory.
        self.prefs = ViewPrefs(dir_key(paths or []))
        self.picked, self._prefs_note = self.prefs.load_metrics()
        #: The autopilot (key A), its countdown bar and x to cancel (tui/autopilot_view.py).
        self.autopilot = AutopilotView(self)
        if autopilot is not None:
            self.autopilot.start(autopilot)
        self._shots: dict[str, str] = {}  #: screenshots on their way: delivery key -> name

    def _chosen_theme(self, theme: str | None) -> str:
        """The theme to start with: ``theme``, else ``$LRWATCH_THEME``, else textual-dark."""
        known = self.available_themes
        if theme is not None:
            return resolve_theme(theme, known)
        try:
            return theme_from_env(known)
        except ThemeError as exc:
            raise SystemExit(f"lrwatch: {exc}") from None

    # ---- what tests and benchmarks reach --------------------------------------------------

    @property
    def store(self) -> MetricStore:
        return self.session.store

    @property
    def lock(self) -> Any:
        """The store's lock (held while reading series that a reader may be growing)."""
        return self.session.store.lock

    @property
    def blocks(self) -> bool:
        return self.session.blocks

    @blocks.setter
    def blocks(self, on: bool) -> None:
        self.session.blocks = on

    @property
    def clients(self) -> dict[str, ControlClient]:
        """The connected runs' control clients."""
        return {n: rc.client for n, rc in self.session.controls.items() if rc.client is not None}

    def control_info(self, name: str) -> ControlInfo:
        """What the header shows of run ``name``'s control connection (under ``lrwatch run``,
        a read-only run's hint says how to steer it)."""
        rc = self.session.control(name)
        if self.child is not None and rc.endpoint is None:
            # A script whose Monitor logs is shown as that Monitor's run (its output is the
            # run's console): a read-only run under `lrwatch run` is a bare script.
            return replace(rc.info(), hint=RUN_HINT)
        return rc.info()

    # ---- layout ---------------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        """The charts' screen, which focuses nothing by itself: its keys are the app's, and
        the first focusable widget would be the hidden console's view or search input, which
        would take n/N/escape and the footer's room (dialogs still focus their input)."""
        return _ChartsScreen(id="_default")

    def compose(self) -> ComposeResult:
        # Kept as attributes: app.query_one() searches the active screen, which is a dialog
        # while a change waits for confirmation, and batches keep arriving meanwhile.
        self.header_w = RunHeader(id="header")
        picked = [metric_chart(m) for m in self.picked]
        self.charts_w = [chart_panel(self.store, c) for c in (*CHARTS, SYSTEM, *picked)]
        self.findings_w = FindingsPanel(id="findings")
        self.status_w = StatusLine(id="status")
        yield self.header_w
        yield self.autopilot.bar
        with Horizontal(id="body"):
            with Vertical(id="charts") as self.charts_box:
                yield from self.charts_w
            yield self.findings_w
        self.console_w = ConsolePane(id="console")  # the run's own output (key c), full width
        yield self.console_w
        yield self.status_w
        yield Footer(compact=True)  # compact: the LR keys fit in 80 columns

    def on_mount(self) -> None:
        self.view.mono = self.no_color
        self.view.light = not self.current_theme.dark
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        for name in self.store.runs:
            self.arrivals[name] = self.clock()
        self.session.start()
        if self.session.paths:
            self._read_files()
        if self.session.attach:
            self._read_stream()
        if self.child is not None:
            self._wait_child()
        elif self.session.rendezvous:
            self._watch_rendezvous()
        self.set_interval(1.0, self._tick)
        self.status_w.show(self.view.describe())
        if self._prefs_note:
            self.status_w.show(self._prefs_note, error=True)
        self._data_changed()

    def on_unmount(self) -> None:
        self.session.close()

    def emit(self, event: SessionEvent) -> None:
        """The session's threads: every event reaches the app as a message."""
        self.post_message(msg.wrap(event))

    # ---- workers: each runs one blocking thing and only posts what it learned --------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def _read_files(self) -> None:
        self.session.read_files()

    @work(thread=True, exclusive=True, exit_on_error=False, group="stream")
    def _read_stream(self) -> None:
        self.session.read_stream()

    @work(thread=True, exclusive=True, exit_on_error=False, group="child")
    def _wait_child(self) -> None:
        assert self.child is not None
        self.session.watch_child(self.child, self.emit)  # and where its Monitor logs

    @work(thread=True, exclusive=True, exit_on_error=False, group="child")
    def _watch_rendezvous(self) -> None:
        self.session.watch_rendezvous()  # a run started elsewhere (lrwatch serve)

    @work(thread=True, exit_on_error=False, group="control")
    def _run_job(self, job: Job) -> None:
        for event in job():
            self.emit(event)

    @work(thread=True, exclusive=True, exit_on_error=False, group="ping")
    def _run_pings(self, jobs: list[Job]) -> None:
        for job in jobs:
            for event in job():
                self.emit(event)

    # ---- what is shown --------------------------------------------------------------------

    @property
    def run_names(self) -> list[str]:
        """Runs in the order they were found (not the output of a child whose Monitor logs:
        that is the console of its run)."""
        return self.session.listed()

    @property
    def current_run(self) -> RunData | None:
        """The run the header, findings and LR keys are about."""
        names = self.run_names
        return self.store.runs[names[self.current % len(names)]] if names else None

    def shown_runs(self) -> list[RunData]:
        """Runs drawn on the charts: the current one, or all when overlaid."""
        if self.view.overlay:
            return [self.store.runs[n] for n in self.runs_view.overlay(self.run_names)]
        run = self.current_run
        return [run] if run is not None else []

    def reading_fraction(self) -> float | None:
        """How much of the backlog is read (0..1), or None when there is none being read."""
        if self.loading is None:
            return None
        read, total = self.loading
        return read / total if total > 0 else 0.0

    def last_write(self, run: RunData) -> float | None:
        """When ``run`` last wrote: its log file's mtime, else when its records last arrived.

        The mtime matters for logs opened after the fact: all their records "arrive" at once
        when the UI starts, but the run may have stopped writing hours ago.
        """
        arrival = self.arrivals.get(run.name)
        if run.path and run.path != "-" and not self.session.attach:
            with contextlib.suppress(OSError):
                arrival = os.stat(run.path).st_mtime
        # A run that logs system metrics: its sampler writes on while training hangs.
        progress = run.progress_time()
        if progress is not None and arrival is not None:
            return min(arrival, progress)
        return arrival

    def _refresh_header(self) -> None:
        run = self.current_run
        header = self.header_w
        if not header.is_attached:
            return
        if run is None:
            header.show(None)
            return
        child_alive = self.child is not None and self.child_code is None
        info = self.control_info(run.name)
        with self.lock:
            s = summarize(
                run,
                self.clock(),
                self.last_write(run),
                info,
                alive=child_alive,
                input_closed=run.name in self.closed_inputs,
                quiet=self._quiet,
            )
        s.reading = self.reading_fraction()
        if self.child_code is not None and s.state not in ("finished", "crashed", "paused"):
            # lrwatch run: console output has no end record, but the exit code says it all.
            s.state = "finished" if self.child_code == 0 else "crashed"
        if s.state in DONE_STATES:
            self._show(self.session.control(run.name).run_ended(run.ended))
        listed = len(self.run_names)
        header.show(s, self.current % max(1, listed), listed)

    def _data_changed(self) -> None:
        """Redraw everything for the data as it is now (and the view as it is now)."""
        if not self.header_w.is_attached:
            return  # a batch that arrives while the app shuts down
        if self._redraw_timer is not None:
            self._redraw_timer.stop()
            self._redraw_timer = None
        self._last_redraw = time.monotonic()
        self._version += 1
        current = self.current_run
        self.view.current = current.name if current is not None else ""
        self._sync_console()
        with self.lock:
            runs = self.shown_runs()
            has_grad = any(len(r.series.get("grad_norm", ())) for r in runs)
            # A log without LR (nanoGPT text) gives the loss the room; the header says "lr -".
            has_lr = any(lr_names(r) for r in runs) or not any(r.records for r in runs)
            has_sys = has_system(runs)
        names = tuple(r.name for r in runs)
        view = replace(self.view)
        self.charts_w[1].display = has_lr
        self.charts_w[2].display = has_grad
        self.charts_w[3].display = has_sys
        for panel in self.charts_w:
            panel.spec = PanelSpec(panel.chart, names, view, self._version)
        self._refresh_header()
        if current is not None:
            # No loss yet, nothing judged: the panel must not say the LR looks healthy.
            self.findings_w.judging = "loss" in current.series
            self.findings_w.not_enough = not_enough(
                _points(current, "loss"), _points(current, "val_loss"), self.rules_config
            )
            # A run without a control socket, or one that is over, gets advice, not an [a].
            self.findings_w.controllable = not self._over(current.name) and (
                self.session.control(current.name).refusal() != "read-only"
            )
            # setdefault: the same list each time, so an unchanged panel is not re-rendered.
            self.findings_w.set_findings(self.findings.setdefault(current.name, []))

    def _redraw_soon(self, backlog: bool) -> None:
        """Redraw for new data at most ~10 times a second, and less when frames are costly.

        A frame must not take more than about a quarter of the UI thread while records
        stream in, or keys queue up behind redraws; view keys redraw at once regardless.
        ``backlog`` data redraws only the header (the charts once, when it is all read).
        """
        if backlog:
            self._refresh_header()
            return
        cost = sum(p.build_cost for p in self.charts_w if p.display)
        wait = max(REDRAW_EVERY, 4 * cost) - (time.monotonic() - self._last_redraw)
        if wait <= 0:
            self._data_changed()
        elif self._redraw_timer is None:
            self._redraw_timer = self.set_timer(wait, self._data_changed)

    def _tick(self) -> None:
        self._refresh_header()
        self.runs_view.tick()
        for name in self.run_names:
            self._maybe_connect(name)
        self.autopilot.tick()
        self._ticks += 1
        if self._ticks % 5 == 0:
            jobs = [j for rc in self.session.controls.values() if (j := rc.ping_job())]
            if jobs:
                self._run_pings(jobs)

    def _show(self, notices: Sequence[Notice]) -> None:
        for n in notices:
            if n.clears:
                self.status_w.clear_topic(n.clears, self.view.describe())
            if n.text:
                self.status_w.show(n.text, error=n.error)
            if n.toast:
                self.notify(
                    n.toast,
                    title=n.title,
                    severity="error" if n.error else "information",
                    timeout=n.timeout,
                )

    # ---- messages -------------------------------------------------------------------------

    def on_data_arrived(self, message: msg.DataArrived) -> None:
        self.session.ingest.consumed()  # the next batch may come (merged until now)
        now = self.clock()
        for name, n in message.counts.items():
            if n or name not in self.arrivals:
                self.arrivals[name] = now
            self._maybe_connect(name)
        for name, events in message.events.items():
            self._show(self.session.control(name).news(events, now))
        self._switch_to_preferred()
        self._redraw_soon(message.backlog)
        self.runs_view.changed(message.counts)

    def _switch_to_preferred(self) -> None:
        """Show the preferred log's run once it has records (lrwatch run: the Monitor's,
        wherever it logs; the child's output then becomes its console, no longer listed)."""
        if self.prefer_path is not None:
            self.session.prefer(self.prefer_path)
            self.prefer_path = None
        name = self.session.take_preferred()
        if name is not None:
            self.current = self.run_names.index(name)
            self.child_log = self.store.runs[name].path

    def on_read_progress(self, message: msg.ReadProgress) -> None:
        if not message.done:
            self.loading = (message.read, message.total)
            self._refresh_header()
            return
        self.loading = None
        self._data_changed()  # the first full draw: the whole backlog at once
        # After the frame is on screen: the engine would take the GIL from the first draw.
        self.call_after_refresh(self.session.ingest.release_rules)

    def on_input_closed(self, message: msg.InputClosed) -> None:
        self.closed_inputs.add(message.run)
        self._refresh_header()

    def on_findings_changed(self, message: msg.FindingsChanged) -> None:
        self.findings[message.run] = message.findings
        self.runs_view.changed([message.run])
        run = self.current_run
        if run is not None and run.name == message.run:
            self.findings_w.set_findings(message.findings)
            # "no findings to apply", "… is resolved": said of a list that has just changed.
            self.status_w.clear_topic("findings", self.view.describe())

    def on_rules_progress(self, message: msg.RulesProgress) -> None:
        self.findings_w.set_note(message.behind, message.skipped)

    def on_source_problem(self, message: msg.SourceProblem) -> None:
        self.status_w.show(f"✗ {message.text}", error=True)
        self.notify(message.text, severity="error", timeout=8)

    def on_control_state(self, message: msg.ControlState) -> None:
        name = message.run
        rc = self.session.control(name)
        self._show(rc.handle_state(message, self._end(name), self._over(name)))
        if rc.checking:  # it dropped: did the run write its end record meanwhile?
            self.set_timer(LOST_GRACE, lambda: self._settle(name))
        self._refresh_header()

    def _settle(self, name: str) -> None:
        self._show(self.session.control(name).settle(self._end(name), self._over(name)))
        self._refresh_header()

    def on_control_reply(self, message: msg.ControlReply) -> None:
        self._show(rewind.reword(message, self.session.control(message.run).handle_reply(message)))
        self.autopilot.replied(message)

    def on_child_exited(self, message: msg.ChildExited) -> None:
        self.child_code = message.code
        self._refresh_header()
        text = f"the training command exited with code {message.code}"
        self.status_w.show(("✓ " if message.code == 0 else "✗ ") + text, message.code != 0)
        self.notify(text, severity="information" if message.code == 0 else "error", timeout=10)
        if message.code != 0:
            self._sync_console()
            self.console_w.show_crash()  # what it printed last: the traceback, scrolled to

    def on_status_note(self, message: msg.StatusNote) -> None:
        self.status_w.show(message.text, error=message.error)

    def action_console(self) -> None:
        """Show or hide the run's own output (stdout/stderr), below the charts."""
        self._sync_console()
        self.console_w.toggle()

    def _sync_console(self) -> None:
        """Point the console pane at the current run's output file."""
        why = "no console output for this run (Monitor(capture_output=True) keeps it)"
        self.console_w.set_source(self.session.console_of(self.current_run), why)

    # ---- control connections --------------------------------------------------------------

    def _end(self, name: str) -> Event | None:
        run = self.store.runs.get(name)
        return run.ended if run is not None else None

    def _over(self, name: str) -> bool:
        """The run wrote ``end`` (or the child of ``lrwatch run`` exited): nothing to control."""
        return self.child_code is not None or self._end(name) is not None

    def _maybe_connect(self, name: str) -> None:
        rc = self.session.control(name)
        if self._over(name):
            self._show(rc.run_ended(self._end(name)))
            return
        job = rc.connect_job()
        if job is not None:
            self._run_job(job)

    # ---- LR keys: plan, confirm, send; the chart shows the change once the run writes it --

    def _lrs(self, name: str) -> list[float]:
        run = self.store.runs[name]
        with self.lock:
            lrs = [float(run.series[n].values[-1]) for n in lr_names(run) if len(run.series[n])]
        if not lrs and run.header and isinstance(run.header.get("lr"), list):
            lrs = [float(x) for x in run.header["lr"]]
        return lrs

    def _controllable(self) -> RunControl | None:
        run = self.current_run
        if run is None:
            return None
        rc = self.session.control(run.name)
        why = rc.refusal()
        if why == "read-only":
            self.status_w.show(READ_ONLY_HINT.format(run=run.name), error=True, topic="control")
        elif why:
            self.status_w.show(f"✗ control of {run.name}: {why}", error=True, topic="control")
        return None if why else rc

    def _confirm_and_send(self, rc: RunControl, cmd: Command, why: str = "") -> None:
        def word(c: Command) -> str:
            return fix_question(why, c.prompt(rc.name))

        # The dialog previews the run's schedule and may switch the change's mode (`m`).
        screen = ConfirmScreen(word(cmd), command=cmd, ask=partial(ask_schedule, rc), word=word)

        def answered(yes: bool | None) -> None:
            if yes:
                self.send(rc, screen.command or cmd)  # the dialog's, if `m` switched its mode
            else:
                self.status_w.show("cancelled")

        self.push_screen(screen, answered)

    def send(self, rc: RunControl, cmd: Command) -> None:
        """Send a confirmed ``cmd`` (a key's, a dialog's, the autopilot's) to the run."""
        self.status_w.show(f"… {cmd.describe()} sent to {rc.name}, waiting for the run")
        self._run_job(rc.send_job(cmd))

    def action_rewind(self) -> None:
        """Rewind the run to a snapshot from before the trouble, optionally ÷10 (asks first)."""
        rc = self._controllable()
        finding = self.findings_w.current
        if rc:
            onset = None if finding is None or finding.resolved else finding.step
            open_rewind(self, rc, onset)

    def action_autopilot(self) -> None:
        """Autopilot: off → the current run → every run → off (bounded LR changes, each
        announced with a countdown that x cancels)."""
        self.autopilot.toggle()

    def action_cancel_autopilot(self) -> None:
        """Cancel the automatic change whose countdown is showing."""
        self.autopilot.cancel()

    def action_scale(self, factor: float) -> None:
        """Scale the LR of the current run (×0.5, ×2, ÷10), after confirmation."""
        rc = self._controllable()
        if rc:
            self._confirm_and_send(rc, plan_scale(factor, self._lrs(rc.name), rc.mode))

    def action_set_lr(self) -> None:
        """Type an exact LR, confirm, send."""
        rc = self._controllable()
        if not rc:
            return
        lrs = self._lrs(rc.name)

        def typed(value: float | None) -> None:
            if value is not None:
                self._confirm_and_send(rc, plan_set(value, lrs, rc.mode))

        self.push_screen(LRInputScreen(fmt_num(lrs[0]) if lrs else "unknown"), typed)

    def action_apply_finding(self) -> None:
        """Apply the selected finding's suggested fix, after confirmation."""
        finding = self.findings_w.current
        if finding is None:
            self.status_w.show("no findings to apply", error=True, topic="findings")
            return
        what = finding_label(finding)
        if getattr(finding, "resolved", False):
            # Its fix answered a problem that is over: applying it now would be a stale change.
            self.status_w.show(
                f"{what} is resolved: its fix is not applied (j/k: select an open finding)",
                error=True,
                topic="findings",
            )
            return
        action = getattr(finding, "action", None)
        if not action:
            advice = f"; advice: {finding.suggestion}" if finding.suggestion else ""
            self.status_w.show(f"{what} has no one-key fix{advice}", error=True, topic="findings")
            return
        rc = self._controllable()
        if rc:
            cmd = plan_action(action, self._lrs(rc.name), rc.mode)
            if cmd is not None:
                self._confirm_and_send(rc, cmd, f"{finding.severity} {what}")

    def action_mode(self) -> None:
        """Switch LR changes between rescale (schedule keeps its shape) and pin."""
        run = self.current_run
        if run is not None:
            mode = self.session.control(run.name).toggle_mode()
            self.status_w.show(f"LR changes now use mode {mode}")
            self._refresh_header()

    def action_pause(self) -> None:
        """Pause or resume training (confirmed)."""
        rc = self._controllable()
        if rc:
            paused = run_state(self.store.runs[rc.name], 0.0, None) == "paused"
            self._confirm_and_send(rc, Command("resume" if paused else "pause"))

    # ---- quitting -------------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit; under ``lrwatch run`` with the training still running, ask what becomes of it."""
        child = self.child
        if not self.confirm_quit or child is None or child.poll() is not None:
            self.exit(self.child_code)
            return
        if isinstance(self.screen, QuitRunScreen):
            return

        def answered(choice: str | None) -> None:
            if choice is not None:
                self.stop_child = choice == "stop"
                self.exit(self.child_code)

        run = self.current_run
        label = f"{run.name if run else 'the command'} (pid {child.pid})"
        self.push_screen(QuitRunScreen(label, self.child_log), answered)

    # ---- view keys ------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the key bindings."""
        self.push_screen(HelpScreen())

    def _view_changed(self) -> None:
        self.status_w.show(self.view.describe())
        self._data_changed()

    def action_log_y(self) -> None:
        """Force a log y axis on the loss, grad-norm and metric charts, or a linear one."""
        self.view.y_scale = "lin" if self.view.y_scale == "log" else "log"
        self._view_changed()

    def action_auto_y(self) -> None:
        """Let each chart choose log-y when its data span more than ~3 decades (the default)."""
        self.view.y_scale = "auto"
        self._view_changed()

    def action_metrics(self) -> None:
        """Pick metric panels (accuracy, tokens/s, system metrics…) to show below the charts."""
        with self.lock:
            offered = metric_names(self.shown_runs())
        self.push_screen(MetricPicker(offered, self.picked, self._pick_metrics))

    def _pick_metrics(self, metrics: list[str]) -> None:
        """The picker changed: mount/remove the panels now, and remember the choice."""
        self.picked = list(metrics)
        self.charts_w = sync_metric_panels(self.charts_box, self.store, self.charts_w, metrics)
        note = self.prefs.save_metrics(self.picked)
        if note:
            self.status_w.show(note, error=True)
        self._data_changed()

    def action_smooth(self, direction: int) -> None:
        """Step the EMA smoothing up or down."""
        levels = SMOOTHING_LEVELS
        i = min(range(len(levels)), key=lambda k: abs(levels[k] - self.view.smoothing))
        self.view.smoothing = levels[max(0, min(len(levels) - 1, i + direction))]
        self._view_changed()

    def action_window(self) -> None:
        """Cycle the step window: all, last 100, 1k, 10k, 100k."""
        i = WINDOWS.index(self.view.window) if self.view.window in WINDOWS else 0
        self.view.window = WINDOWS[(i + 1) % len(WINDOWS)]
        self._view_changed()

    def action_follow(self) -> None:
        """Freeze the view at the current right edge, or follow new steps again."""
        self.view.follow = not self.view.follow
        if not self.view.follow:
            lasts = [r.last_step for r in self.shown_runs() if r.last_step is not None]
            self.view.frozen_hi = max(lasts) if lasts else None
        self._view_changed()

    def action_runs(self) -> None:
        """The table of all runs: sort, filter, mark runs to overlay, Enter opens one."""
        self.runs_view.open()

    def run_row(self, name: str) -> RunRow:
        """The runs table's row of run ``name`` as it is now."""
        run = self.store.runs[name]
        ingest = self.session.ingest
        rules = ingest.rules
        judged = rules is not None and not rules.held and not rules.queued(name)
        control = self.session.control(name)
        with self.lock:
            return run_row(
                run,
                now=self.clock(),
                last_write=self.last_write(run),
                control=control.info(),
                controllable=control.refusal() is None,
                findings=self.findings.get(name, []) if judged and run.records else None,
                peek=ingest.peeks.get(name),
                alive=self.child is not None and self.child_code is None,
                input_closed=name in self.closed_inputs,
                quiet=self._quiet,
            )

    def _table_made(self, screen: RunsScreen) -> None:
        """The table has its own status line: the app's status news shows there too."""
        self.status_w.mirror = screen.status_w

    def _table_note(self) -> str:
        """What the table does not know yet: how much of the logs is read, the rules' lag."""
        reading = self.reading_fraction()
        if reading is not None:
            return f"reading logs {reading:.0%} (… = not judged yet)"
        rules = self.session.ingest.rules
        if rules is not None and rules.backlog:
            return f"rules {rules.backlog:,} records behind (… = not judged yet)"
        return ""

    def on_runs_screen_open(self, message: RunsScreen.Open) -> None:
        """A run opened from the table (with the marked runs overlaid)."""
        self.runs_view.close(message.marked)
        self._select_run(message.name)
        self.view.overlay = len(self.runs_view.marked) > 1
        self._view_changed()

    def on_runs_table_moved(self, message: RunsTable.Moved) -> None:
        """The table's cursor moved: the LR keys act on that run."""
        self._select_run(message.name)

    def _select_run(self, name: str) -> None:
        names = self.run_names
        if name in names and names.index(name) != self.current % max(1, len(names)):
            self.current = names.index(name)
            self.findings_w.forget_hold()  # another run's cards: start at its top card

    def action_next_run(self, delta: int) -> None:
        """Switch to the next / previous run."""
        if self.run_names:
            self.current = (self.current + delta) % len(self.run_names)
            self.findings_w.forget_hold()  # another run's cards: start at its top card
            self._view_changed()

    def action_overlay(self) -> None:
        """Draw all runs on the same charts (smoothed loss and LR per run)."""
        self.view.overlay = not self.view.overlay
        self._view_changed()

    def action_findings_panel(self) -> None:
        """Show or hide the findings panel (more room for the charts)."""
        self.findings_w.toggle_class("-hidden")

    def action_select(self, delta: int) -> None:
        """Move the finding selection."""
        self.findings_w.move(delta)

    def _theme_changed(self, theme: Any) -> None:
        """Another theme (the palette's "Theme"): the charts pick their colours for it."""
        if self.view.light != (not theme.dark):
            self.view.light = not theme.dark
            self._data_changed()

    def action_screenshot(self, filename: str | None = None, path: str | None = None) -> None:
        """Save an SVG screenshot named after the run and its step (a download in a browser)."""
        # After the next refresh: from the palette, the frame must no longer show the palette.
        self.call_after_refresh(self._shoot, filename, path)

    def _shoot(self, filename: str | None, path: str | None) -> None:
        run = self.current_run
        folder = Path(path) if path else shot_folder()
        if not filename:
            base = base_name(run.name, run.last_step) if run else base_name(None, None)
            filename = free_name(folder, base, self._shots.values())
        key = self.deliver_screenshot(filename=filename, path=str(folder))
        if key is not None:
            self._shots[key] = filename
            self.status_w.show(f"… saving screenshot {folder / filename}")

    def on_delivery_complete(self, event: DeliveryComplete) -> None:
        """Say where the screenshot went (no path: a browser downloaded it)."""
        name = self._shots.get(event.key)
        if name is not None:
            where = str(event.path) if event.path is not None else f"{name} (downloaded)"
            self.status_w.show(f"✓ screenshot saved: {where}")

    def on_delivery_failed(self, event: DeliveryFailed) -> None:
        """Say why the screenshot was not saved."""
        name = self._shots.get(event.key)
        if name is not None:
            self.status_w.show(f"✗ screenshot {name} not saved: {event.exception}", error=True)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        # Textual's "Screenshot" names the file after the date and saves it to ~/Downloads:
        # ours (key P) names it after the run and step, in $LRWATCH_SCREENSHOTS or here.
        yield from (c for c in super().get_system_commands(screen) if c.title != "Screenshot")
        yield from palette_commands(self, self.BINDINGS, screen)


class _ChartsScreen(Screen[Any]):
    AUTO_FOCUS = ""  # "": nothing (None would mean the app's "*")


def _points(run: RunData, name: str) -> int:
    """Points of ``run``'s series ``name`` (0 when it has none)."""
    series = run.series.get(name)
    return 0 if series is None else len(series)
