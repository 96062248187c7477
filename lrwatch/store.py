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

Rewinds. A ``rewind`` record (the training process went back to a snapshot of step TO, and
logs TO+1, TO+2, ... again) cuts every series of the run after TO (:mod:`lrwatch.branches`):
those points become the metric's abandoned segments (``RunData.abandoned``, in rewind order,
drawn dimmed), and the live series goes on from TO as one monotonic branch, so last and best
values, reductions and the runs table see the live branch only. Several rewinds stack; the
run's ``last_step`` goes back to TO. Only the record does this: steps that go back without
one stay as segments, as above. A rewind costs O(points cut off) plus a binary search per
series; appends keep their cost.

Caps. A run keeps at most :data:`MAX_SERIES` series (metric names) and :data:`MAX_GROUPS`
shared key-set groups: a log whose every line invents new keys (a 15 MB JSONL with a million
distinct keys cost 3.2 GB) must not grow a series per key. Names beyond the cap are refused
(first come, first kept), their values dropped and both counted (``names_refused``,
``values_dropped``; ``inspect`` shows them). Key sets beyond the group cap are still stored,
each series on its own columns.

Each series also keeps running min / max of its finite values, its last finite value and
its non-finite count, so headers and ``inspect`` never scan the whole series.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrwatch.branches import Rewind, cut_branch, keep_abandoned, parse_rewind
from lrwatch.columns import Axis, ValueSink
from lrwatch.numfmt import fmt_num
from lrwatch.records import SYSTEM_PREFIX, AnyRecord, Event, MetricBlock, Metrics
from lrwatch.reduction import Reduced, reduce_points
from lrwatch.series import FLUSH_EVERY, Series

__all__ = [
    "MAX_SERIES",
    "MetricStore",
    "Reduced",
    "Rewind",
    "RunData",
    "Series",
    "reduce_points",
]

#: Most series (metric names) one run keeps. Real runs log a few to a few hundred scalars (a
#: per-layer grad-norm log of a 100-layer model: ~1,000); 4,096 empty series cost ~30 MB of
#: columns (a Series starts with 256-row step, time and value columns, ~7 KiB), so a log
#: that invents a key per line stays bounded. The other per-name tables of the readers are
#: capped at the same size (JSONL plans, text shapes, tfevents layouts).
MAX_SERIES = 4096
#: Most key sets that get a shared step/time group (one Axis, ~4 KiB, each).
MAX_GROUPS = 4096
#: Refused names remembered to count each once; beyond, the count is a lower bound.
MAX_REFUSED_NAMES = 1 << 16


def _dead_axis() -> Axis:
    axis = Axis(0)
    axis.dead = True
    return axis


