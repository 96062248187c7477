"""The lrwatch terminal app: layout, key bindings and message handlers.

Workers (see :mod:`lrwatch.tui.feeds`) fill the store and post batched messages; widgets draw
from the store through pure renderers. LR control lives in :mod:`lrwatch.tui.lr_actions`.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from lrwatch.rules.coverage import not_enough
from lrwatch.store import MetricStore, RunData
from lrwatch.tui import messages as msg
from lrwatch.tui.backlog import BacklogView
from lrwatch.tui.chart import ChartSpec
from lrwatch.tui.child import ChildActions
from lrwatch.tui.feeds import Ingest, follow_files, follow_stream
from lrwatch.tui.lr_actions import LRActions
from lrwatch.tui.palette import palette_commands
from lrwatch.tui.smooth import SMOOTHING_LEVELS, EmaCache
from lrwatch.tui.summary import ControlInfo, summarize
from lrwatch.tui.view import WINDOWS, ViewState, grad_spec, loss_spec, lr_names, lr_spec
from lrwatch.tui.widgets.charts import ChartPanel
from lrwatch.tui.widgets.dialogs import HelpScreen
from lrwatch.tui.widgets.findings import FindingsPanel
from lrwatch.tui.widgets.header import RunHeader, StatusLine

#: Seconds between redraws for new data (at most; see LRWatchApp._redraw_if_dirty).
REDRAW_EVERY = 0.1


class LRWatchApp(BacklogView, ChildActions, LRActions, App[int]):
    """Watch runs live; ``paths`` are followed, or ``attach`` names a control socket to stream."""

    CSS_PATH = "app.tcss"
    TITLE = "lrwatch"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("l", "log_y", "Log-y"),
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
        Binding("a", "apply_finding", "Apply fix"),
        Binding("e", "set_lr", "Set LR"),
        Binding("minus", "scale(0.5)", "×0.5"),
        Binding("plus,equals_sign", "scale(2.0)", "×2"),
        Binding("slash", "scale(0.1)", "÷10"),
        Binding("m", "mode", "Mode", show=False),
        Binding("p", "pause", "Pause"),
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
        rules_config: Any = None,
        clock: Callable[[], float] = time.time,
        child: subprocess.Popen[bytes] | None = None,
        prefer_path: str | None = None,
        stdin_fd: int | None = None,
        keep_child: bool = False,
        source_options: dict[str, Any] | None = None,
    ) -> None:
        """``source_options`` go to ``open_runs`` (``loss``/``val_loss``, ``parser_factory``)."""
        super().__init__()
        self.source_options = source_options or {}
        self.store = store if store is not None else MetricStore()
        self.lock = threading.Lock()
        self.view = ViewState()
        self.ema = EmaCache()
        self.paths, self.fmt, self.follow_files = paths or [], fmt, follow
        self.stdin_fd = stdin_fd  # where "-" is read from (the terminal is fd 0 again)
        self.attach_target, self.token = attach, token
        self.rules_config = rules_config
        self.clock = clock
        self.current = 0
        self.findings: dict[str, list[Any]] = {}
        self.controls: dict[str, ControlInfo] = {}
        self.clients: dict[str, Any] = {}
        self.arrivals: dict[str, float] = {}
        self.closed_inputs: set[str] = set()  #: runs read from a pipe that reached EOF
        self.stop_event = threading.Event()
        self.client_lock = threading.Lock()
        self._ticks = 0
        self._dirty = False  # data arrived since the last redraw
        self._last_redraw = 0.0
        self._stream_client: Any = None
        self.child = child
        self.child_code: int | None = None  # set when the child of lrwatch run exits
        #: lrwatch run: stop the child when the UI quits (q asks; --keep says no at once).
        self.stop_child = not keep_child
        #: q asks whether to stop a running child too (lrwatch run without --keep).
        self.confirm_quit = child is not None and not keep_child
        self.blocks = True  #: readers yield MetricBlock columns (benchmarks turn it off)
        self.prefer_path = prefer_path  # switch to this log's run once it has records
        self.child_log = prefer_path  #: lrwatch run: the Monitor's log (for "watch it again")

    # ---- layout ---------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        # Kept as attributes: app.query_one() searches the active screen, which is a dialog
        # while a change waits for confirmation, and batches keep arriving meanwhile.
        self.header_w = RunHeader(id="header")
        self.charts_w = [
            ChartPanel(self._spec(self._loss), self.lock, id="loss"),
            ChartPanel(self._spec(self._lr), self.lock, id="lr"),
            ChartPanel(self._spec(self._grad), self.lock, id="grad"),
        ]
        self.findings_w = FindingsPanel(id="findings")
        self.status_w = StatusLine(id="status")
        yield self.header_w
        with Horizontal(id="body"):
            with Vertical(id="charts"):
                yield from self.charts_w
            yield self.findings_w
        yield self.status_w
        yield Footer()

    def on_mount(self) -> None:
        self.view.mono = self.no_color
        for name in self.store.runs:
            self.arrivals[name] = self.clock()
        self._ingest = Ingest(self.store, self.lock, self.post_message, self.rules_config)
        self._ingest.start()
        if self.paths:
            self._follow_files()
        if self.attach_target:
            self._follow_stream()
        if self.child is not None:
            self._wait_child()
        self.set_interval(1.0, self._tick)
        self.set_interval(REDRAW_EVERY, self._redraw_if_dirty)
        self.status_w.show(self.view.describe())
        self._data_changed()

    def on_unmount(self) -> None:
        self.stop_event.set()
        if hasattr(self, "_ingest"):
            self._ingest.close()
        for client in [*self.clients.values(), self._stream_client]:
            if client is not None:
                client.close()

    # ---- workers --------------------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="files")
    def _follow_files(self) -> None:
        follow_files(
            self.paths,
            self.fmt,
            self._ingest,
            self.stop_event,
            self.follow_files,
            self.stdin_fd,
            self.blocks,
            **self.source_options,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="stream")
    def _follow_stream(self) -> None:
        assert self.attach_target is not None
        follow_stream(
            self.attach_target, self.token, self._ingest, self.stop_event, self._stream_opened
        )

    def _stream_opened(self, client: Any) -> None:
        self._stream_client = client

    # ---- what is shown --------------------------------------------------------------------

    @property
    def run_names(self) -> list[str]:
        """Runs in the order they were found."""
        return list(self.store.runs)

    @property
    def current_run(self) -> RunData | None:
        """The run the header, findings and LR keys are about."""
        names = self.run_names
        return self.store.runs[names[self.current % len(names)]] if names else None

    def shown_runs(self) -> list[RunData]:
        """Runs drawn on the charts: the current one, or all when overlaid."""
        if self.view.overlay:
            return list(self.store.runs.values())
        run = self.current_run
        return [run] if run is not None else []

    def _spec(self, build: Callable[[list[RunData]], ChartSpec | None]) -> Callable[[], Any]:
        return lambda: build(self.shown_runs())

    def _loss(self, runs: list[RunData]) -> ChartSpec | None:
        return loss_spec(runs, self.view, self.ema) if runs else None

    def _lr(self, runs: list[RunData]) -> ChartSpec | None:
        return lr_spec(runs, self.view) if runs else None

    def _grad(self, runs: list[RunData]) -> ChartSpec | None:
        return grad_spec(runs, self.view) if runs else None

    def control_info(self, name: str) -> ControlInfo:
        """The control state of run ``name`` (created from its header on first use)."""
        info = self.controls.get(name)
        if info is None:
            info = self.controls[name] = ControlInfo()
        if self.child is not None and info.endpoint is None:
            info.hint = self._run_hint(name)
        if info.endpoint is None:
            run = self.store.runs.get(name)
            header = (run.header if run else None) or {}
            if header.get("control"):
                info.endpoint = str(header["control"])
            elif self.attach_target:
                info.endpoint = self.attach_target
        return info

    def last_write(self, run: RunData) -> float | None:
        """When ``run`` last wrote: its log file's mtime, else when its records last arrived.

        The mtime matters for logs opened after the fact: all their records "arrive" at once
        when the UI starts, but the run may have stopped writing hours ago.
        """
        arrival = self.arrivals.get(run.name)
        if run.path and run.path != "-" and not self.attach_target:
            try:
                return os.stat(run.path).st_mtime
            except OSError:
                return arrival
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
        with self.lock:
            s = summarize(
                run,
                self.clock(),
                self.last_write(run),
                self.control_info(run.name),
                alive=child_alive,
                input_closed=run.name in self.closed_inputs,
            )
        s.reading = self.reading_fraction()
        if self.child_code is not None and s.state not in ("finished", "crashed", "paused"):
            # lrwatch run: console output has no end record, but the exit code says it all.
            s.state = "finished" if self.child_code == 0 else "crashed"
        self._note_end(run.name, s.state)
        header.show(s, self.current % len(self.store.runs), len(self.store.runs))

    def _redraw_if_dirty(self) -> None:
        """Redraw for new data at most ~10 times a second, and less when frames are costly.

        A frame must not take more than about a quarter of the UI thread while records
        stream in, or keys queue up behind redraws; view keys redraw at once regardless.
        """
        if self.loading is not None:  # a backlog is read: the header only (tui/backlog.py)
            if self._dirty:
                self._dirty = False
                self._refresh_header()
            return
        cost = sum(p.build_cost for p in self.charts_w if p.display)
        if self._dirty and time.monotonic() - self._last_redraw >= max(REDRAW_EVERY, 4 * cost):
            self._data_changed()

    def _data_changed(self) -> None:
        if not self.header_w.is_attached:
            return  # a batch that arrives while the app shuts down
        self._dirty, self._last_redraw = False, time.monotonic()
        current = self.current_run
        self.view.current = current.name if current is not None else ""
        with self.lock:
            runs = self.shown_runs()
            has_grad = any(len(r.series.get("grad_norm", ())) for r in runs)
            # A log without LR (nanoGPT text) gives the loss the room; the header says "lr -".
            has_lr = any(lr_names(r) for r in runs) or not any(r.records for r in runs)
        self.charts_w[1].display = has_lr
        self.charts_w[2].display = has_grad
        for panel in self.charts_w:
            panel.redraw()
        self._refresh_header()
        self._note_lr_changes()
        run = self.current_run
        if run is not None:
            # No loss yet, nothing judged: the panel must not say the LR looks healthy.
            self.findings_w.judging = "loss" in run.series
            self.findings_w.not_enough = not_enough(
                _points(run, "loss"), _points(run, "val_loss"), self.rules_config
            )
            # setdefault: the same list each time, so an unchanged panel is not re-rendered.
            self.findings_w.set_findings(self.findings.setdefault(run.name, []))

    def _tick(self) -> None:
        self._refresh_header()
        for name in self.run_names:
            self._maybe_connect(name)
        self._ticks += 1
        if self.clients and self._ticks % 5 == 0:
            self._ping()

    # ---- messages from workers ------------------------------------------------------------

    def on_data_arrived(self, message: msg.DataArrived) -> None:
        now = self.clock()
        for name, n in message.counts.items():
            if n or name not in self.arrivals:
                self.arrivals[name] = now
            self._maybe_connect(name)
        self._switch_to_preferred()
        self._dirty = True  # drawn by _redraw_if_dirty, coalesced with other batches

    def _switch_to_preferred(self) -> None:
        if self.prefer_path is None:
            return
        target = os.path.realpath(self.prefer_path)
        for i, run in enumerate(self.store.runs.values()):
            if run.records and run.path and os.path.realpath(run.path) == target:
                self.current, self.prefer_path = i, None
                return

    def on_input_closed(self, message: msg.InputClosed) -> None:
        self.closed_inputs.add(message.run)
        self._refresh_header()

    def on_findings_changed(self, message: msg.FindingsChanged) -> None:
        self.findings[message.run] = message.findings
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

    # ---- view keys ------------------------------------------------------------------------

    def action_help(self) -> None:
        """Show the key bindings."""
        self.push_screen(HelpScreen())

    def _view_changed(self) -> None:
        self.status_w.show(self.view.describe())
        self._data_changed()

    def action_log_y(self) -> None:
        """Toggle a log y axis on the loss and grad-norm charts."""
        self.view.log_y = not self.view.log_y
        self._view_changed()

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

    def action_next_run(self, delta: int) -> None:
        """Switch to the next / previous run."""
        if self.store.runs:
            self.current = (self.current + delta) % len(self.store.runs)
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

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield from palette_commands(self, self.BINDINGS)


def _points(run: Any, name: str) -> int:
    """Points of ``run``'s series ``name`` (0 when it has none)."""
    series = run.series.get(name)
    return 0 if series is None else len(series)
