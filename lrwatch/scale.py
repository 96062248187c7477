"""Axis maths for every chart, the terminal's and the pictures': robust y-ranges from
per-column extremes, nice ticks, and compact tick and step labels. Pure, no UI."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from lrwatch.numfmt import fmt_num


def fmt_lr(x: float) -> str:
    """An LR with three significant digits (``2.99e-3``): a cosine decay shows in the header."""
    return fmt_num(x, width=9, digits=2)


def _sig(x: float, k: int) -> str:
    """``x`` with ``k`` significant digits, exponent written short (``2.99e-3``)."""
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-2):  # exponent form, as fmt_num does
        mant, exp = f"{x:.{k - 1}e}".split("e")
        return f"{mant}e{int(exp)}"
    return f"{x:.{k}g}"


def fmt_distinct(values: Sequence[float], width: int = 7) -> list[str]:
    """Labels for ``values`` (axis ticks), with as many digits as it takes not to repeat."""
    labels = [fmt_num(v, width) for v in values]
    for k in range(2, 7):
        if len(set(labels)) == len(labels):
            break
        more = [_sig(v, k) if math.isfinite(v) else fmt_num(v) for v in values]
        if any(len(m) > width for m in more):
            break
        if len(set(more)) > len(set(labels)):
            labels = more
    return labels


def fmt_step(step: float) -> str:
    """A step count as ``950``, ``12k``, ``1.5M``."""
    s = abs(step)
    if s >= 1e6:
        v, suffix = step / 1e6, "M"
    elif s >= 1e4:
        v, suffix = step / 1e3, "k"
    else:
        return f"{step:.0f}"
    txt = f"{v:.1f}".rstrip("0").rstrip(".")
    return txt + suffix


def nice_ticks(lo: float, hi: float, max_ticks: int) -> list[float]:
    """Ticks at 1/2/5 x 10^k inside [lo, hi], at most ``max_ticks`` of them."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or max_ticks < 1:
        return []
    raw = (hi - lo) / max(max_ticks, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 5, 10):
        step = mult * mag
        if (hi - lo) / step <= max_ticks:
            break
    first = math.ceil(lo / step - 1e-9) * step
    ticks: list[float] = []
    t = first
    while t <= hi + step * 1e-9 and len(ticks) < max_ticks + 1:
        ticks.append(round(t, 12))
        t += step
    return ticks


def log_ticks(lo: float, hi: float, max_ticks: int) -> list[float]:
    """Ticks for a log10 axis, given and returned in log space: decades, else 1/2/5 x 10^k."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo or max_ticks < 1:
        return []
    decades = [float(k) for k in range(math.ceil(lo - 1e-9), math.floor(hi + 1e-9) + 1)]
    if len(decades) >= 2:
        stride = max(1, math.ceil(len(decades) / max_ticks))
        return decades[::stride]
    cands = [
        math.log10(m) + k
        for k in range(math.floor(lo) - 1, math.ceil(hi) + 1)
        for m in (1, 2, 5)
        if lo - 1e-9 <= math.log10(m) + k <= hi + 1e-9
    ]
    if len(cands) <= max_ticks:
        return cands
    stride = math.ceil(len(cands) / max_ticks)
    return cands[::stride]


def robust_extremes(
    mins: Sequence[np.ndarray], maxs: Sequence[np.ndarray], q: float = 0.02
) -> tuple[float, float] | None:
    """The data range :func:`robust_range` keeps, before padding (None: no finite value).

    Takes the ``q`` / ``1-q`` quantiles of the column extremes; the true extreme is kept when
    it lies close to that (so ordinary curves are not clipped), otherwise it is cut off and
    the chart marks the clipped columns. Costs O(columns), not O(points).
    """
    lo_all = np.concatenate([m[np.isfinite(m)] for m in mins] or [np.empty(0)])
    hi_all = np.concatenate([m[np.isfinite(m)] for m in maxs] or [np.empty(0)])
    if len(lo_all) == 0 or len(hi_all) == 0:
        return None
    if len(lo_all) < 20:  # too few columns for quantiles to mean anything
        return float(lo_all.min()), float(hi_all.max())
    lo = float(np.quantile(lo_all, q))
    hi = float(np.quantile(hi_all, 1 - q))
    span = max(hi - lo, abs(hi) * 1e-9, 1e-300)
    # Keep every column extreme near the quantile range; only far outliers are cut.
    lo = float(lo_all[lo_all >= lo - 0.5 * span].min())
    hi = float(hi_all[hi_all <= hi + 0.5 * span].max())
    return lo, hi


def robust_range(
    mins: Sequence[np.ndarray], maxs: Sequence[np.ndarray], q: float = 0.02
) -> tuple[float, float] | None:
    """A y-range from per-column minima/maxima that one outlier cannot squash: the
    :func:`robust_extremes`, padded by 4% (or 5% of the value when they are one value)."""
    kept = robust_extremes(mins, maxs, q)
    if kept is None:
        return None
    lo, hi = kept
    if hi <= lo:
        pad = abs(lo) * 0.05 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


#: A positive series whose drawn range spans more decades than this is drawn log-y (auto).
AUTO_LOG_DECADES = 3.0


def spans_decades(
    mins: Sequence[np.ndarray],
    maxs: Sequence[np.ndarray],
    decades: float = AUTO_LOG_DECADES,
    q: float = 0.02,
) -> bool:
    """Whether a linear axis would squash these columns: every finite value is positive and
    the range a linear chart would draw (:func:`robust_extremes`) spans more than ``decades``.

    After a 1e15 excursion and a recovery the linear axis shows a flat line at 0; on a log
    axis both the excursion and the recovery read. A lone spike that the robust range cuts
    anyway does not count: the linear chart already shows the rest well.
    """
    if any(np.any(m[np.isfinite(m)] <= 0) for m in mins):
        return False
    kept = robust_extremes(mins, maxs, q)
    if kept is None or kept[0] <= 0:
        return False
    return bool(np.log10(kept[1]) - np.log10(kept[0]) > decades)