#: The group of key sets past the caps: never holds rows, its records go series by series.
_OVERFLOW = _dead_axis()


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
    #: Which logged metrics were taken as the losses, and why (lrwatch.losschoice).
    loss_choice: str = ""
    val_loss_choice: str = ""
    #: The first lines that held numbers but gave no record (text logs).
    unread: list[str] = field(default_factory=list)
    #: Metric names refused once the run had MAX_SERIES series, and the values they lost.
    names_refused: int = 0
    values_dropped: int = 0
    #: False once more names were refused than could be remembered (the count is a floor).
    names_refused_exact: bool = True
    #: Steps the run will take, when known: the run header's ``total_steps``, replaced by the
    #: latest ``meta`` event that carries one (a reader may emit such events too).
    total_steps: int | None = None
    #: The rewinds the run wrote, in order (see the module docstring).
    rewinds: list[Rewind] = field(default_factory=list)
    #: Per metric, the points the rewinds cut off: one series per rewind, oldest first.
    abandoned: dict[str, list[Series]] = field(default_factory=dict)
    _refused: set[str] = field(default_factory=set, init=False, repr=False)
    #: Shared step/time columns per key set of the metric records (see module docstring).
    _axes: dict[tuple[str, ...], Axis] = field(default_factory=dict, init=False, repr=False)

    def metric(self, name: str) -> Series:
        """The series ``name``, created empty when absent.

        Past :data:`MAX_SERIES` a new name gets a series that is not kept (what is appended
        to it is lost) and is counted as refused.
        """
        s = self.series.get(name)
        if s is None:
            s = Series(name)
            if self._admit(name):
                self.series[name] = s
        return s

    def _admit(self, name: str) -> bool:
        """Whether a new series ``name`` may be created; counts it as refused if not."""
        if len(self.series) < MAX_SERIES:
            return True
        if name not in self._refused:
            if len(self._refused) < MAX_REFUSED_NAMES:
                self._refused.add(name)
                self.names_refused += 1
            else:
                self.names_refused_exact = False
        return False

    def _fits(self, keys: tuple[str, ...]) -> bool:
        """Whether every name of ``keys`` has (or may get) a series, within MAX_SERIES."""
        new = sum(1 for k in keys if k not in self.series)
        return len(self.series) + new <= MAX_SERIES

    def add(self, records: Iterable[AnyRecord]) -> int:
        """Add a batch of records; returns how many were added (a block counts its rows)."""
        # The ingest hot loop (millions of records): locals only, and while records keep the
        # key set of a group in group mode, three list appends per record.
        n = 0
        first, last, last_t = self.first_step, self.last_step, self.last_time
        inferred = self.steps_inferred
        cur: tuple[str, ...] | None = None  # key set of the group bound below
        # Bound with ``cur`` below, at the first record with values, before any use.
        axis: Axis
        ps_add: Callable[[int], None]
        pt_add: Callable[[float | None], None]
        rows_add: Callable[[tuple[Any, ...]], None]
        room = 0  # rows the bound group takes before it must flush
        for rec in records:
            n += 1
            if not isinstance(rec, Metrics):
                if isinstance(rec, MetricBlock):
                    # Columns go in at numpy speed; the bound group may be flushed by it.
                    self.first_step, self.last_step, self.last_time = first, last, last_t
                    self.steps_inferred = inferred
                    n += self._add_block(rec) - 1
                    first, last, last_t = self.first_step, self.last_step, self.last_time
                    inferred = self.steps_inferred
                    cur = None
                else:
                    self.last_time = last_t  # the event's time, if any, is newer
                    self.first_step, self.last_step = first, last  # a rewind moves it back
                    self._add_event(rec)
                    last_t, last = self.last_time, self.last_step
                    cur = None  # a rewind may have cut the bound group's rows
                continue
            step, values, t = rec.step, rec.values, rec.t
            if values:
                keys = tuple(values)
                if keys != cur:
                    cur, axis = None, self._group_for(keys)
                    if axis.members is not None and not axis.loose:
                        cur = keys
                        ps_add, pt_add, rows_add = axis.ps.append, axis.pt.append, axis.rows.append
                        room = FLUSH_EVERY - len(axis.rows)
                if cur is not None:
                    ps_add(step)
                    pt_add(t)
                    rows_add(tuple(values.values()))
                    axis.n += 1
                    room -= 1
                    if room <= 0:
                        axis.flush()
                        room = FLUSH_EVERY
                else:
                    # A slow-path record may move series between groups: re-check next time.
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

    def _group_for(self, keys: tuple[str, ...]) -> Axis:
        axis = self._axes.get(keys)
        if axis is None:
            if len(self._axes) >= MAX_GROUPS or not self._fits(keys):
                return _OVERFLOW  # series by series, some names perhaps refused
            axis = self._axes[keys] = self._new_group(keys)
        return axis

    def add_columns(
        self,
        steps: Any,
        columns: Mapping[str, Any],
        times: Any = None,
        step_inferred: bool = False,
    ) -> int:
        """Add a dense block of metric records given as columns; returns how many were added.

        ``columns`` maps metric name to values (equal lengths, every record has every
        metric); ``times`` is a column or ``None``. Equivalent to :meth:`add` of the same
        Metrics records, without a Python object per record: a parser that decodes a block
        of same-shaped lines into columns can hand them over at numpy speed.
        """
        k = self._put_columns(steps, columns, times, step_inferred)
        self.records += k
        return k

    def _add_block(self, block: MetricBlock) -> int:
        return self._put_columns(block.steps, block.columns, block.times, block.step_inferred)

    def _put_columns(
        self, steps: Any, columns: Mapping[str, Any], times: Any, step_inferred: bool
    ) -> int:
        """:meth:`add_columns` without counting the records (:meth:`add` counts them)."""
        steps = np.asarray(steps, dtype=np.int64)
        k = len(steps)
        if k == 0:
            return 0
        ts = None if times is None else np.asarray(times, dtype=np.float64)
        keys = tuple(columns)
        axis = self._axes.get(keys) if keys else None
        if keys and axis is None and len(self._axes) < MAX_GROUPS and self._fits(keys):
            axis = self._axes[keys] = self._new_group(keys)
        if axis is not None and axis.members is not None and not axis.loose:
            axis.flush()
            axis.put(steps, math.nan if ts is None else ts)
            for key, member in zip(keys, axis.members, strict=True):
                assert member is not None  # none left the group: ``loose`` is empty
                member._take_values(np.asarray(columns[key], dtype=np.float64))
        else:
            for key in keys:
                if key in self.series or self._admit(key):
                    self.metric(key).extend(steps, columns[key], ts)
                else:
                    self.values_dropped += k
        lo, hi = int(steps[0]), int(steps.max())
        self.first_step = lo if self.first_step is None else self.first_step
        self.last_step = hi if self.last_step is None else max(self.last_step, hi)
        if ts is not None and not math.isnan(ts[-1]):
            self.last_time = float(ts[-1])
        self.steps_inferred = self.steps_inferred or step_inferred
        return k

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
            if len(axis.rows) >= FLUSH_EVERY:
                axis.flush()
        elif axis.dead:
            series = self.series
            for key, value in values.items():
                s = series.get(key)
                if s is None and self._admit(key):
                    s = series[key] = Series(key)
                if s is None:
                    self.values_dropped += 1
                else:
                    s.append(step, value, t)
        else:
            self._add_grouped(axis, step, values, t)

    def _new_group(self, keys: tuple[str, ...]) -> Axis:
        """Columns for a new key set; in group mode when all its metrics are new."""
        axis = Axis()
        if not any(k in self.series for k in keys):
            members: list[ValueSink | None] = []
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
                if not self._admit(key):
                    self.values_dropped += 1
                    continue
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
            if len(s._pv) >= FLUSH_EVERY:
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
        if rec.kind in ("run", "meta") and "total_steps" in rec.data:
            self.total_steps = _total_steps(rec.data["total_steps"])
        self.events.append(rec)
        if rec.t is not None:
            self.last_time = rec.t
        if rec.kind == "rewind":
            self._rewind(rec)

    def _rewind(self, rec: Event) -> None:
        """A ``rewind`` record: the points after its ``to_step`` become abandoned."""
        rewind = parse_rewind(rec)
        if rewind is None:
            return  # no usable to_step: kept as a plain event
        self.rewinds.append(rewind)
        removed = cut_branch(self.series, self._axes.values(), rewind.to_step)
        keep_abandoned(self.abandoned, removed)
        if self.last_step is not None and self.last_step > rewind.to_step:
            self.last_step = max(rewind.to_step, self.first_step or 0)

    def progress_time(self) -> float | None:
        """Wall time of the newest training record, when the run also logs system metrics
        (None otherwise). Its sampler writes on while a training loop hangs: the file's
        mtime and :attr:`last_time` then say "live" for a run that makes no progress."""
        times = [
            float(s.times[-1])
            for name, s in self.series.items()
            if len(s) and not name.startswith(SYSTEM_PREFIX)
        ]
        if len(times) == len(self.series):
            return None  # no system series: the mtime and arrivals tell the truth
        times = [t for t in times if math.isfinite(t)]
        return max(times) if times else None

    @property
    def ended(self) -> Event | None:
        """The ``end`` event when the run wrote one."""
        for ev in reversed(self.events):
            if ev.kind == "end":
                return ev
        return None


