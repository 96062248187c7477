"""The UI of ``lrwatch demo``: a picker of the demos, and the main app with a demo's guidance.

:class:`DemoPicker` lists the demos (↑/↓, Enter starts one, ``q`` quits); ``lrwatch demo``
shows it again when a demo is quit, with that demo still highlighted (``↓ enter`` goes on
to the next). :class:`DemoApp` is the ordinary :class:`~lrwatch.tui.app.LRWatchApp` plus
what a demo needs: a short hint at the start, ``i`` for what the demo shows and what to try
(a dialog, so nothing stays covered), a hint when the rule engine flags the demo's symptom,
the flagged run shown first, and the view (overlay, log y) its comparison wants. The hints
are drawn at the top of the findings panel, not as toasts: a toast at 80×24 covered the
grad-norm chart and the status line.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from lrwatch.demos.registry import Scenario
from lrwatch.demos.runner import RESULTS
from lrwatch.tui import messages as msg
from lrwatch.tui.app import LRWatchApp

#: Seconds the hints stay up (in the findings panel, above the cards, which they push down).
HINT_SECONDS = 10.0

KEYS = (
    "[b]a[/b] apply the selected finding's fix ([b]y[/b] confirms)   [b]/[/b] LR ÷10   "
    "[b]+[/b] ×2   [b]-[/b] ×0.5   [b]e[/b] set LR\n"
    "[b]n[/b] next run   [b]o[/b] overlay all runs   [b]l[/b] log y   [b]?[/b] every key   "
    "[b]q[/b] quit"
)


def about_text(scenario: Scenario) -> str:
    """What ``i`` shows: the demo, its symptom, what to try, and the keys to try it with."""
    return (
        f"[b]lrwatch demo {scenario.name}[/b]: {scenario.description}\n\n"
        f"[b]shows:[/b] {scenario.symptom}\n\n"
        f"[b]try:[/b] {scenario.try_this}\n\n{KEYS}"
    )


def _prompt(scenario: Scenario, width: int) -> Text:
    # One line each (cut with … when narrow): the panel below shows the highlighted one in full.
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(f"{scenario.name:<{width}}", style="bold")
    text.append(f"  {scenario.description}\n")
    text.append(f"{'':<{width}}  shows: {scenario.symptom}", style="dim")
    return text


class DemoPicker(App[str | None]):
    """Pick a demo: ↑/↓ (or j/k) move, Enter starts it, ``q``/Esc quit (returns ``None``)."""

    TITLE = "lrwatch demo"
    CSS = """
    #intro { height: auto; padding: 0 1; background: $boost; }
    #demos { height: 1fr; border: none; text-wrap: nowrap; text-overflow: ellipsis; }
    #detail { height: auto; min-height: 2; padding: 0 1; background: $boost; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "leave", "Quit"),
        Binding("j", "move(1)", "Down", show=False),
        Binding("k", "move(-1)", "Up", show=False),
    ]

    def __init__(self, scenarios: Sequence[Scenario], initial: int = 0) -> None:
        super().__init__()
        self.scenarios = list(scenarios)
        self.initial = max(0, min(initial, len(self.scenarios) - 1))

    def compose(self) -> ComposeResult:
        width = max((len(s.name) for s in self.scenarios), default=0)
        yield Static(
            "[b]lrwatch demo[/b] · [b]↑/↓[/b] choose · [b]enter[/b] start · [b]q[/b] quit "
            "([b]q[/b] in a demo comes back here)",
            id="intro",
        )
        yield OptionList(
            *(Option(_prompt(s, width), id=s.name) for s in self.scenarios), id="demos"
        )
        yield Static("", id="detail")
        yield Footer()

    def on_mount(self) -> None:
        demos = self.query_one("#demos", OptionList)
        demos.highlighted = self.initial
        demos.focus()
        self._show_detail(self.initial)

    def _show_detail(self, index: int | None) -> None:
        if index is not None and 0 <= index < len(self.scenarios):
            sc = self.scenarios[index]
            self.query_one("#detail", Static).update(
                f"[b]{sc.name}[/b] shows: {sc.symptom}\n[b]try:[/b] {sc.try_this}"
            )

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Say what to try in the highlighted demo."""
        self._show_detail(event.option_index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter: close with the chosen demo's name."""
        self.exit(event.option.id)

    def action_move(self, delta: int) -> None:
        """Move the highlight (vi keys; the arrows are the list's own)."""
        demos = self.query_one("#demos", OptionList)
        if delta > 0:
            demos.action_cursor_down()
        else:
            demos.action_cursor_up()

    def action_leave(self) -> None:
        """Leave without starting a demo."""
        self.exit(None)


