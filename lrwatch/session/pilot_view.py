"""What the autopilot sees of one run: a small, cheap copy of what a Session holds (pure).

:func:`pilot_view` is called every ~0.3 s per run, for hundreds of runs: it copies only the
tail of the loss series (:data:`TAIL` points, or four horizons, whichever is more), the LR per
group now and at the start, the run's change records (``lr_change``/``rewind``; events are
few) and the snapshot steps of the latest ``status`` reply. Call it with the store's lock
held (:meth:`~lrwatch.store.MetricStore.view`), as a chart's draw does; :func:`view_in`
takes the lock for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrwatch.store import MetricStore, RunData, lr_names

#: Fewest loss points a view keeps (the tail): outcome checks look at most two horizons back.
TAIL = 512
#: Record kinds that change the LR (the autopilot counts its own among them).
CHANGE_KINDS = ("lr_change", "rewind")


@dataclass(frozen=True)
class ChangeRecord:
    """An ``lr_change`` or ``rewind`` record of the run's log, as the autopilot needs it."""

    kind: str
    step: int | None
    by: str = ""
    finding: str = ""
    reason: str = ""
    to_step: int | None = None  #: a rewind's snapshot step


@dataclass(frozen=True)
class PilotView:
    """One run, as the autopilot needs it (see the module docstring)."""

    run: str
    #: The tail of the loss series, in the order logged (steps go back after a rewind).
    steps: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    last_step: int | None = None
    lrs: list[float] = field(default_factory=list)  #: the LR per group now
    first_lrs: list[float] = field(default_factory=list)  #: per group, at the start
    findings: Sequence[Any] = ()  #: the run's findings (open and resolved)
    changes: tuple[ChangeRecord, ...] = ()
    ended: bool = False
    snapshots: tuple[int, ...] = ()  #: steps the run can rewind to (its ``status``)

    def finding(self, fid: str) -> Any | None:
        """The finding ``fid`` (None when the rules do not list it)."""
        return next((f for f in self.findings if getattr(f, "id", None) == fid), None)

    def is_open(self, fid: str) -> bool:
        """Whether finding ``fid`` is listed and not resolved."""
        f = self.finding(fid)
        return f is not None and not getattr(f, "resolved", False)


def pilot_view(
    run: RunData,
    findings: Sequence[Any] = (),
    status: Mapping[str, Any] | None = None,
    horizon: int = 50,
) -> PilotView:
    """The view of ``run`` (hold the store's lock), its current ``findings`` and the latest
    ``status`` reply (for ``snapshots``); ``horizon``: the autopilot's outcome horizon."""
    loss = run.series.get("loss")
    keep = max(TAIL, 4 * horizon)
    steps = np.array(loss.steps[-keep:]) if loss is not None and len(loss) else None
    values = np.array(loss.values[-keep:]) if loss is not None and len(loss) else None
    names = lr_names(run)
    lrs = [float(run.series[n].values[-1]) for n in names if len(run.series[n])]
    header = run.header or {}
    first = _floats(header.get("lr"))
    if not first:
        first = [float(run.series[n].values[0]) for n in names if len(run.series[n])]
    if not lrs:
        lrs = list(first)
    return PilotView(
        run=run.name,
        steps=steps if steps is not None else np.zeros(0, np.int64),
        loss=values if values is not None else np.zeros(0),
        last_step=run.last_step,
        lrs=lrs,
        first_lrs=first,
        findings=list(findings),
        changes=tuple(
            _change(ev.kind, ev.step, ev.data) for ev in run.events if ev.kind in CHANGE_KINDS
        ),
        ended=run.ended is not None,
        snapshots=_snapshots(status),
    )


def view_in(
    store: MetricStore,
    run: str,
    findings: Sequence[Any] = (),
    status: Mapping[str, Any] | None = None,
    horizon: int = 50,
) -> PilotView | None:
    """:func:`pilot_view` of the store's run ``run``, taken under the store's lock (None: the
    store has no such run)."""
    with store.view([run]) as runs:
        return pilot_view(runs[0], findings, status, horizon) if runs else None


def _change(kind: str, step: int | None, data: Mapping[str, Any]) -> ChangeRecord:
    to = data.get("to_step")
    return ChangeRecord(
        kind,
        step,
        str(data.get("by", "")),
        str(data.get("finding", "")),
        str(data.get("reason", "")),
        to if isinstance(to, int) and not isinstance(to, bool) else None,
    )


def _floats(value: Any) -> list[float]:
    """A list of positive finite LRs, or [] when ``value`` is not one."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list):
        return []
    out = [float(x) for x in value if isinstance(x, int | float) and not isinstance(x, bool)]
    return out if len(out) == len(value) and all(math.isfinite(x) and x > 0 for x in out) else []


def _snapshots(status: Mapping[str, Any] | None) -> tuple[int, ...]:
    raw = (status or {}).get("snapshots")
    if not isinstance(raw, list):
        return ()
    return tuple(sorted(s for s in raw if isinstance(s, int) and not isinstance(s, bool)))


# -- the loss around a change -------------------------------------------------------------------


def split_at(steps: np.ndarray, step: int, rewind: bool = False) -> int | None:
    """Index of the first tail point logged after a change that took effect at ``step``
    (None: a rewind whose new branch has not begun yet).

    The tail's last monotonic segment is the current branch. A change at ``step`` splits it
    by step; a rewind to ``step`` (its snapshot) starts the current branch, when the branch's
    first point is at or after it and an abandoned segment precedes it.
    """
    n = len(steps)
    if n == 0:
        return None
    drops = np.flatnonzero(np.diff(steps) < 0)
    start = int(drops[-1]) + 1 if len(drops) else 0
    if rewind:
        # Until the first point of the new branch arrives, the tail is the abandoned one.
        return start if start > 0 and int(steps[start]) > step else None
    return start + int(np.searchsorted(steps[start:], step, side="left"))


def loss_around(
    view: PilotView, step: int, horizon: int, rewind: bool = False
) -> tuple[np.ndarray, np.ndarray] | None:
    """Up to ``horizon`` loss points before a change and up to ``horizon`` after it (None:
    a rewind whose new branch has not begun yet).

    The store cuts a rewind's abandoned points from the live series when its ``rewind``
    record arrives (:mod:`lrwatch.branches`): then no step goes back, and the new branch is
    what follows the rewind's step once the record is among the view's changes."""
    split = split_at(view.steps, step, rewind)
    if (
        split is None
        and rewind
        and any(c.kind == "rewind" and c.to_step == step for c in view.changes)
    ):
        split = int(np.searchsorted(view.steps, step, side="right"))
    if split is None:
        return None
    before = view.loss[max(0, split - horizon) : split]
    after = view.loss[split : split + horizon]
    return before, after
