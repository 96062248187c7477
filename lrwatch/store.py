"""MetricStore: per run, per metric growable numpy columns, and min/max reduction for drawing.

Charts and rules read from here. The store is single-threaded: one thread appends and reads.

Storage. A :class:`Series` is three parallel columns (step int64, value float64, wall time
float64). Appends go to small Python lists first and are moved into the numpy columns in bulk
(every 4096 points, or on the next read), so an append costs a ``list.append``. Capacity
doubles, but pages of a large numpy array are only resident once written, so the slack costs
address space, not memory. Within a run, the metrics that arrive together in the same records
(same key set, e.g. ``loss, lr, grad_norm`` on every line) share one step column and one time
column: a 3-metric log costs 8 + 8 + 3 × 8 bytes per record instead of 3 × 24. While all the
metrics of a key set are new to the run, the group takes one tuple of values per record
(``RunData.add`` then costs a few list appends per record). A series that stops matching its
group (a record of another key set carries it, or it is appended to directly) gets its own
copy of its steps and times once and continues on its own; the rest of the group keeps
sharing.

Reduction. :meth:`Series.reduce` gives, per column of a step range, the same result as the
brute-force :func:`reduce_points` (M4: min/max of the finite values, first/last value, NaN and
Inf flags, count) but reads only O(columns) values: column edges are found by binary search
on the steps, whole blocks inside a column come from a min/max pyramid
(:mod:`lrwatch.pyramid`) that is extended lazily with the points appended since the last
reduce. A live redraw therefore costs O(columns · log n + new points).

Steps that go backwards (a run resumed from an earlier checkpoint, inferred steps, two
sources in one run) are kept in insertion order; the series is then a list of monotonic
segments. Each segment is reduced on its own over the same step columns and the results are
merged per column, which equals :func:`reduce_points` on the points stably sorted by step
(overlapping steps show both the old and the new values). Beyond 32 segments (steps that
keep jumping around) the reduction falls back to sorting: O(n log n), cached until the next
append.

Each series also keeps running min / max of its finite values, its last finite value and
its non-finite count, so headers and ``inspect`` never scan the whole series.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np

from lrwatch.columns import INITIAL_CAPACITY, Axis, grown, readonly
from lrwatch.pyramid import Pyramid
from lrwatch.records import Event, Metrics, Record
from lrwatch.reduction import (
    Reduced,
    column_parts,
    empty_reduced,
    merge_segments,
    reduce_points,
)

__all__ = ["MetricStore", "Reduced", "RunData", "Series", "reduce_points"]
#: Pending Python-list points moved into numpy at a time.
_FLUSH = 4096
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

    def __len__(self) -> int:
        ax = self._axis
        if ax.members is not None and ax.ps:
            ax.flush()  # group mode: this series' count moves on when the group flushes
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
        if len(self._pv) >= _FLUSH:
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

    def _put_values(self, values: np.ndarray) -> None:
        k, nf = len(values), self._nf
        self._values = grown(self._values, nf, nf + k)
        self._values[nf : nf + k] = values
        self._nf = nf + k
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
        self._flush()
        return self._vmin if self._vmin <= self._vmax else None

    @property
    def vmax(self) -> float | None:
        """Largest finite value, ``None`` when there is none."""
        self._flush()
        return self._vmax if self._vmin <= self._vmax else None

    @property
    def last_finite(self) -> float | None:
        """The most recent finite value, ``None`` when there is none."""
        self._flush()
        return None if math.isnan(self._last_finite) else self._last_finite

    @property
    def monotonic(self) -> bool:
        """True when steps never go backwards (one segment)."""
        return len(self._segments()) == 1

    def finite_values(self) -> np.ndarray:
        """The finite values, in order (a copy)."""
        v = self.values
        return v[np.isfinite(v)]

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

    def _sort_order(self, steps: np.ndarray) -> np.ndarray:
        if self._sorted is None or self._sorted[0] != self._n:
            self._sorted = (self._n, np.argsort(steps, kind="stable"))
        return self._sorted[1]


@dataclass
class RunData:
    """Everything read for one run: metric series, events, header and reading stats."""

    name: str
    path: str = ""
    format: str = ""
    header: dict[str, Any] | None = None
    series: dict[str, Series] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    records: int = 0
    skipped: int = 0
    steps_inferred: bool = False
    first_step: int | None = None
    last_step: int | None = None
    last_time: float | None = None
    #: Shared step/time columns per key set of the metric records (see module docstring).
    _axes: dict[tuple[str, ...], Axis] = field(default_factory=dict, init=False, repr=False)

    def metric(self, name: str) -> Series:
        """The series ``name``, created empty when absent."""
        s = self.series.get(name)
        if s is None:
            s = self.series[name] = Series(name)
        return s

    def add(self, records: Iterable[Record]) -> int:
        """Add a batch of records; returns how many were added."""
        # The ingest hot loop (millions of records): locals only, one row per record.
        n = 0
        first, last, last_t = self.first_step, self.last_step, self.last_time
        inferred = self.steps_inferred
        axes = self._axes
        cur: tuple[str, ...] | None = None
        axis: Axis | None = None
        for rec in records:
            n += 1
            if not isinstance(rec, Metrics):
                self._add_event(rec)
                last_t = self.last_time
                continue
            step, values, t = rec.step, rec.values, rec.t
            if values:
                keys = tuple(values)
                if keys != cur or axis is None:
                    axis = axes.get(keys)
                    if axis is None:
                        axis = axes[keys] = self._new_group(keys)
                    cur = keys
                if axis.members is not None and not axis.loose:
                    axis.ps.append(step)
                    axis.pt.append(t)
                    axis.rows.append(tuple(values.values()))
                    axis.n += 1
                    if len(axis.rows) >= _FLUSH:
                        axis.flush()
                else:
                    self._add_slow(axis, keys, step, values, t)
            if first is None:
                first = step
            if last is None or step > last:
                last = step
            if t is not None:
                last_t = t
            if rec.step_inferred:
                inferred = True
        self.first_step, self.last_step, self.last_time = first, last, last_t
        self.steps_inferred = inferred
        self.records += n
        return n

    def _add_slow(
        self,
        axis: Axis,
        keys: tuple[str, ...],
        step: int,
        values: dict[str, float],
        t: float | None,
    ) -> None:
        """A record whose key group is not (or no longer wholly) in group mode."""
        if axis.members is not None:
            row = tuple(values.values())
            axis.ps.append(step)
            axis.pt.append(t)
            axis.rows.append(row)
            axis.n += 1
            for j in axis.loose:  # members that left the group take their value one by one
                self.series[keys[j]].append(step, row[j], t)
            if len(axis.rows) >= _FLUSH:
                axis.flush()
        elif axis.dead:
            for key, value in values.items():
                self.metric(key).append(step, value, t)
        else:
            self._add_grouped(axis, step, values, t)

    def _new_group(self, keys: tuple[str, ...]) -> Axis:
        """Columns for a new key set; in group mode when all its metrics are new."""
        axis = Axis()
        if not any(k in self.series for k in keys):
            members = []
            for key in keys:
                s = self.series[key] = Series(key)
                s._attach(axis, 0)
                members.append(s)
            axis.members = members
        return axis

    def _add_grouped(
        self, axis: Axis, step: int, values: dict[str, float], t: float | None
    ) -> None:
        """Append one record to the series of its key group, sharing the group's step/time row."""
        row = axis.n
        axis.ps.append(step)
        axis.pt.append(t)
        axis.n = row + 1
        series = self.series
        for key, value in values.items():
            s = series.get(key)
            if s is None:
                s = series[key] = Series(key)
                s._attach(axis, row)
            elif s._axis is not axis or s._off + s._n != row:
                if s._n == 0 and s._own:
                    s._attach(axis, row)
                else:
                    s.append(step, value, t)
                    continue
            s._pv.append(value)
            s._n += 1
            if len(s._pv) >= _FLUSH:
                s._flush()
        if axis.users == 0:
            # Every series of this key set went its own way: stop keeping rows for it.
            axis.dead = True
            axis.steps = axis.times = np.empty(0, dtype=np.int64)
            axis.ps.clear()
            axis.pt.clear()

    def _add_event(self, rec: Event) -> None:
        if rec.kind == "run" and self.header is None:
            self.header = dict(rec.data)
        self.events.append(rec)
        if rec.t is not None:
            self.last_time = rec.t

    @property
    def ended(self) -> Event | None:
        """The ``end`` event when the run wrote one."""
        for ev in reversed(self.events):
            if ev.kind == "end":
                return ev
        return None


class MetricStore:
    """All runs being watched, by name."""

    def __init__(self) -> None:
        self.runs: dict[str, RunData] = {}

    def run(self, name: str, **info: Any) -> RunData:
        """The run ``name``, created (with ``info`` such as path/format) when absent."""
        r = self.runs.get(name)
        if r is None:
            r = self.runs[name] = RunData(name=name, **info)
        return r

    def add(self, name: str, records: Iterable[Record]) -> int:
        """Add records to run ``name``; returns how many were added."""
        return self.run(name).add(records)
