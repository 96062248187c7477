"""The run header and the status line."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from lrwatch.tui.mono import monochrome
from lrwatch.tui.summary import RunSummary, render_header


class RunHeader(Widget):
    """Run, state, step, pace, elapsed, loss, LR per group, control connection (2 lines)."""

    DEFAULT_CSS = """
    RunHeader { height: 2; background: $boost; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.summary: RunSummary | None = None
        self.where = (0, 1)
        self.note = " waiting for records…"

    def show(self, summary: RunSummary | None, index: int = 0, count: int = 1) -> None:
        """Show ``summary`` (None: the waiting note), as run ``index`` of ``count``."""
        self.summary, self.where = summary, (index, count)
        self.refresh()

    def render(self) -> Text:
        """The two header lines, fitted to the current width."""
        if self.summary is None:
            return Text(self.note)
        text = render_header(self.summary, *self.where, width=self.size.width)
        return monochrome(text) if self.app.no_color else text


class StatusLine(Static):
    """The last acknowledgement, error or view change; errors stay until replaced."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; }
    StatusLine.error { background: $error 40%; }
    """

    def show(self, text: str, error: bool = False) -> None:
        """Show ``text`` (red background when ``error``)."""
        self.set_class(error, "error")
        self.update(Text(text, style="bold" if error else ""))
