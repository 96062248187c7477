"""Series: one metric of one run — columns, running stats, incremental min/max reduction.

See :mod:`lrwatch.store` for the storage layout (shared step/time columns, group mode), for
how steps that go backwards are reduced, and for rewinds (:meth:`Series.cut_after`).
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import numpy as np

from lrwatch.columns import INITIAL_CAPACITY, Axis, grown, readonly
from lrwatch.pyramid import FANOUT, Pyramid
from lrwatch.reduction import Reduced, column_parts, empty_reduced, merge_segments, reduce_points

#: Pending Python-list points moved into numpy at a time.
FLUSH_EVERY = 4096
_FANOUT_BITS = FANOUT.bit_length() - 1
#: Monotonic segments reduced one by one; more than this and reduce() sorts instead.
_MAX_SEGMENTS = 32


class Series:
    """One metric of one run: parallel step / value / wall-time columns."""

    __slots__ = (
        "_axis",
        "_last_finite",
        "_n",
        "_nf",
        "_nonfinite",
        "_off",
        "_own",
        "_pv",
        "_pyramid",
        "_sorted",
        "_stale",
        "_values",
        "_vmax",
        "_vmin",
        "name",
    )

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._axis = Axis()
        self._own = True  # False while the axis is shared with a run's key group
        self._off = 0  # row of this series' first point in the axis
        self._n = 0  # points, pending included
        self._nf = 0  # points in the numpy value column
        self._values = np.empty(INITIAL_CAPACITY, dtype=np.float64)
        self._pv: list[float] = []
        self._nonfinite = 0
        self._vmin = math.inf
        self._vmax = -math.inf
        self._last_finite = math.nan
        self._pyramid: Pyramid | None = None
        self._sorted: tuple[int, np.ndarray] | None = None
        self._stale = False  # min/max need a rescan: a rewind cut off the extreme values

    def __len__(self) -> int:
        """Points, pending ones included; changes nothing (a reader may call it unlocked)."""
        ax = self._axis
        if ax.rows and ax.members is not None and any(m is self for m in ax.members):
            # Group mode: each pending row of the group holds a value of every member.
            return self._n + len(ax.rows)
        return self._n

    # -- appending -------------------------------------------------------------------------

    def append(self, step: int, value: float, t: float | None = None) -> None:
        """Append one point (O(1) amortized)."""
        if not self._own:
            self._detach()
        ax = self._axis
        ax.ps.append(step)
        ax.pt.append(t)
        ax.n += 1
        self._pv.append(value)
        self._n += 1
        if len(self._pv) >= FLUSH_EVERY:
            self._flush()

    def extend(self, steps: Any, values: Any, times: Any = None) -> None:
        """Append many points at once from array-likes of equal length."""
        steps = np.asarray(steps, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        if len(steps) == 0:
            return
        if not self._own:
            self._detach()
        self._flush()
        ts = math.nan if times is None else np.asarray(times, dtype=np.float64)
        self._axis.put(steps, ts)
        self._put_values(values)
        self._n = self._nf

    def _attach(self, axis: Axis, row: int) -> None:
        """Share ``axis`` (a run's key group) from ``row`` on; the series must be empty."""
        self._axis, self._off, self._own = axis, row, False
        axis.users += 1

    def _detach(self) -> None:
        """Take a private copy of this series' rows of a shared axis."""
        shared = self._axis
        shared.flush()
        shared.release(self)
        off, n = self._off, self._n
        own = Axis(max(INITIAL_CAPACITY, n + n // 2))
        own.steps[:n] = shared.steps[off : off + n]
        own.times[:n] = shared.times[off : off + n]
        own.breaks = [r - off for r in shared.breaks if off < r < off + n]
        own.nf = own.n = n
        shared.users -= 1
        self._axis, self._off, self._own = own, 0, True

    def _flush(self) -> None:
        """Move pending points into the numpy columns and update the running stats."""
        self._axis.flush()
        if self._pv:
            values = np.array(self._pv, dtype=np.float64)
            self._pv.clear()
            self._put_values(values)

    def _take_values(self, values: np.ndarray) -> None:
        """Bulk values from this series' group (its axis rows were added already)."""
        self._put_values(values)
        self._n = self._nf

    @classmethod
    def adopt(cls, name: str, steps: np.ndarray, values: np.ndarray) -> Series:
        """A series made of ``steps`` and ``values`` themselves, without wall times.

        The arrays (int64 and float64, equal lengths) are handed over, not copied: for a
        derived series built whole (the smoothed loss of a 10M-point log) the copies cost as
        much as computing it, most of it in first-touch page faults. Appends work as usual
        (the first one reallocates).
        """
        s = cls(name)
        ax, n = s._axis, len(steps)
        ax.steps = steps
        # Zero-strided and read-only: grown() reallocates before any append writes to it.
        ax.times = np.broadcast_to(np.float64(math.nan), (n,))
        ax.breaks = (np.flatnonzero(steps[1:] < steps[:-1]) + 1).tolist()
        ax.nf = ax.n = n
        s._values, s._nf, s._n = values, n, n
        s._note_values(values)
        return s

    def _put_values(self, values: np.ndarray) -> None:
        k, nf = len(values), self._nf
        self._values = grown(self._values, nf, nf + k)
        self._values[nf : nf + k] = values
        self._nf = nf + k
        self._note_values(values)

    def _note_values(self, values: np.ndarray) -> None:
        """Update the running stats with newly stored ``values``."""
        k = len(values)
        finite = np.isfinite(values)
        nfin = int(np.count_nonzero(finite))
        self._nonfinite += k - nfin
        if nfin:
            fv = values[finite] if nfin < k else values
            self._vmin = min(self._vmin, float(fv.min()))
            self._vmax = max(self._vmax, float(fv.max()))
            self._last_finite = float(fv[-1])

    # -- reading ---------------------------------------------------------------------------

    @property
    def steps(self) -> np.ndarray:
        """Steps (a read-only view; valid until the next append)."""
        self._flush()
        return readonly(self._axis.steps[self._off : self._off + self._n])

    @property
    def values(self) -> np.ndarray:
        """Values (a read-only view; valid until the next append)."""
        self._flush()
        return readonly(self._values[: self._n])

    @property
    def times(self) -> np.ndarray:
        """Wall times, NaN where unknown (a read-only view; valid until the next append)."""
        self._flush()
        return readonly(self._axis.times[self._off : self._off + self._n])

    @property
    def nonfinite(self) -> int:
        """How many values are NaN or +/-inf."""
        self._flush()
        return self._nonfinite

    @property
    def vmin(self) -> float | None:
        """Smallest finite value (the best loss so far), ``None`` when there is none."""
        self._fresh()
        return self._vmin if self._vmin <= self._vmax else None

    @property
    def vmax(self) -> float | None:
        """Largest finite value, ``None`` when there is none."""
        self._fresh()
        return self._vmax if self._vmin <= self._vmax else None

    @property
    def last_finite(self) -> float | None:
        """The most recent finite value, ``None`` when there is none."""
        self._flush()
        return None if math.isnan(self._last_finite) else self._last_finite

    @property
    def monotonic(self) -> bool:
        """True when steps never go backwards (one segment)."""
        return len(self._segments()) == 2  # [0, n]: one segment

    def finite_values(self) -> np.ndarray:
        """The finite values, in order (a copy)."""
        v = self.values
        finite: np.ndarray = v[np.isfinite(v)]
        return finite

    def summary(self) -> dict[str, float | int | None]:
        """count / first / last / min / max (finite) / nonfinite / last_finite, for ``inspect``."""
        v = self.values
        n = self._n
        return {
            "count": n,
            "first": float(v[0]) if n else None,
            "last": float(v[-1]) if n else None,
            "min": self.vmin,
            "max": self.vmax,
            "nonfinite": self._nonfinite,
            "last_finite": self.last_finite,
        }

    def _segments(self) -> list[int]:
        """Start index of each monotonic run of steps, then ``len(self)``."""
        self._flush()
        off, n = self._off, self._n
        inner = [r - off for r in self._axis.breaks if off < r < off + n]
        return [0, *inner, n]

    def reduce(self, columns: int, lo: int | None = None, hi: int | None = None) -> Reduced:
        """Min/max/first/last per column over steps in [lo, hi], at most ``columns`` columns.

        Columns split the step range evenly, so several series reduced over the same range
        line up column for column. Equal to :func:`reduce_points` on the points stably sorted
        by step, in O(columns · log n + points appended since the last reduce).
        """
        bounds = self._segments()
        n = self._n
        if n == 0 or columns <= 0:
            return empty_reduced()
        steps = self._axis.steps[self._off : self._off + n]
        values = self._values[:n]
        if len(bounds) - 1 > _MAX_SEGMENTS:
            order = self._sort_order(steps)
            return reduce_points(steps[order], values[order], columns, lo, hi)
        lo = int(min(steps[bounds[:-1]])) if lo is None else int(lo)
        hi = int(max(steps[np.asarray(bounds[1:]) - 1])) if hi is None else int(hi)
        if hi < lo:
            return empty_reduced()
        span = hi - lo + 1
        edges = lo + (np.arange(columns + 1, dtype=np.int64) * span + columns - 1) // columns
        idx = np.stack([s0 + np.searchsorted(steps[s0:s1], edges) for s0, s1 in pairwise(bounds)])
        a, e = idx[:, :-1], idx[:, 1:]
        if self._pyramid is None:
            self._pyramid = Pyramid()
        mn, mx, fl = self._pyramid.query(values, a.ravel(), e.ravel())
        parts = column_parts(steps, values, a, e, mn, mx, fl)
        return merge_segments(*parts)

    # -- rewinds ----------------------------------------------------------------------------

    def keep_count(self, to_step: int) -> int:
        """How many points a rewind to ``to_step`` keeps: all but the longest suffix whose
        steps are all above ``to_step`` (O(segments · log n), one search per segment)."""
        bounds = self._segments()
        steps = self._axis.steps[self._off : self._off + self._n]
        for s0, s1 in reversed(list(pairwise(bounds))):
            pos = s0 + int(np.searchsorted(steps[s0:s1], to_step, side="right"))
            if pos > s0:
                return pos
        return 0

    def tail(self, k: int) -> Series:
        """A new series holding a copy of the points from index ``k`` on (wall times too)."""
        self._flush()
        out = Series(self.name)
        off, n = self._off, self._n
        if k < n:
            out.extend(
                self._axis.steps[off + k : off + n].copy(),
                self._values[k:n].copy(),
                self._axis.times[off + k : off + n].copy(),
            )
        return out

    def cut_after(self, to_step: int) -> Series | None:
        """Rewind: remove the points after ``to_step`` (see :meth:`keep_count`) and return
        them as a new series (None when there are none). O(points removed), plus a rescan
        of the rest on the next read of :attr:`vmin` / :attr:`vmax` when the extremes were
        among them. A series sharing its rows with a key group takes its own copy first (a
        whole group is cut at once by :func:`lrwatch.branches.cut_branch` instead)."""
        k = self.keep_count(to_step)
        if k >= self._n:
            return None
        removed = self.tail(k)
        if not self._own:
            self._detach()
        cut_axis(self._axis, k)
        self._truncate(k)
        return removed

    def _truncate(self, k: int) -> None:
        """Keep the first ``k`` points of the value column (its axis rows were cut already);
        bring the running stats and the pyramid down to them."""
        self._flush()
        gone = self._values[k : self._n]
        bad = int(np.count_nonzero(~np.isfinite(gone)))
        self._nonfinite -= bad
        if bad < len(gone):  # finite values left: the extremes and the last may be among them
            fv = gone[np.isfinite(gone)]
            if float(fv.min()) <= self._vmin or float(fv.max()) >= self._vmax:
                self._stale = True
            self._last_finite = _last_finite(self._values, k)
        self._nf = self._n = k
        self._sorted = None
        if self._pyramid is not None:
            cut_pyramid(self._pyramid, k)

    def _fresh(self) -> None:
        """Flush, and rescan min/max when a rewind cut off an extreme value."""
        self._flush()
        if self._stale:
            self._stale = False
            v = self._values[: self._n]
            fv = v[np.isfinite(v)]
            self._vmin = float(fv.min()) if len(fv) else math.inf
            self._vmax = float(fv.max()) if len(fv) else -math.inf

    def _sort_order(self, steps: np.ndarray) -> np.ndarray:
        if self._sorted is None or self._sorted[0] != self._n:
            self._sorted = (self._n, np.argsort(steps, kind="stable"))
        return self._sorted[1]


def cut_axis(axis: Axis, k: int) -> None:
    """Keep the first ``k`` rows of ``axis`` (flushed): a rewind cuts its steps off."""
    axis.flush()
    axis.nf = axis.n = k
    axis.breaks = [r for r in axis.breaks if r < k]


def cut_pyramid(pyramid: Pyramid, k: int) -> None:
    """Keep the summaries of the complete blocks of the first ``k`` values: exact, since an
    entry only ever summarises whole blocks (level ``d`` covers blocks of 64**(d+1))."""
    for depth, level in enumerate(pyramid.levels):
        level.n = min(level.n, k >> (_FANOUT_BITS * (depth + 1)))


def _last_finite(values: np.ndarray, k: int) -> float:
    """The last finite value among ``values[:k]`` (NaN when none), scanning back in chunks."""
    end = k
    while end > 0:
        start = max(0, end - 4096)
        chunk = values[start:end]
        idx = np.flatnonzero(np.isfinite(chunk))
        if len(idx):
            return float(chunk[idx[-1]])
        end = start
    return math.nan
