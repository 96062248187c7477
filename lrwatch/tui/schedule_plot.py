"""The schedule preview as lines of Rich ``Text`` (pure): as-is dim, will-be bright.

Drawn with the charts' own braille renderer (:func:`lrwatch.tui.chart.render_chart`), steps on
x, log-y when the two curves together span more than 10×. Widgets call
:func:`preview_lines`; tests call it directly.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text

from lrwatch.series import Series
from lrwatch.session.commands import Command
from lrwatch.session.preview import Curves, Forecast, preview, scale_span
from lrwatch.tui.chart import ChartSpec, Trace, render_chart

#: Cells the preview takes by default: ~50 plot columns after the y labels, 8 plot rows.
WIDTH, HEIGHT = 60, 10
ASKING = "asking the run for its schedule…"
AS_IS_STYLE, WILL_BE_STYLE = "dim", "bold cyan"
#: Past this max/min ratio the y axis is logarithmic.
LOG_SPAN = 10.0


def _series(name: str, steps: list[int], values: list[float]) -> Series:
    return Series.adopt(
        name, np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)
    )


def chart_lines(curves: Curves, width: int = WIDTH, height: int = HEIGHT) -> list[Text]:
    """The two curves on one chart: title and legend, plot rows, the step axis."""
    steps = curves.steps
    title = "LR schedule" + (f", group {curves.group}" if curves.group else "")
    spec = ChartSpec(
        title,
        [
            Trace(_series("as is", steps, curves.as_is), AS_IS_STYLE, "as is", marks=False),
            Trace(
                _series("will be", steps, curves.will_be), WILL_BE_STYLE, curves.label, marks=False
            ),
        ],
        steps[0],
        steps[-1],
        log_y=scale_span([*curves.as_is, *curves.will_be]) > LOG_SPAN,
        full_range=True,  # an LR is set, not measured: no outlier cut
        empty_note="no LR to draw",
    )
    return render_chart(spec, width, height)


def preview_lines(
    forecast: Forecast | str | None,
    command: Command,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> list[Text]:
    """What the preview shows: ``None`` while the run is asked, a note (``str``) when it
    cannot say, else the chart and, when the forecast is not exact, why."""
    if forecast is None:
        return [Text(ASKING, style="dim italic")]
    if isinstance(forecast, str):
        return [Text(forecast, style="italic")]
    curves = preview(forecast, command)
    if curves is None:
        return [Text(f"no preview: {forecast.why or 'no such param group'}", style="italic")]
    lines = chart_lines(curves, width, height - 1 if curves.note else height)
    if curves.note:
        lines.append(Text(f"⚠ {curves.note}", style="yellow"))
    return lines
