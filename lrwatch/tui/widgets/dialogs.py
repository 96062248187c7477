"""Modal screens: confirm a change, type an exact LR, and the key-binding help."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Static

from lrwatch.session.commands import Command, parse_lr, plan_change
from lrwatch.tui.widgets.schedule import Ask, SchedulePreview

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 72; max-width: 95%; height: auto; padding: 1 2;
    border: thick $accent; background: $surface;
}}
{name} Label {{ width: 100%; }}
{name} .hint {{ color: $text-muted; margin-top: 1; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    """Ask yes/no before a change reaches a live run; ``y``/``enter`` confirm, ``n``/``esc`` cancel.

    With an LR-change ``command`` the dialog also draws the run's remaining schedule as it is
    and as the change makes it (:class:`SchedulePreview`, fed by ``ask`` in a worker), and
    ``m`` switches this change between rescale and pin: ``command`` then holds the switched
    one (the caller sends it) and ``word`` re-words the question for it.
    """

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
        Binding("m", "mode", "Mode"),
    ]

    def __init__(
        self,
        question: str,
        *,
        command: Command | None = None,
        ask: Ask | None = None,
        word: Callable[[Command], str] | None = None,
    ) -> None:
        super().__init__()
        self.question = question
        self.command = command if command is not None and command.change is not None else None
        self._ask = ask
        self._word = word

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            if self.command is not None:
                yield SchedulePreview(None, self.command, ask=self._ask, id="preview")
            yield Label(self._hint(), classes="hint")

    def _hint(self) -> str:
        mode = "    [b]m[/b]: rescale / pin" if self.command is not None else ""
        return f"[b]y[/b] / enter: apply    [b]n[/b] / esc: cancel{mode}"

    def action_mode(self) -> None:
        """Switch this change between rescale and pin; the will-be curve follows."""
        cmd = self.command
        if cmd is None or cmd.change is None or cmd.change.op == "unpin":
            return
        mode = "pin" if (cmd.change.mode or "rescale") == "rescale" else "rescale"
        self.command = plan_change(cmd.change, cmd.old, mode)
        if self._word is not None:
            self.question = self._word(self.command)
            self.query_one("#question", Label).update(self.question)
        self.query_one(SchedulePreview).command = self.command

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)


class QuitRunScreen(ModalScreen[str | None]):
    """``lrwatch run``'s quit: ``y`` stops the training too, ``n`` leaves it running, esc stays.

    Dismisses with ``"stop"``, ``"leave"`` or ``None`` (stay in the UI).
    """

    DEFAULT_CSS = _DIALOG_CSS.format(name="QuitRunScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer('stop')", "Stop it"),
        Binding("n", "answer('leave')", "Leave it running"),
        Binding("escape,q", "answer(None)", "Stay"),
    ]

    def __init__(self, what: str, log: str | None = None) -> None:
        super().__init__()
        self.what = what
        self.log_path = log

    def compose(self) -> ComposeResult:
        again = f" (watch it again: lrwatch watch {self.log_path})" if self.log_path else ""
        with Vertical():
            yield Label(f"Quit lrwatch. The training {self.what} is still running.", id="question")
            yield Label("[b]Stop the training too?[/b]")
            yield Label(
                "[b]y[/b]  stop it (Ctrl+C to the training, as if typed)\n"
                f"[b]n[/b]  leave it running: it keeps logging{again}\n"
                "[b]esc[/b] stay here",
                classes="hint",
            )

    def action_answer(self, choice: str | None) -> None:
        """Close with the choice."""
        self.dismiss(choice)


class _LRValidator(Validator):
    def validate(self, value: str) -> ValidationResult:
        try:
            parse_lr(value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


class LRInputScreen(ModalScreen[float | None]):
    """Type an exact LR; the value is validated before the dialog closes."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="LRInputScreen")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"New learning rate (group 0; now {self.current}):")
            yield Input(placeholder="e.g. 3e-4", validators=[_LRValidator()], id="lr-value")
            yield Label("", id="why", classes="hint")

    def on_input_changed(self, event: Input.Changed) -> None:
        """Say why the value is not valid while it is typed."""
        res = event.validation_result
        why = "" if res is None or res.is_valid else "; ".join(res.failure_descriptions)
        self.query_one("#why", Label).update(why or "enter: continue    esc: cancel")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Close with the LR when it is valid."""
        try:
            self.dismiss(parse_lr(event.value))
        except ValueError as exc:
            self.query_one("#why", Label).update(f"[red]{exc}[/red]")

    def action_cancel(self) -> None:
        """Close without a value."""
        self.dismiss(None)


#: The help screen: (section, note, [(keys, what they do)]), one binding per line so it reads
#: the same at 80 columns as at 200 (a two-column table wrapped mid-entry at 80).
HELP_SECTIONS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Learning rate",
        "each change is confirmed, then acknowledged by the run",
        [
            ("e", "set an exact LR"),
            ("-", "LR ×0.5"),
            ("+ / =", "LR ×2"),
            ("/", "LR ÷10"),
            ("m", "mode: rescale / pin"),
            ("p", "pause / resume training"),
            ("R", "rewind to a snapshot (then LR ÷10)"),
            ("A", "autopilot: off / this run / all runs"),
            ("x", "cancel the autopilot's countdown"),
        ],
    ),
    (
        "Findings",
        "",
        [("j / k, ↓ / ↑", "select a finding"), ("a", "apply its fix (asks first)")],
    ),
    (
        "View",
        "",
        [
            ("l", "force log / linear y axis"),
            ("L", "auto y axis (log past ~3 decades)"),
            ("s / S", "more / less smoothing"),
            ("w", "window: all, last 100 … 100k steps"),
            ("f", "follow live / freeze the view"),
            ("n / N", "next / previous run"),
            ("o", "overlay the marked runs (or the first 10)"),
            ("g", "show / hide the findings panel"),
            ("M", "metric panels: any logged metric, system"),
            ("c", "console: the run's own output"),
            ("ctrl+f", "search the console (n / N: next / prev)"),
            ("P", "save a screenshot: RUN-stepN.svg"),
        ],
    ),
    (
        "Runs",
        "a sweep of 11 runs or more opens on the table",
        [
            ("r / esc", "the runs table (from the charts)"),
            ("s / S", "sort: next column / reverse"),
            ("/", "filter: names, states, symptoms"),
            ("space / u", "mark a run / unmark all"),
            ("enter", "open the run (the marked ones overlaid)"),
        ],
    ),
    (
        "",
        "",
        [
            ("?", "this help"),
            ("ctrl+p", "command palette"),
            ("q", "quit (lrwatch run asks whether to stop it)"),
        ],
    ),
]
HELP_NOTES = (
    "rescale: the schedule keeps its shape, scaled.\n"
    "pin: the LR stays at the new value.\n"
    "A run is controllable when its script uses\n"
    "lrwatch.Monitor() or runs under `lrwatch run`."
)
_KEY_WIDTH = 14


def help_text() -> Text:
    """The help as text: one binding per line, at most ~60 columns wide."""
    t = Text()
    t.append("lrwatch keys", style="bold")
    t.append("  (no mouse needed)\n", style="dim")
    for title, note, rows in HELP_SECTIONS:
        t.append("\n")
        if title:
            t.append(title, style="bold")
            if note:
                t.append(f"\n  {note}", style="dim")
            t.append("\n")
        for keys, what in rows:
            t.append(f"  {keys:<{_KEY_WIDTH}}", style="bold cyan")
            t.append(f"{what}\n")
    t.append("\n" + HELP_NOTES, style="dim")
    return t


class HelpScreen(ModalScreen[None]):
    """The key bindings; scrolls (↑/↓, j/k, page keys) when taller than the screen."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 66; max-width: 100%; height: auto; max-height: 100%; padding: 0 1 0 2;
        border: thick $accent; background: $surface; scrollbar-size-vertical: 1;
        border-subtitle-color: $text-muted;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close"),
        Binding("j", "scroll(1)", "Down", show=False),
        Binding("k", "scroll(-1)", "Up", show=False),
    ]

    def compose(self) -> ComposeResult:
        box = VerticalScroll()
        box.border_subtitle = "↑↓ scroll · esc close"
        with box:
            yield Static(help_text(), id="help-text")

    def on_mount(self) -> None:
        """Focus the text so the arrow and page keys scroll it."""
        self.query_one(VerticalScroll).focus()

    def action_scroll(self, lines: int) -> None:
        """Scroll the help by ``lines``."""
        self.query_one(VerticalScroll).scroll_relative(y=lines, animate=False)
