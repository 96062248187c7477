"""From one series' M4 columns to the primitives that draw it on a panel.

A column of the reduction is drawn as its four M4 points (first, the two extremes in the
order that joins them, last), so a spike inside a column and the line between columns both
show, and the cost is O(columns) whatever the number of points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrwatch.picture.axes import smooth_columns
from lrwatch.picture.primitives import Item, Mark, Panel, Path, Rect
from lrwatch.reduction import Reduced
from lrwatch.series import Series


@dataclass
class TraceSpec:
    """One line to draw on a panel, and how."""

    series: Series
    role: str  #: ``loss-raw``, ``loss``, ``val``, ``lr``, ``grad``, ``abandoned``
    colour: str
    run: str = ""
    width: float = 1.5
    opacity: float = 1.0
    dash: str = ""
    ranged: bool = True  #: takes part in the panel's y range
    primary: bool = False  #: its NaN/Inf columns and its clipped spikes are marked
    smooth: float | None = None  #: drawn as the EMA of the columns with this beta
    dots: bool = False  #: a dot on each point when they are sparse (evaluations)
    label: str = ""  #: its legend entry (empty: none)


def m4_points(red: Reduced) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per column four (step, value) points; NaN values where the column has no finite one.

    Returns ``(steps, values, finite_column)``: steps and values of length 4 × columns.
    """
    first = np.where(np.isfinite(red.first), red.first, np.nan)
    last = np.where(np.isfinite(red.last), red.last, np.nan)
    with np.errstate(invalid="ignore"):
        rising = ~(first > last)  # NaN compares False: treat as rising
    a = np.where(rising, red.ymin, red.ymax)
    b = np.where(rising, red.ymax, red.ymin)
    first = np.where(np.isfinite(first), first, a)
    last = np.where(np.isfinite(last), last, b)
    mid = (red.x0 + red.x1) / 2
    steps = np.stack([red.x0.astype(np.float64), mid, mid, red.x1.astype(np.float64)], axis=1)
    values = np.stack([first, a, b, last], axis=1)
    return steps.ravel(), values.ravel(), np.isfinite(red.ymin)


def _dedupe(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop points that repeat the one before at 0.1 px (one point per column repeats 4×);
    NaN breaks are kept."""
    if len(xs) < 2:
        return xs, ys
    rx, ry = np.round(xs, 1), np.round(ys, 1)
    same = np.r_[False, (rx[1:] == rx[:-1]) & (ry[1:] == ry[:-1])]
    return xs[~same], ys[~same]


def trace_items(spec: TraceSpec, red: Reduced, panel: Panel) -> list[Item]:
    """The path of one trace (and its dots), clipped to the panel."""
    if not len(red):
        return []
    if spec.smooth is not None:
        xs = panel.x((red.x0 + red.x1) / 2)
        ys = panel.y(smooth_columns(red, spec.smooth))
        ok = np.isfinite(ys)
        xs, ys = xs[ok], ys[ok]  # skipped columns: the smoothed line goes on across them
    else:
        steps, values, _ = m4_points(red)
        xs, ys = panel.x(steps), panel.y(values)
    ys = np.clip(ys, panel.top, panel.bottom)
    xs, ys = _dedupe(xs, ys)
    items: list[Item] = [
        Path(xs, ys, spec.colour, spec.width, spec.opacity, spec.dash, spec.role, spec.run)
    ]
    if spec.dots and 0 < len(red) * 6 <= panel.width:
        py = panel.y(red.last)
        for x, y in zip(panel.x(red.x1).tolist(), py.tolist(), strict=True):
            if np.isfinite(y) and panel.top <= y <= panel.bottom:
                items.append(Mark(x, y, "dot", spec.colour, 2.5, spec.role, spec.run))
    return items


def nan_items(red: Reduced, panel: Panel, run: str = "") -> list[Item]:
    """Where the series went non-finite: a band along the panel's bottom over each stretch of
    flagged columns, and a ``×`` where each stretch starts."""
    flagged = red.nan | red.inf
    if not flagged.any():
        return []
    edges = np.flatnonzero(np.diff(np.r_[False, flagged, False].astype(np.int8)))
    items: list[Item] = []
    for a, b in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        x0 = float(panel.x(red.x0[a]))
        x1 = max(float(panel.x(red.x1[b - 1])), x0 + 1.0)
        items.append(Rect(x0 - 1, panel.bottom - 5, x1 - x0 + 2, 5, "nan", 0.9, "nan-band"))
        items.append(Mark(x0, panel.bottom - 13, "x", "nan", 5.0, "nan", run))
    return items


def clip_items(red: Reduced, panel: Panel, colour: str, run: str = "") -> list[Item]:
    """A ``▲`` over each column whose maximum lies above the panel's range (a cut spike)."""
    with np.errstate(invalid="ignore"):
        top = panel.y(red.ymax) < panel.top - 0.5
    cols = np.flatnonzero(top)
    if len(cols) > panel.width // 4:  # a whole stretch above: one mark per 8 px is enough
        cols = cols[:: max(1, len(cols) // int(panel.width // 8 or 1))]
    xs = panel.x((red.x0[cols] + red.x1[cols]) / 2).tolist()
    return [Mark(x, panel.top + 5, "up", colour, 4.0, "clip", run) for x in xs]
