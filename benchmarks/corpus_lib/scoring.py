"""Feed corpus logs through the rule engine one record at a time and score the findings.

For each finding we note when it first appeared (the logged point whose record opened it),
not only its onset, so detection delays are what a live user would see.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lrwatch.records import Metrics, Record
from lrwatch.rules import Engine, RuleConfig, severity_rank

#: Symptoms judged on the val loss: their delays count val evaluations, not train points.
VAL_SYMPTOMS = {"overfitting", "val_nan"}
#: Event symptoms have a sharp onset; a finding opened more than this many points before it
#: is premature (a false alarm), not a detection. Whole-run symptoms may be found any time.
EARLY_SLACK = 2
WHOLE_RUN = {"slow_progress", "oscillation"}


@dataclass
class Seen:
    """A finding as the scorer saw it: the engine's Finding plus when it first appeared."""

    finding: Any
    loss_points: int  # train-loss points fed when it first appeared
    val_points: int
    step: int  # newest step fed when it first appeared
    lr: float | None  # the engine's LR at that moment
    action: dict[str, Any] | None = None  # the action when it first appeared
    until: int | None = None  # step at which it was resolved next (None: still open)


@dataclass
class RunResult:
    """One run: its label, the findings seen, and where each logged point sits."""

    name: str
    label: dict[str, Any]
    seen: list[Seen] = field(default_factory=list)
    loss_steps: list[int] = field(default_factory=list)
    val_steps: list[int] = field(default_factory=list)


def read_records(paths: list[Path]) -> dict[str, list[Record]]:
    """Every run's records, in file order, read through lrwatch's own sources."""
    from lrwatch.sources import open_runs

    runs: dict[str, list[Record]] = {}
    runset = open_runs([str(p) for p in paths], "jsonl", follow=False)
    try:
        while True:
            batch = runset.poll()
            for name, records in batch.items():
                runs.setdefault(name, []).extend(records)
            if runset.done:
                break
            if not any(batch.values()):
                runset.wait(0.01)
    finally:
        runset.close()
    return runs


def run_engine(
    name: str, records: list[Record], label: dict[str, Any], config: RuleConfig | None
) -> RunResult:
    """Feed ``records`` one at a time; note each finding's first appearance."""
    engine = Engine(config, run=name)
    res = RunResult(name, label)
    seen = Sightings(res)
    for rec in records:
        if isinstance(rec, Metrics):
            if "loss" in rec.values:
                res.loss_steps.append(rec.step)
            if "val_loss" in rec.values:
                res.val_steps.append(rec.step)
        seen.note(engine.feed([rec]), engine.step, engine.lr)
    return res


class Sightings:
    """Notes in ``res.seen`` when each finding first appeared, and when it was resolved."""

    def __init__(self, res: RunResult) -> None:
        self.res = res
        self.known: set[str] = set()
        self.closed: set[str] = set()
        self.latest: dict[str, Seen] = {}

    def note(
        self, findings: list[Any], step: int, lr: float | None, resolved_at: int | None = None
    ) -> None:
        """The findings a feed returned, seen at ``step`` with the engine's LR ``lr``;
        ``resolved_at``: the step a resolution is noted at (default: the finding's own)."""
        res = self.res
        for f in findings:
            if f.resolved:
                self.closed.add(f.id)
                last = self.latest.get(f.id)
                if last is not None and last.until is None:
                    last.until = f.resolved_step if resolved_at is None else resolved_at
            # A resolved finding that reopens alerts the user again: it counts as appearing.
            reopened = f.id in self.closed and not f.resolved
            if f.id in self.known and not reopened:
                continue
            self.known.add(f.id)
            self.closed.discard(f.id)
            action = dict(f.action) if f.action else None
            seen = Seen(f, len(res.loss_steps), len(res.val_steps), step, lr, action)
            self.latest[f.id] = seen
            res.seen.append(seen)


def points_between(steps: list[int], onset: int, step: int) -> int:
    """Logged points after the onset up to ``step`` (0: found at the onset point itself)."""
    i0 = _index_at(steps, onset)
    i1 = _index_at(steps, step)
    return i1 - i0


def _index_at(steps: list[int], step: int) -> int:
    # Index of the first logged point at or after ``step`` (the last one if none).
    for i, s in enumerate(steps):
        if s >= step:
            return i
    return len(steps) - 1


def delay(res: RunResult, seen: Seen, symptom: str, onset: int) -> int:
    """Detection delay of ``seen`` in logged points of the symptom's series."""
    steps = res.val_steps if symptom in VAL_SYMPTOMS else res.loss_steps
    d = points_between(steps, onset, seen.step)
    if d < -EARLY_SLACK and _open_at(seen, onset):
        # Found before the labelled onset and still open when it comes (the loss had already
        # lost all its progress, say, before it crossed the label's blow-up line): the user
        # has the alert at the onset, so it is on time (delay 0), not a premature guess.
        return 0
    return d


def _open_at(seen: Seen, step: int) -> bool:
    return seen.until is None or seen.until >= step


def matches(res: RunResult, seen: Seen) -> bool:
    """Whether ``seen`` is a right diagnosis of the run (right symptom, not premature)."""
    symptom = seen.finding.symptom
    onset = res.label["expected"].get(symptom)
    if onset is None:
        return False
    # A run that never learned has no sharp onset (its label puts one at the 50th point, as
    # for slow progress): a finding of an accepted symptom at any time is a diagnosis.
    stuck = res.label.get("notes", "").startswith("stuck")
    # The other symptoms a whole-run label accepts as right (an oscillating run whose level
    # sits above its start: `divergence`) carry the whole-run onset too, so they are on time
    # whenever they appear, like the primary.
    whole = res.label.get("primary") in WHOLE_RUN
    return (
        symptom in WHOLE_RUN or stuck or whole or delay(res, seen, symptom, onset) >= -EARLY_SLACK
    )


def acceptable(res: RunResult, seen: Seen) -> bool:
    """Not a false alarm: a right diagnosis, or a symptom the label accepts on this run."""
    return matches(res, seen) or seen.finding.symptom in res.label["accepted"]


def direction_ok(action: dict[str, Any] | None, lr: float | None, want: str | None) -> bool:
    """Whether the action moves the LR the way the label says ("down", "up"; None: not up)."""
    move = _move(action, lr)
    if want is None:
        return move != "up"
    return move == want


def _move(action: dict[str, Any] | None, lr: float | None) -> str | None:
    if not action:
        return None
    if action.get("op") == "scale_lr":
        factor = float(action.get("factor", 1.0))
        return "down" if factor < 1 else "up" if factor > 1 else None
    if action.get("op") == "set_lr" and lr is not None and math.isfinite(lr):
        value = float(action.get("value", lr))
        return "down" if value < lr else "up" if value > lr else None
    return None


def severity_of(seen: Seen) -> str:
    """Final severity of the finding (it may have escalated after it appeared)."""
    return seen.finding.severity


def at_least(seen: Seen, level: str) -> bool:
    """Whether the finding reached ``level`` (info/warning/error)."""
    return severity_rank(seen.finding.severity) >= severity_rank(level)