def _total_steps(value: Any) -> int | None:
    """A ``total_steps`` value as a step count; None (unknown) unless a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value < 1 or value != int(value):
        return None
    return int(value)


class MetricStore:
    """All runs being watched, by name."""

    def __init__(self) -> None:
        self.runs: dict[str, RunData] = {}
        #: Held by whoever adds records (a reader thread) and whoever reads the series while
        #: they may grow (a chart's draw): one slice or one draw at a time.
        self.lock = threading.Lock()

    def run(self, name: str, **info: Any) -> RunData:
        """The run ``name``, created (with ``info`` such as path/format) when absent."""
        r = self.runs.get(name)
        if r is None:
            r = self.runs[name] = RunData(name=name, **info)
        return r

    def add(self, name: str, records: Iterable[AnyRecord]) -> int:
        """Add records to run ``name``; returns how many were added."""
        return self.run(name).add(records)

    @contextmanager
    def view(self, names: Iterable[str]) -> Iterator[list[RunData]]:
        """The runs ``names`` (those there are), read with the store's lock held."""
        with self.lock:
            yield [self.runs[n] for n in names if n in self.runs]


def lr_names(run: RunData) -> list[str]:
    """The run's LR series, group 0 first (``lr``, ``lr/pg1``, ...): what the charts draw,
    the header shows and the autopilot bounds, read one way."""
    names = [n for n in run.series if n == "lr" or n.startswith("lr/")]
    return sorted(names, key=lambda n: (n != "lr", len(n), n))


def lr_changes(run: RunData) -> list[tuple[int, str]]:
    """The run's ``lr_change`` records as (step, label): ``old→new`` of group 0, or ``lr``
    when the record lacks them. The chart markers of the terminal and of pictures."""
    out = []
    for ev in run.events:
        if ev.kind != "lr_change" or ev.step is None:
            continue
        old, new = _group0(ev.data.get("old")), _group0(ev.data.get("new"))
        label = f"{fmt_num(old)}→{fmt_num(new)}" if old is not None and new is not None else "lr"
        out.append((int(ev.step), label))
    return out


def _group0(value: object) -> float | None:
    """Group 0's LR of a record's per-group list (or a bare number)."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return float(value) if isinstance(value, int | float) else None