class AboutScreen(ModalScreen[None]):
    """What the demo shows and what to try; any of esc, enter, i, q closes it."""

    DEFAULT_CSS = """
    AboutScreen { align: center middle; }
    AboutScreen > Vertical {
        width: 84; max-width: 95%; height: auto; max-height: 95%; padding: 1 2;
        border: thick $accent; background: $surface;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,i,q", "app.pop_screen", "Close")]

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.text, id="about")


class DemoApp(LRWatchApp):
    """The main UI on a demo's logs, with the demo's guidance (see the module docstring)."""

    # Textual finds a relative CSS_PATH next to the subclass's module: name the app's file.
    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    BINDINGS: ClassVar[list[BindingType]] = [Binding("i", "about", "About demo")]

    def __init__(self, scenario: Scenario, output: Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.output = output  #: the training process's stdout (its results at the end)
        self.results: list[str] = []
        self.focus_run = scenario.focus or next(iter(scenario.flags), "")
        self._focused = not self.focus_run
        self._hinted = False
        self.hints: list[str] = []  #: every hint shown, in order (what a person was told)
        # q leaves the demo (back to the picker) and stops its training: no question asked.
        self.confirm_quit = False
        self.view.overlay = scenario.overlay
        self.view.log_y = scenario.log_y
        self.title = f"lrwatch demo {scenario.name}"

    # Textual calls the handler of every class in the MRO: these only add to LRWatchApp's.
    def on_mount(self) -> None:
        self.hint(f"[b]try:[/b] {self.scenario.try_this} ([b]i[/b] about, [b]?[/b] keys)")

    def hint(self, text: str, seconds: float = HINT_SECONDS) -> None:
        """Tell the person ``text`` (markup) at the top of the findings panel for ``seconds``
        (a toast when the panel is hidden with ``g``: then it covers no findings)."""
        self.hints.append(text)
        panel = self.findings_w
        if panel.has_class("-hidden"):
            self.notify(text, title=f"demo {self.scenario.name}", timeout=seconds)
        else:
            panel.show_hint(text, seconds)

    def on_unmount(self) -> None:
        # The app waits for the child in a thread worker, and Textual's exit joins that
        # thread: interrupt the demo's training now (as Ctrl+C would) so quitting is immediate.
        child = self.child
        if child is not None and child.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGINT)

    def on_data_arrived(self, message: msg.DataArrived) -> None:
        if not self._focused and self.focus_run in self.store.runs:
            # Show the run the demo is about first (and the run its findings panel is about).
            self.current = self.run_names.index(self.focus_run)
            self._focused = True

    def on_findings_changed(self, message: msg.FindingsChanged) -> None:
        wanted = self.scenario.flags.get(message.run, ())
        if self._hinted or not wanted:
            return
        for finding in message.findings:
            if finding.symptom in wanted and finding.action and not finding.resolved:
                self._hinted = True
                current = self._is_current(message.run)
                if current:
                    # `a` applies the selected card, which may be an older finding: select
                    # this one once the panel has the new list (LRWatchApp's handler, next).
                    self.call_after_refresh(self._select_finding, finding.id)
                where = "" if current else f" on {message.run} ([b]n[/b]: switch to it)"
                self.hint(
                    f"{finding.symptom} flagged{where}: press [b]a[/b] to apply its fix, "
                    "then [b]y[/b]"
                )
                return

    def _select_finding(self, finding_id: str) -> None:
        self.findings_w.select_id(finding_id)

    def _is_current(self, name: str) -> bool:
        run = self.current_run
        return run is not None and run.name == name

    def on_child_exited(self, message: msg.ChildExited) -> None:
        # The results (the range test's suggested LRs) are printed by the training process,
        # whose output is a file: show them here, where the person is looking.
        self.results = read_results(self.output)
        if self.results:
            self.hint("\n".join(self.results) + "\n([b]i[/b] shows them again)", 3 * HINT_SECONDS)

    def action_about(self) -> None:
        """What this demo shows and what to try (and its results once it has finished)."""
        text = about_text(self.scenario)
        if self.results:
            text += "\n\n[b]results:[/b]\n" + "\n".join(self.results)
        self.push_screen(AboutScreen(text))


def read_results(output: Path | None) -> list[str]:
    """The lines after the last ``results:`` line of a demo's training output."""
    if output is None:
        return []
    try:
        lines = output.read_text(errors="replace").splitlines()
    except OSError:
        return []
    marks = [i for i, line in enumerate(lines) if line.strip() == RESULTS]
    if not marks:
        return []
    return [line.strip() for line in lines[marks[-1] + 1 :] if line.startswith("  ")]
