"""Chart widgets: a panel owns what it shows (a :class:`PanelSpec`) and draws it with the pure
:func:`~lrwatch.tui.panels.build_panel` and :func:`~lrwatch.tui.chart.render_chart`."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from lrwatch.store import MetricStore
from lrwatch.tui.chart import render_chart
from lrwatch.tui.mono import monochrome
from lrwatch.tui.panels import METRIC_PREFIX, build_panel, metric_chart
from lrwatch.tui.smooth import EmaCache
from lrwatch.tui.view import ViewState


@dataclass(frozen=True)
class PanelSpec:
    """What one panel shows: which ``chart`` of which ``runs``, seen as ``view`` says, at data
    ``version`` (the app bumps it when records arrive, so an equal spec means an equal chart)."""

    chart: str
    runs: tuple[str, ...]
    view: ViewState
    version: int = 0


class ChartPanel(Widget):
    """One chart, drawn from the store for its :attr:`spec` (set it to redraw).

    Drawn through Textual's line API from strips built once per spec (or resize): turning Rich
    text into strips directly costs ~1 ms a chart, the generic text path ~15 ms, which
    matters while records stream in and keys must still feel instant. The loss panel keeps
    its smoothed series (:class:`~lrwatch.tui.smooth.EmaCache`) between frames.
    """

    DEFAULT_CSS = """
    ChartPanel { height: 1fr; min-height: 4; }
    """

    spec: reactive[PanelSpec | None] = reactive(None, layout=False)

    def __init__(self, store: MetricStore, chart: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.store = store
        self.chart = chart
        self.ema = EmaCache()
        self._strips: list[Strip] = []
        self._built_for: Size | None = None
        self.build_cost = 0.0  #: seconds the last build took (the app paces redraws by it)

    def watch_spec(self) -> None:
        self._built_for = None  # rebuilt on the next frame (Textual repaints a changed reactive)

    def lines(self, width: int, height: int) -> list[Text]:
        """The chart as text lines at ``width`` x ``height`` (empty before any data)."""
        spec = self.spec
        if spec is None:
            return []
        # The store's lock is held while reading series: a reader thread appends under it.
        with self.store.view(spec.runs) as runs:
            chart = build_panel(spec.chart, runs, spec.view, self.ema)
            return [] if chart is None else render_chart(chart, width, height)

    def render(self) -> Text:
        """The chart at the widget's current size as one text (tests read its plain text)."""
        return Text("\n").join(self.lines(self.size.width, self.size.height))

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


def chart_panel(store: MetricStore, chart: str) -> ChartPanel:
    """A panel for ``chart``: a fixed one has the chart's name as its id; a metric panel has
    the class ``metric`` (a metric's name, ``sys/gpu0/util``, is not a valid id)."""
    if chart.startswith(METRIC_PREFIX):
        return ChartPanel(store, chart, classes="metric")
    return ChartPanel(store, chart, id=chart)


def sync_metric_panels(
    box: Widget, store: MetricStore, panels: list[ChartPanel], picked: list[str]
) -> list[ChartPanel]:
    """Mount a panel for each picked metric (in ``picked``'s order, below the fixed panels) and
    remove the panels of metrics no longer picked, without rebuilding the others.

    Returns the new panel list: the fixed panels, then the metric panels.
    """
    fixed = [p for p in panels if not p.chart.startswith(METRIC_PREFIX)]
    have = {p.chart: p for p in panels if p.chart.startswith(METRIC_PREFIX)}
    wanted = [metric_chart(m) for m in picked]
    for chart, panel in have.items():
        if chart not in wanted:
            panel.remove()
    out = list(fixed)
    for chart in wanted:
        kept = have.get(chart)
        if kept is None:
            kept = chart_panel(store, chart)
            box.mount(kept, after=out[-1] if out else None)
        out.append(kept)
    return out
