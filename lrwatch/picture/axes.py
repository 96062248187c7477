"""Axis maths of the pictures on top of :mod:`lrwatch.scale` (the terminal chart's own):
the drawn space of a log axis, the y range's padding, tick labels with room for more digits,
and the smoothed line.

Everything here works on the M4 columns (:class:`lrwatch.reduction.Reduced`), so a range or a
smoothed line costs O(columns), never O(points).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lrwatch.numfmt import fmt_num
from lrwatch.reduction import Reduced
from lrwatch.scale import robust_extremes


def to_drawn(values: np.ndarray, log: bool) -> np.ndarray:
    """Values in drawn space: log10 on a log axis (NaN for values ≤ 0 there)."""
    if not log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def value_range(
    mins: Sequence[np.ndarray], maxs: Sequence[np.ndarray], q: float = 0.02
) -> tuple[float, float] | None:
    """:func:`lrwatch.scale.robust_extremes` (``q`` 0: the plain extremes), padded by 5%
    (or 5% of the value when they are one value); None when no value is finite."""
    kept = robust_extremes(mins, maxs, max(q, 0.0))
    if kept is None:
        return None
    lo, hi = kept
    pad = (hi - lo) * 0.05 if hi > lo else abs(lo) * 0.05 or 1.0
    return lo - pad, hi + pad


def tick_labels(values: Sequence[float]) -> list[str]:
    """Compact labels (:func:`lrwatch.numfmt.fmt_num`), with more digits until they differ."""
    for digits in (1, 2, 3):
        labels = [fmt_num(v, width=9, digits=digits) for v in values]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{v:.4g}" for v in values]


def column_value(red: Reduced) -> np.ndarray:
    """One value per column: the mean of its first and last point (the middle two of the four
    M4 values, which a spike inside the column does not move); the finite extremes' midpoint
    when either end is not finite; NaN when the column has no finite value."""
    ends = (red.first + red.last) / 2
    mid = (red.ymin + red.ymax) / 2
    with np.errstate(invalid="ignore"):
        out: np.ndarray = np.where(np.isfinite(ends), ends, mid)
    return out


def smooth_columns(red: Reduced, beta: float) -> np.ndarray:
    """A debiased EMA over the columns, each weighted as the ``count`` points it stands for.

    A column of ``c`` points moves the average as ``c`` equal points would: its decay is
    ``beta**c``. With one point per column this is the UI's per-point EMA exactly; with many
    it is that EMA of the columns' values (:func:`column_value`), at O(columns). NaN where a
    column has no finite value (it is skipped, as the UI skips NaN points).
    """
    values = column_value(red)
    if beta <= 0:
        return values
    out = np.full(len(values), np.nan)
    decay = np.power(beta, red.count.astype(np.float64))
    m = norm = 0.0
    for i, v in enumerate(values.tolist()):
        if not math.isfinite(v):
            continue
        w = float(decay[i])
        m = w * m + (1 - w) * v
        norm = w * norm + (1 - w)
        out[i] = m / norm if norm > 0 else v
    return out
