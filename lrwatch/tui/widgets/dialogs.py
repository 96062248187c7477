"""Modal screens: confirm a change, type an exact LR, and the key-binding help."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Static

from lrwatch.tui.control import parse_lr

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
    """Ask yes/no before a change reaches a live run; ``y``/``enter`` confirm, ``n``/``esc`` cancel."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(self.question, id="question")
            yield Label("[b]y[/b] / enter: apply    [b]n[/b] / esc: cancel", classes="hint")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)


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


HELP = """\
[b]lrwatch keys[/b]  (no mouse needed; ctrl+p opens the command palette)

[b]View[/b]
  l        log / linear y axis          s / S    more / less smoothing
  w        window: all, last 100 … 100k steps
  f        follow live / freeze the view
  n / N    next / previous run          o        overlay all runs
  g        show / hide the findings panel

[b]Findings[/b]
  j / k, ↓ / ↑   select a finding        a        apply its fix (asks first)

[b]Learning rate[/b]  (each change is confirmed, then acknowledged by the run)
  e        set an exact LR              m        mode: rescale / pin
  -        ×0.5     + / =  ×2     /  ÷10
  p        pause / resume training

  ?        this help                    q        quit

[dim]rescale: the schedule keeps its shape, scaled; pin: the LR stays at the new value.
A run is controllable when its script uses lrwatch.Monitor() or runs under `lrwatch run`.[/dim]
"""


class HelpScreen(ModalScreen[None]):
    """The key bindings."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="HelpScreen") + "HelpScreen > Vertical { width: 84; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "app.pop_screen", "Close")
    ]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP)
