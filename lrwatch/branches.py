"""Rewinds as the store sees them: the ``rewind`` record parsed, and a run's branch cut.

A ``rewind`` record (docs/format.md) says the training process went back from step ``step``
(FROM) to a snapshot of step ``to_step`` (TO); the run then logs TO+1, TO+2, ... again. The
store (:meth:`lrwatch.store.RunData.add`) calls :func:`cut_branch` at the record: every
series loses the points after TO at its end (:meth:`lrwatch.series.Series.cut_after`), and
they become that metric's *abandoned* segment, kept beside the live series for the chart to
draw dimmed. The live series so stays one monotonic branch: its last value, its best value,
its reductions and the runs table never mix the two.

Steps that go back *without* a ``rewind`` record (a run resumed from a checkpoint) are not
cut: the store keeps them as monotonic segments (see :mod:`lrwatch.store`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from lrwatch.columns import Axis
from lrwatch.records import Event
from lrwatch.series import Series, cut_axis

#: Abandoned segments kept per metric; further rewinds add their points to the last one (a
#: log of a million rewinds must not make a million Series objects per metric).
MAX_ABANDONED = 64


@dataclass(frozen=True)
class Rewind:
    """One rewind of a run, from its ``rewind`` record."""

    from_step: int | None  #: the last step finished before rewinding (the record's ``step``)
    to_step: int  #: the snapshot's step: the next record is ``to_step + 1``
    factor: float | None = None  #: the LR change applied with it (``scale_lr``), if any
    mode: str | None = None  #: "rescale" or "pin", with a factor
    by: str | None = None  #: who asked (``autopilot``, ``unix``, ...)
    t: float | None = None

    def describe(self) -> str:
        """``⟲ 1200→1100 ×0.1``: the chart marker's label."""
        frm = "?" if self.from_step is None else str(self.from_step)
        text = f"⟲ {frm}→{self.to_step}"
        if self.factor is not None:
            text += f" ×{self.factor:.3g}"
        return text


def parse_rewind(ev: Event) -> Rewind | None:
    """The :class:`Rewind` of a ``rewind`` event; None when it is not one or has no valid
    ``to_step`` (a non-negative integer): such a record is kept as a plain event."""
    if ev.kind != "rewind":
        return None
    data = ev.data
    to = _int(data.get("to_step"))
    if to is None:
        return None
    raw = data.get("factor")
    factor = float(raw) if isinstance(raw, int | float) and not isinstance(raw, bool) else None
    mode, by = data.get("mode"), data.get("by")
    return Rewind(
        from_step=ev.step,
        to_step=to,
        factor=factor if factor is not None and math.isfinite(factor) else None,
        mode=mode if isinstance(mode, str) else None,
        by=by if isinstance(by, str) else None,
        t=ev.t,
    )


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and 0 <= value < 2**62 else None


def cut_branch(series: dict[str, Series], axes: Iterable[Axis], to_step: int) -> dict[str, Series]:
    """Cut every series of a run after ``to_step``; returns the points removed, per metric.

    A key group in group mode (its members strictly in step, see :mod:`lrwatch.store`) is
    cut once, all members together, so it stays in group mode and ingest keeps its speed.
    Every other series is cut on its own (one sharing rows outside group mode takes its own
    copy of them first). Costs O(points removed) plus a binary search per series.
    """
    removed: dict[str, Series] = {}
    done: set[int] = set()
    for axis in axes:
        if axis.members is None:
            continue
        members = [cast(Series, m) for m in axis.members if m is not None]
        done.update(id(m) for m in members)
        axis.flush()
        k = members[0].keep_count(to_step) if members else axis.n
        if k >= axis.n:
            continue
        for m in members:
            tail = m.tail(k)
            if len(tail):
                removed[m.name] = tail
        cut_axis(axis, k)
        for m in members:
            m._truncate(k)
    for name, s in series.items():
        if id(s) not in done:
            tail_or_none = s.cut_after(to_step)
            if tail_or_none is not None:
                removed[name] = tail_or_none
    return removed


def keep_abandoned(kept: dict[str, list[Series]], removed: dict[str, Series]) -> None:
    """Add the points a rewind removed to the run's abandoned segments (at most
    :data:`MAX_ABANDONED` per metric: beyond, they join the last one)."""
    for name, tail in removed.items():
        segments = kept.setdefault(name, [])
        if len(segments) < MAX_ABANDONED:
            segments.append(tail)
        else:
            segments[-1].extend(tail.steps, tail.values, tail.times)
