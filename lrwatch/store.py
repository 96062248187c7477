"""MetricStore: per run, per metric growable numpy columns, and min/max reduction for drawing.

Charts and rules read from here. Appends are O(1) amortized (capacity doubles); the reduction
of any step range to N columns keeps, per column, the min, max, first and last value and
whether a NaN or an infinity fell in it, so spikes and non-finite points stay visible however
many points a column covers (M4 aggregation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrwatch.records import Event, Metrics, Record

_INITIAL_CAPACITY = 256


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


class Series:
    """One metric of one run: parallel step / value / wall-time columns."""

    __slots__ = ("_n", "_steps", "_times", "_values", "name", "nonfinite")

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._n = 0
        self._steps = np.empty(_INITIAL_CAPACITY, dtype=np.int64)
        self._values = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self._times = np.empty(_INITIAL_CAPACITY, dtype=np.float64)
        self.nonfinite = 0

    def __len__(self) -> int:
        return self._n

    def _grow(self, need: int) -> None:
        cap = len(self._steps)
        if need <= cap:
            return
        while cap < need:
            cap *= 2
        for attr in ("_steps", "_values", "_times"):
            old = getattr(self, attr)
            new = np.empty(cap, dtype=old.dtype)
            new[: self._n] = old[: self._n]
            setattr(self, attr, new)

    def append(self, step: int, value: float, t: float | None = None) -> None:
        """Append one point (O(1) amortized)."""
        n = self._n
        if n == len(self._steps):
            self._grow(n + 1)
        self._steps[n] = step
        self._values[n] = value
        self._times[n] = math.nan if t is None else t
        if not math.isfinite(value):
            self.nonfinite += 1
        self._n = n + 1

    def extend(self, steps: Any, values: Any, times: Any = None) -> None:
        """Append many points at once from array-likes of equal length."""
        steps = np.asarray(steps, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        k = len(steps)
        if k == 0:
            return
        self._grow(self._n + k)
        sl = slice(self._n, self._n + k)
        self._steps[sl] = steps
        self._values[sl] = values
        self._times[sl] = math.nan if times is None else np.asarray(times, dtype=np.float64)
        self.nonfinite += int(k - np.count_nonzero(np.isfinite(values)))
        self._n += k

    @property
    def steps(self) -> np.ndarray:
        """Steps (a read-only view; valid until the next append)."""
        return self._steps[: self._n]

    @property
    def values(self) -> np.ndarray:
        """Values (a read-only view; valid until the next append)."""
        return self._values[: self._n]

    @property
    def times(self) -> np.ndarray:
        """Wall times, NaN where unknown (a view; valid until the next append)."""
        return self._times[: self._n]

    def finite_values(self) -> np.ndarray:
        v = self.values
        return v[np.isfinite(v)]

    def summary(self) -> dict[str, float | int | None]:
        """count / first / last / min / max (finite) / nonfinite, as used by ``inspect``."""
        v = self.values
        fin = self.finite_values()
        return {
            "count": self._n,
            "first": float(v[0]) if self._n else None,
            "last": float(v[-1]) if self._n else None,
            "min": float(fin.min()) if len(fin) else None,
            "max": float(fin.max()) if len(fin) else None,
            "nonfinite": self.nonfinite,
        }

    def reduce(self, columns: int, lo: int | None = None, hi: int | None = None) -> Reduced:
        """Min/max/first/last per column over steps in [lo, hi], at most ``columns`` columns.

        Columns split the step range evenly, so several series reduced over the same range
        line up column for column.
        """
        return reduce_points(self.steps, self.values, columns, lo, hi)


def reduce_points(
    steps: np.ndarray,
    values: np.ndarray,
    columns: int,
    lo: int | None = None,
    hi: int | None = None,
) -> Reduced:
    """M4 reduction of (steps, values) sorted by step to at most ``columns`` step buckets."""
    if len(steps) == 0 or columns <= 0:
        return _empty_reduced()
    lo = int(steps[0]) if lo is None else lo
    hi = int(steps[-1]) if hi is None else hi
    i0 = int(np.searchsorted(steps, lo, side="left"))
    i1 = int(np.searchsorted(steps, hi, side="right"))
    s, v = steps[i0:i1], values[i0:i1]
    if len(s) == 0:
        return _empty_reduced()
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


def _empty_reduced() -> Reduced:
    f = np.empty(0, dtype=np.float64)
    i = np.empty(0, dtype=np.int64)
    b = np.empty(0, dtype=bool)
    return Reduced(i, i, f, f, f, f, b, b, i)


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

    def metric(self, name: str) -> Series:
        """The series ``name``, created empty when absent."""
        s = self.series.get(name)
        if s is None:
            s = self.series[name] = Series(name)
        return s

    def add(self, records: Iterable[Record]) -> int:
        """Add a batch of records; returns how many were added."""
        n = 0
        for rec in records:
            n += 1
            if isinstance(rec, Metrics):
                self._add_metrics(rec)
            else:
                self._add_event(rec)
        self.records += n
        return n

    def _add_metrics(self, rec: Metrics) -> None:
        step = rec.step
        for key, value in rec.values.items():
            self.metric(key).append(step, value, rec.t)
        if self.first_step is None:
            self.first_step = step
        if self.last_step is None or step > self.last_step:
            self.last_step = step
        if rec.t is not None:
            self.last_time = rec.t
        if rec.step_inferred:
            self.steps_inferred = True

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
