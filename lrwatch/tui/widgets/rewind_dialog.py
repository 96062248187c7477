"""The rewind dialog (key ``R``): how far back, which LR factor, and what the run will restore.

It is the confirmation too: it shows the run's snapshots and, as the fields are typed, the
snapshot the run will restore and the LR before and after. ``enter`` confirms, ``esc`` cancels.
:func:`open_rewind` is the key's whole flow: ask the run (a worker), open, send.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

from lrwatch.numfmt import fmt_num
from lrwatch.session.commands import Command, change_text
from lrwatch.session.control import RunControl
from lrwatch.tui.rewind import (
    DEFAULT_FACTOR,
    RewindCommand,
    RunStatus,
    ask_status,
    default_steps_back,
    plan_rewind,
)
from lrwatch.tui.widgets.header import StatusLine

#: Factors the dialog accepts (the run enforces its own range too).
FACTOR_RANGE = (1e-4, 1e4)
#: Snapshots listed at most (the newest; a run keeps few).
SHOWN_SNAPSHOTS = 8

CSS = """
RewindScreen { align: center middle; }
RewindScreen > Vertical {
    width: 72; max-width: 95%; height: auto; padding: 1 2;
    border: thick $accent; background: $surface;
}
RewindScreen Label { width: 100%; }
RewindScreen .hint { color: $text-muted; margin-top: 1; }
RewindScreen Input { margin-top: 1; }
"""


def parse_steps(text: str, step: int) -> int:
    """Steps back as typed: a whole number from 1 to the run's step."""
    try:
        n = int(text.strip().replace(",", "").replace("_", ""))
    except ValueError:
        raise ValueError(f"{text.strip()!r} is not a whole number of steps") from None
    if not 1 <= n <= step:
        raise ValueError(f"steps back must be between 1 and {step:,}")
    return n


def parse_factor(text: str) -> float | None:
    """The LR factor as typed (``0.1``, ``1/10``); empty or ``none``: keep the LR."""
    raw = text.strip().lower()
    if raw in ("", "none", "-", "1"):
        return None
    try:
        if "/" in raw:
            num, den = raw.split("/", 1)
            value = float(num) / float(den)
        else:
            value = float(raw)
    except (ValueError, ZeroDivisionError):
        raise ValueError(f"{text.strip()!r} is not a factor (e.g. 0.1, or empty)") from None
    lo, hi = FACTOR_RANGE
    if not math.isfinite(value) or not lo <= value <= hi:
        raise ValueError(f"the factor must be between {fmt_num(lo)} and {fmt_num(hi)}")
    return value


def snapshots_text(snapshots: Sequence[int]) -> str:
    """``snapshots at steps 1,000 · 1,100`` or why there are none."""
    if not snapshots:
        return "the run reports no snapshots (Monitor(snapshot_every=N) keeps them)"
    shown = list(snapshots)[-SHOWN_SNAPSHOTS:]
    more = f" (and {len(snapshots) - len(shown)} older)" if len(snapshots) > len(shown) else ""
    return "snapshots at steps " + " · ".join(f"{s:,}" for s in shown) + more


def outcome_text(cmd: RewindCommand, onset: int | None = None) -> str:
    """What the run will do: the snapshot it restores and the LR after; a warning when that
    snapshot is not older than the finding's ``onset`` (the trouble may be in it already)."""
    if cmd.snapshot is None:
        where = f"no snapshot at or before step {cmd.to_step:,}: the run will refuse"
    else:
        where = f"restores the snapshot of step {cmd.snapshot:,}"
        if onset is not None and cmd.snapshot >= onset:
            where += (
                f" [yellow](not before the finding's onset at step {onset:,}: the run keeps"
                " too few snapshots to go back that far; Monitor(keep=…))[/yellow]"
            )
    lr = ""
    if cmd.factor is not None and cmd.old:
        lr = f"; LR {change_text(cmd.old, cmd.new)} ({cmd.mode})"
    elif cmd.factor is None:
        lr = "; LR as the snapshot had it"
    return f"step {cmd.from_step:,} → {cmd.to_step:,}: {where}{lr}"


