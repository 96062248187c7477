"""Chart widgets: thin wrappers that draw a :class:`ChartSpec` with :func:`render_chart`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget

from lrwatch.tui.chart import ChartSpec, render_chart
from lrwatch.tui.mono import monochrome


class ChartPanel(Widget):
    """One chart; ``source`` builds its spec from the store when the panel is drawn.

    Drawn through Textual's line API from strips built once per :meth:`redraw` (or resize):
    turning Rich text into strips directly costs ~1 ms a chart, the generic text path ~15 ms,
    which matters while records stream in and keys must still feel instant.
    """

    DEFAULT_CSS = """
    ChartPanel { height: 1fr; min-height: 4; }
    """

    def __init__(
        self,
        source: Callable[[], ChartSpec | None],
        lock: threading.Lock | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.source = source
        # Held while reading series: a reader thread appends to them under the same lock.
        self.lock = lock or threading.Lock()
        self._strips: list[Strip] = []
        self._built_for: Size | None = None
        self.build_cost = 0.0  #: seconds the last build took (the app paces redraws by it)

    def lines(self, width: int, height: int) -> list[Text]:
        """The chart as text lines at ``width`` x ``height`` (empty before any data)."""
        with self.lock:
            spec = self.source()
            if spec is None:
                return []
            return render_chart(spec, width, height)

    def render(self) -> Text:
        """The chart at the widget's current size as one text (tests read its plain text)."""
        return Text("\n").join(self.lines(self.size.width, self.size.height))

    def redraw(self) -> None:
        """Rebuild the chart from the store on the next frame (cheap when not visible)."""
        self._built_for = None
        self.refresh()

    def _strip(self, line: Text, width: int, style: Style, mono: bool) -> Strip:
        console = self.app.console
        if mono:
            line = monochrome(line)
        # Text.render drops the text's own style when it has no spans: apply it with the base.
        base = style + console.get_style(line.style) if line.style else style
        segments = Segment.apply_style(line.render(console, end=""), base)
        return Strip(segments, line.cell_len).crop_extend(0, width, style)

    def render_line(self, y: int) -> Strip:
        """Line ``y`` of the chart, built for all lines at once on the first call of a frame."""
        size = self.size
        if self._built_for != size:
            t0 = time.perf_counter()
            # The widget's style once per build: Textual computes it from CSS on every access.
            style, mono = self.rich_style, self.app.no_color
            self._strips = [
                self._strip(line, size.width, style, mono) for line in self.lines(*size)
            ]
            self._built_for = size
            self.build_cost = time.perf_counter() - t0
        return (
            self._strips[y] if y < len(self._strips) else Strip.blank(size.width, self.rich_style)
        )
