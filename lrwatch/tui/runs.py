"""The runs table's rows: one line per run, sorted and filtered (pure functions).

A directory of a sweep holds hundreds of runs. Each gets a :class:`RunRow` built from what the
header shows of it (:func:`~lrwatch.tui.summary.summarize`), its findings and its control
connection; before its backlog is read, from the peek at its file's tail
(:mod:`lrwatch.sources.peek`). The widget (:mod:`lrwatch.tui.widgets.runs_table`) only
draws rows; tests call these without an app.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.text import Text

from lrwatch.numfmt import fmt_num
from lrwatch.records import gpu_of_util
from lrwatch.rules.finding import severity_rank
from lrwatch.session.control import ControlInfo
from lrwatch.sources.peek import Peek
from lrwatch.store import RunData
from lrwatch.tui.progress import fraction_done
from lrwatch.tui.summary import STALL_AFTER, STATE_STYLES, summarize

#: Trailing finite losses averaged into the "last smoothed loss".
SMOOTH_POINTS = 25
#: Severity of a run whose findings are not known yet (the rules have not caught up).
UNJUDGED = -1
#: Order of the states when the table is sorted by state (the ones that need a look first).
STATE_ORDER = ("crashed", "stalled", "live", "paused", "waiting", "idle", "finished")
_SEVERITY_STYLES = ("cyan", "yellow", "bold red")
_SEVERITY_MARKS = ("i", "!", "✗")


@dataclass(frozen=True)
class RunRow:
    """What the runs table shows of one run."""

    name: str
    state: str
    step: int | None = None
    total: int | None = None
    loss: float | None = None  #: mean of the last finite losses (the header's "last", smoothed)
    best: float | None = None
    lr: float | None = None
    steps_per_s: float | None = None
    gpu: float | None = None  #: GPU utilisation %, mean over the run's GPUs (system records)
    finding: str = ""  #: the worst open finding's symptom ("" none)
    severity: int = UNJUDGED  #: its rank (0 info … 2 error), -1 when not judged yet
    controllable: bool = False
    peeked: bool = False  #: numbers from a peek at the file's tail: the log is being read

    @property
    def progress(self) -> float | None:
        """Fraction of ``total`` done, when the run says how many steps it will take."""
        return fraction_done(self.step, self.total)


@dataclass(frozen=True)
class Column:
    """A column: its key (what ``sort_rows`` sorts on), title and width (0: takes the rest)."""

    key: str
    title: str
    width: int
    right: bool = True


COLUMNS = (
    Column("name", "run", 0, right=False),
    Column("state", "state", 8, right=False),
    Column("step", "step", 14),
    Column("loss", "loss~", 8),
    Column("best", "best", 8),
    Column("lr", "lr", 8),
    Column("steps_per_s", "step/s", 7),
    Column("gpu", "gpu%", 5),
    Column("finding", "worst finding", 18, right=False),
    Column("controllable", "ctl", 3, right=False),
)
SORT_KEYS = tuple(c.key for c in COLUMNS)


def smoothed_last(run: RunData, k: int = SMOOTH_POINTS) -> float | None:
    """Mean of the last ``k`` finite training losses (None without any); NaN when the last
    loss is not finite (a run that blew up must not show its last good value)."""
    s = run.series.get("loss")
    if s is None or not len(s):
        return None
    if not math.isfinite(float(s.values[-1])):
        return math.nan
    tail = s.values[-k:]
    tail = tail[np.isfinite(tail)]
    return float(tail.mean()) if len(tail) else None


def gpu_util(run: RunData) -> float | None:
    """Latest GPU utilisation % of the run, averaged over its GPUs (system records)."""
    values = [float(s.values[-1]) for name, s in run.series.items() if gpu_of_util(name) and len(s)]
    values = [v for v in values if math.isfinite(v)]
    return sum(values) / len(values) if values else None


def worst_open(findings: Sequence[Any]) -> tuple[str, int]:
    """The symptom and severity rank of the worst finding that is not resolved ("", -1: none)."""
    best: tuple[str, int] = ("", UNJUDGED)
    for f in findings:
        if getattr(f, "resolved", False):
            continue
        rank = severity_rank(str(getattr(f, "severity", "info")))
        if rank > best[1]:
            best = (str(getattr(f, "symptom", "finding")), rank)
    return best


def run_row(
    run: RunData,
    *,
    now: float,
    last_write: float | None,
    control: ControlInfo,
    findings: Sequence[Any] | None,
    peek: Peek | None = None,
    alive: bool = False,
    input_closed: bool = False,
    quiet: tuple[float, float] | None = None,
    controllable: bool = False,
) -> RunRow:
    """The row of ``run``. ``findings`` None: the rules have not judged it yet; ``peek``: what
    its file's tail said, used while none of its records are read; ``controllable``: an LR
    command can be sent now (``RunControl.refusal()`` is None)."""
    symptom, severity = "", UNJUDGED
    if findings is not None:  # judged: no open finding is severity 0 with no symptom
        symptom, rank = worst_open(findings)
        severity = max(rank, 0)
    if run.records == 0 and peek is not None:
        return _peeked_row(run, peek, now, last_write, controllable)
    s = summarize(run, now, last_write, control, alive, input_closed, quiet)
    return RunRow(
        run.name,
        s.state,
        s.step,
        getattr(run, "total_steps", None),
        smoothed_last(run),
        s.best_loss,
        s.lrs[0] if s.lrs else None,
        s.steps_per_s,
        gpu_util(run),
        symptom,
        severity,
        controllable,
    )


def _peeked_row(
    run: RunData, peek: Peek, now: float, last_write: float | None, controllable: bool
) -> RunRow:
    if peek.status is not None:
        state = peek.status
    elif last_write is not None and now - last_write > STALL_AFTER:
        state = "idle"
    else:
        state = "live"
    return RunRow(
        run.name,
        state,
        peek.last_step,
        None,
        peek.loss,
        None,
        peek.lr,
        peek.steps_per_s,
        None,
        controllable=controllable,
        peeked=True,
    )


# -- sorting and filtering --------------------------------------------------------------------


def _sort_value(row: RunRow, key: str) -> Any:
    if key == "name":
        return row.name.lower()
    if key == "state":
        return STATE_ORDER.index(row.state) if row.state in STATE_ORDER else len(STATE_ORDER)
    if key == "finding":  # the worst first; then clean runs; the ones not judged yet last
        rank = row.severity if row.finding else (-0.5 if row.severity != UNJUDGED else -1.0)
        return -rank, row.finding
    if key == "controllable":
        return not row.controllable
    value = getattr(row, key)
    return value if value is None or not isinstance(value, float) or math.isfinite(value) else None


def sort_rows(rows: Iterable[RunRow], key: str, reverse: bool = False) -> list[RunRow]:
    """``rows`` sorted on column ``key``; unknown values (``None``, NaN) always go last.

    Ties keep the name order, so a live table does not shuffle equal rows between refreshes.
    """
    by_name = sorted(rows, key=lambda r: r.name.lower())
    valued = [(_sort_value(r, key), r) for r in by_name]  # once a row: a refresh sorts them all
    known = [vr for vr in valued if vr[0] is not None]
    unknown = [r for v, r in valued if v is None]
    known.sort(key=lambda vr: vr[0], reverse=reverse)
    return [r for _, r in known] + unknown


def matches(row: RunRow, query: str) -> bool:
    """Whether ``row`` passes the filter: every word is in its name, state or worst symptom
    (case-insensitive; ``-word`` excludes)."""
    hay = f"{row.name} {row.state} {row.finding}".lower()
    for word in query.lower().split():
        if word.startswith("-") and len(word) > 1:
            if word[1:] in hay:
                return False
        elif word not in hay:
            return False
    return True


# -- drawing ----------------------------------------------------------------------------------


def cell_text(row: RunRow, key: str) -> Text:
    """One cell of ``row``, styled (dim while the numbers come from a peek)."""
    dim = "dim" if row.peeked else ""
    if key == "name":
        return Text(row.name)
    if key == "state":
        return Text(row.state, style=STATE_STYLES.get(row.state, ""))
    if key == "step":
        return Text(_step_text(row), style=dim)
    if key in ("loss", "best", "lr"):
        value = getattr(row, key)
        if value is not None and not math.isfinite(value):
            return Text("nan" if value != value else fmt_num(value), style="bold red")
        text = "…" if value is None and row.peeked and key == "best" else _num(value)
        return Text(text, style=dim)
    if key == "steps_per_s":
        return Text(_rate(row.steps_per_s), style=dim)
    if key == "gpu":
        return Text("-" if row.gpu is None else f"{row.gpu:.0f}", style=_gpu_style(row.gpu))
    if key == "finding":
        return _finding_text(row)
    return Text("yes" if row.controllable else "no", style="green" if row.controllable else "dim")


def _step_text(row: RunRow) -> str:
    if row.step is None:
        return "-"
    progress = row.progress
    if progress is None:
        return f"{row.step:,}"
    return f"{row.step:,} {progress:4.0%}"


def _num(value: float | None) -> str:
    return "-" if value is None else fmt_num(value)


def _rate(value: float | None) -> str:
    """Steps per second in at most 6 cells: ``0.25``, ``48.1``, ``512``, ``4.9e4``."""
    if value is None or not math.isfinite(value):
        return "-"
    if value >= 1e4:
        return fmt_num(value, width=6)
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _gpu_style(gpu: float | None) -> str:
    if gpu is None:
        return "dim"
    return "yellow" if gpu < 30 else ""


def _finding_text(row: RunRow) -> Text:
    if row.severity == UNJUDGED:
        return Text("…" if not row.finding else row.finding, style="dim")
    if not row.finding:
        return Text("—", style="dim green")
    rank = max(0, min(2, row.severity))
    return Text(f"{_SEVERITY_MARKS[rank]} {row.finding}", style=_SEVERITY_STYLES[rank])


def widths(total: int) -> list[int]:
    """Column widths for a table ``total`` cells wide (the run column takes what is left;
    narrow terminals drop the right-most optional columns first)."""
    fixed = [c.width for c in COLUMNS]
    gaps = len(COLUMNS) - 1
    name = total - sum(fixed) - gaps
    out = [max(name, 12), *fixed[1:]]
    # Too narrow: give up gpu, then step/s, then best (0 width = not drawn).
    for key in ("gpu", "steps_per_s", "best", "controllable"):
        if sum(out) + gaps <= total:
            break
        i = SORT_KEYS.index(key)
        out[i] = 0
        gaps -= 1
        out[0] = max(12, total - sum(out[1:]) - gaps)
    return out