class RewindScreen(ModalScreen[RewindCommand | None]):
    """Steps back and LR factor, checked as they are typed; dismisses with the command."""

    DEFAULT_CSS = CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        run: str,
        step: int,
        snapshots: Sequence[int],
        steps_back: int,
        factor: float | None,
        plan: Callable[[int, float | None], RewindCommand],
        onset: int | None = None,
    ) -> None:
        super().__init__()
        self.run, self.step, self.snapshots = run, step, list(snapshots)
        self.onset = onset
        self.defaults = (str(steps_back), "" if factor is None else fmt_num(factor))
        self.plan = plan

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"Rewind run {self.run} (now at step {self.step:,})", id="question")
            yield Label(snapshots_text(self.snapshots), id="snapshots", classes="hint")
            yield Label("Steps back:")
            yield Input(self.defaults[0], id="steps-back")
            yield Label("Then scale the LR by (empty: keep it):")
            yield Input(self.defaults[1], placeholder="e.g. 0.1", id="factor")
            yield Label("", id="outcome", classes="hint")
            yield Label("enter: rewind    tab: next field    esc: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#steps-back", Input).focus()
        self._update()

    def on_input_changed(self, event: Input.Changed) -> None:
        """Say what the run will do, or why the fields are not valid, while they are typed."""
        self._update()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Close with the command when both fields are valid."""
        cmd = self._command()
        if isinstance(cmd, RewindCommand):
            self.dismiss(cmd)

    def action_cancel(self) -> None:
        """Close without rewinding."""
        self.dismiss(None)

    def _command(self) -> RewindCommand | str:
        """The planned command, or why the fields do not make one."""
        try:
            back = parse_steps(self.query_one("#steps-back", Input).value, self.step)
            factor = parse_factor(self.query_one("#factor", Input).value)
        except ValueError as exc:
            return str(exc)
        return self.plan(back, factor)

    def _update(self) -> None:
        cmd = self._command()
        if isinstance(cmd, RewindCommand):
            text = outcome_text(cmd, self.onset)
        else:
            text = f"[red]{cmd}[/red]"
        self.query_one("#outcome", Label).update(text)


# -- the key's flow --------------------------------------------------------------------------


class Host(Protocol):
    """What the flow needs of the app (:class:`~lrwatch.tui.app.LRWatchApp`)."""

    status_w: StatusLine

    def send(self, rc: RunControl, cmd: Command) -> None: ...

    # Textual's App methods (their generic signatures, as read-only callables).
    @property
    def run_worker(self) -> Callable[..., Any]: ...
    @property
    def call_from_thread(self) -> Callable[..., Any]: ...
    @property
    def push_screen(self) -> Callable[..., Any]: ...


def open_rewind(app: Host, rc: RunControl, onset: int | None) -> None:
    """Key ``R``: ask the run for its snapshots (in a worker), then open the dialog."""
    app.status_w.show(f"… asking {rc.name} for its snapshots")

    def work() -> None:
        status = ask_status(rc)
        app.call_from_thread(_open, app, rc, status, onset)

    app.run_worker(work, thread=True, exit_on_error=False, group="rewind")


def _open(app: Host, rc: RunControl, status: RunStatus, onset: int | None) -> None:
    if status.error or status.step is None:
        why = status.error or "its status has no step"
        app.status_w.show(f"✗ rewind {rc.name}: {why}", error=True, topic="control")
        return
    step = status.step
    back = default_steps_back(step, status.snapshots, onset)

    def answered(cmd: RewindCommand | None) -> None:
        if cmd is None:
            app.status_w.show("cancelled")
        else:
            app.send(rc, cmd)

    def plan(steps_back: int, factor: float | None) -> RewindCommand:
        return plan_rewind(step, steps_back, factor, status.lrs, status.snapshots, rc.mode)

    screen = RewindScreen(rc.name, step, status.snapshots, back, DEFAULT_FACTOR, plan, onset)
    app.push_screen(screen, answered)
