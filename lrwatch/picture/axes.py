"""Axis maths of the pictures: y ranges from reduced columns, ticks and their labels.

Everything here works on the M4 columns (:class:`lrwatch.reduction.Reduced`), so a range or a
smoothed line costs O(columns), never O(points). The terminal chart has its own cell-based
versions in ``lrwatch.tui.scale``; the picture may not import the UI layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lrwatch.numfmt import fmt_num
from lrwatch.reduction import Reduced

#: A positive series whose range spans more decades than this is drawn on a log axis.
AUTO_LOG_DECADES = 3.0


def to_drawn(values: np.ndarray, log: bool) -> np.ndarray:
    """Values in drawn space: log10 on a log axis (NaN for values ≤ 0 there)."""
    if not log:
        return values
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, np.log10(np.where(values > 0, values, 1.0)), np.nan)


def value_range(
    mins: Sequence[np.ndarray], maxs: Sequence[np.ndarray], q: float = 0.02
) -> tuple[float, float] | None:
    """A padded range of the columns' extremes that one far outlier cannot squash.

    The ``q``/``1-q`` quantiles of the column minima/maxima, widened to every extreme within
    half a span of them (as the terminal chart does); None when no value is finite.
    """
    lows = np.concatenate([m[np.isfinite(m)] for m in mins] or [np.empty(0)])
    highs = np.concatenate([m[np.isfinite(m)] for m in maxs] or [np.empty(0)])
    if not len(lows) or not len(highs):
        return None
    if len(lows) < 20 or q <= 0:
        lo, hi = float(lows.min()), float(highs.max())
    else:
        lo, hi = float(np.quantile(lows, q)), float(np.quantile(highs, 1 - q))
        span = max(hi - lo, abs(hi) * 1e-9, 1e-300)
        lo = float(lows[lows >= lo - 0.5 * span].min())
        hi = float(highs[highs <= hi + 0.5 * span].max())
    if hi <= lo:
        pad = abs(lo) * 0.05 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def wants_log(mins: Sequence[np.ndarray], maxs: Sequence[np.ndarray]) -> bool:
    """Every finite value is positive and they span more than :data:`AUTO_LOG_DECADES`."""
    lows = np.concatenate([m[np.isfinite(m)] for m in mins] or [np.empty(0)])
    highs = np.concatenate([m[np.isfinite(m)] for m in maxs] or [np.empty(0)])
    if not len(lows) or lows.min() <= 0:
        return False
    return bool(math.log10(highs.max()) - math.log10(lows.min()) > AUTO_LOG_DECADES)


def nice_ticks(lo: float, hi: float, most: int) -> list[float]:
    """Ticks at 1/2/5 × 10^k inside [lo, hi], at most ``most`` + 1 of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or most < 1:
        return []
    raw = (hi - lo) / most
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if (hi - lo) / (m * mag) <= most)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 12) for k in range(first, first + most + 2) if k * step <= hi + 1e-9]


def log_ticks(lo: float, hi: float, most: int) -> list[float]:
    """Ticks of a log10 axis, in log space: whole decades, or 1/2/5 × 10^k inside one."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or most < 1:
        return []
    decades = [float(k) for k in range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)]
    if len(decades) >= 2:
        return decades[:: max(1, math.ceil(len(decades) / most))]
    found = [
        math.log10(m) + k
        for k in range(math.floor(lo) - 1, math.ceil(hi) + 1)
        for m in (1, 2, 5)
        if lo - 1e-9 <= math.log10(m) + k <= hi + 1e-9
    ]
    return found[:: max(1, math.ceil(len(found) / most))]


def tick_labels(values: Sequence[float]) -> list[str]:
    """Compact labels (:func:`lrwatch.numfmt.fmt_num`), with more digits until they differ."""
    for digits in (1, 2, 3):
        labels = [fmt_num(v, width=9, digits=digits) for v in values]
        if len(set(labels)) == len(labels):
            return labels
    return [f"{v:.4g}" for v in values]


def step_label(step: float) -> str:
    """A step as ``950``, ``12k``, ``1.5M``."""
    for size, suffix in ((1e6, "M"), (1e4, "k")):
        if abs(step) >= size:
            return f"{step / size:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{step:.0f}"


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
    out = np.full(len(values), np.nan)
    if beta <= 0:
        return values.copy()
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
