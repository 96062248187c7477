"""The run header and the status line."""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from lrwatch.tui.mono import monochrome
from lrwatch.tui.progress import ArrivalPace
from lrwatch.tui.summary import RunSummary, render_header


class RunHeader(Widget):
    """Run, state, step (of its total), pace, elapsed, loss; LR per group, progress and ETA
    when the total is known, control connection (2 lines; see :func:`render_header`)."""

    DEFAULT_CSS = """
    RunHeader { height: 2; background: $boost; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.summary: RunSummary | None = None
        self.where = (0, 1)
        self.note = " waiting for records…"
        self._shown: tuple[int, str, list[Any]] | None = None  #: width, text, spans drawn
        self._arrivals = ArrivalPace()  #: the pace of logs without wall times, as seen here

    def show(self, summary: RunSummary | None, index: int = 0, count: int = 1) -> None:
        """Show ``summary`` (None: the waiting note), as run ``index`` of ``count``.

        Repaints only when the text changed: the app calls this every second, and an idle
        UI must not redraw the screen for a header that says the same.
        """
        if summary is not None and summary.steps_per_s is None:
            # A log without times (most console logs): the pace at which its steps arrive,
            # so its steps/s and ETA are known too.
            reading = summary.reading is not None
            summary.steps_per_s = self._arrivals.pace(
                summary.name, summary.step, summary.state, reading, time.monotonic()
            )
        self.summary, self.where = summary, (index, count)
        text = self._text()
        if self._shown != (self.size.width, text.plain, text.spans):
            self.refresh()

    def _text(self) -> Text:
        if self.summary is None:
            return Text(self.note)
        return render_header(self.summary, *self.where, width=self.size.width)

    def render(self) -> Text:
        """The two header lines, fitted to the current width."""
        text = self._text()
        self._shown = (self.size.width, text.plain, list(text.spans))
        return monochrome(text) if self.app.no_color else text


class StatusLine(Static):
    """The last acknowledgement, error or view change; errors stay until replaced."""

    DEFAULT_CSS = """
    StatusLine { height: 1; background: $panel; }
    StatusLine.error { background: $error 40%; }
    """

    topic = ""  #: what the shown text is about ("findings", "control"; "" for news)
    #: Another screen's status line that shows the same (the runs table: a change made from
    #: a table row is acknowledged where the user is).
    mirror: StatusLine | None = None

    def show(self, text: str, error: bool = False, topic: str = "") -> None:
        """Show ``text`` (red background when ``error``).

        ``topic`` tags a message that goes stale when its situation changes (the app clears
        it with :meth:`clear_topic`, e.g. "no findings to apply" once findings arrive).
        """
        self.topic = topic
        self.set_class(error, "error")
        self.update(Text(text, style="bold" if error else ""))
        if self.mirror is not None:
            self.mirror.show(text, error, topic)

    def clear_topic(self, topic: str, replacement: str) -> None:
        """Show ``replacement`` if the line still shows a message about ``topic``."""
        if self.topic == topic:
            self.show(replacement)
