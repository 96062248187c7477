"""M4 min/max reduction results: the brute-force reference and the merge of segment columns.

:func:`reduce_points` reduces sorted (step, value) arrays to step columns directly, in
O(points). :class:`lrwatch.store.Series` gets the same result from its min/max pyramid and
builds it with :func:`column_parts` and :func:`merge_segments`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lrwatch.pyramid import FLAG_INF, FLAG_NAN


@dataclass(slots=True)
class Reduced:
    """A series reduced to at most N columns over a step range (all arrays of equal length)."""

    x0: np.ndarray  #: first step in the column
    x1: np.ndarray  #: last step in the column
    ymin: np.ndarray  #: min of the finite values (NaN when the column has none)
    ymax: np.ndarray  #: max of the finite values (NaN when the column has none)
    first: np.ndarray  #: first value in the column (may be non-finite)
    last: np.ndarray  #: last value in the column (may be non-finite)
    nan: np.ndarray  #: bool: a NaN fell in the column
    inf: np.ndarray  #: bool: a +/-inf fell in the column
    count: np.ndarray  #: points in the column

    def __len__(self) -> int:
        return len(self.x0)


def column_parts(
    steps: np.ndarray,
    values: np.ndarray,
    a: np.ndarray,
    e: np.ndarray,
    mn: np.ndarray,
    mx: np.ndarray,
    fl: np.ndarray,
) -> tuple[np.ndarray, ...]:
    """Per segment × column: x0, x1, first, last, min, max, flags, count (shape (S, C))."""
    n = len(values)
    ia = np.minimum(a, n - 1)
    ie = np.maximum(e - 1, 0)
    shape = a.shape
    return (
        steps[ia],
        steps[ie],
        values[ia],
        values[ie],
        mn.reshape(shape),
        mx.reshape(shape),
        fl.reshape(shape),
        e - a,
    )


def merge_segments(
    x0: np.ndarray,
    x1: np.ndarray,
    first: np.ndarray,
    last: np.ndarray,
    mn: np.ndarray,
    mx: np.ndarray,
    fl: np.ndarray,
    count: np.ndarray,
) -> Reduced:
    """Merge per-segment columns into one Reduced, as if the points were sorted by step."""
    seg, cols = count.shape
    ok = count > 0
    if seg == 1:
        keep = ok[0]
        x0, x1, first, last = x0[0][keep], x1[0][keep], first[0][keep], last[0][keep]
        mn, mx, fl, count = mn[0][keep], mx[0][keep], fl[0][keep], count[0][keep]
    else:
        keep = ok.any(axis=0)
        col = np.arange(cols)
        # First point: smallest step, the earliest segment on ties (a stable sort's order).
        x0m = np.where(ok, x0, np.iinfo(np.int64).max)
        j0 = np.argmin(x0m, axis=0)
        # Last point: largest step, the latest segment on ties.
        x1m = np.where(ok, x1, np.iinfo(np.int64).min)
        j1 = seg - 1 - np.argmax(x1m[::-1], axis=0)
        x0, first = x0[j0, col][keep], first[j0, col][keep]
        x1, last = x1[j1, col][keep], last[j1, col][keep]
        mn, mx = mn.min(axis=0)[keep], mx.max(axis=0)[keep]
        fl = np.bitwise_or.reduce(fl, axis=0)[keep]
        count = count.sum(axis=0)[keep]
    mn[np.isposinf(mn)] = np.nan
    mx[np.isneginf(mx)] = np.nan
    return Reduced(
        x0=x0,
        x1=x1,
        ymin=mn,
        ymax=mx,
        first=first,
        last=last,
        nan=(fl & FLAG_NAN) != 0,
        inf=(fl & FLAG_INF) != 0,
        count=count.astype(np.int64),
    )


def reduce_points(
    steps: np.ndarray,
    values: np.ndarray,
    columns: int,
    lo: int | None = None,
    hi: int | None = None,
) -> Reduced:
    """M4 reduction of (steps, values) sorted by step to at most ``columns`` step buckets.

    The brute-force reference for :meth:`Series.reduce`: O(points in range).
    """
    if len(steps) == 0 or columns <= 0:
        return empty_reduced()
    lo = int(steps[0]) if lo is None else lo
    hi = int(steps[-1]) if hi is None else hi
    i0 = int(np.searchsorted(steps, lo, side="left"))
    i1 = int(np.searchsorted(steps, hi, side="right"))
    s, v = steps[i0:i1], values[i0:i1]
    if len(s) == 0:
        return empty_reduced()
    span = max(hi - lo + 1, 1)
    bucket = ((s - lo) * columns // span).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], len(s)] - 1
    finite = np.isfinite(v)
    vmin = np.where(finite, v, np.inf)
    vmax = np.where(finite, v, -np.inf)
    ymin = np.minimum.reduceat(vmin, starts)
    ymax = np.maximum.reduceat(vmax, starts)
    ymin[np.isinf(ymin) & (ymin > 0)] = np.nan
    ymax[np.isinf(ymax) & (ymax < 0)] = np.nan
    isnan = np.isnan(v)
    isinf = np.isinf(v)
    return Reduced(
        x0=s[starts],
        x1=s[ends],
        ymin=ymin,
        ymax=ymax,
        first=v[starts],
        last=v[ends],
        nan=np.logical_or.reduceat(isnan, starts),
        inf=np.logical_or.reduceat(isinf, starts),
        count=ends - starts + 1,
    )


def empty_reduced() -> Reduced:
    f = np.empty(0, dtype=np.float64)
    i = np.empty(0, dtype=np.int64)
    b = np.empty(0, dtype=bool)
    return Reduced(i, i, f, f, f, f, b, b, i)
