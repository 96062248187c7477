"""Chart widgets: thin wrappers that draw a :class:`ChartSpec` with :func:`render_chart`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.widget import Widget

from lrwatch.tui.chart import ChartSpec, render_chart


class ChartPanel(Widget):
    """One chart; ``source`` builds its spec from the store when the panel is drawn."""

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

    def render(self) -> Text:
        """Draw the chart at the widget's current size (O(width x height))."""
        with self.lock:
            spec = self.source()
            if spec is None:
                return Text("")
            lines = render_chart(spec, self.size.width, self.size.height)
        return Text("\n").join(lines)
