"""The run header and the status line."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class RunHeader(Static):
    """Run, state, step, pace, elapsed, loss, LR per group, control connection (2 lines)."""

    DEFAULT_CSS = """
    RunHeader { height: 2; background: $boost; }
    """


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
