"""The header line: a run's state, pace and LR, computed from its data (pure functions)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from rich.text import Text

from lrwatch import liveness
from lrwatch.numfmt import fmt_num
from lrwatch.scale import fmt_lr
from lrwatch.session.control import ControlInfo
from lrwatch.store import RunData, lr_names
from lrwatch.tui.progress import ETA_WIDTH, append_progress, eta_seconds, fraction_done

#: Seconds without a write before a run that has not ended counts as idle (or stalled); the
#: same threshold as the ``stalled`` rule's (:mod:`lrwatch.liveness`).
STALL_AFTER = liveness.MIN_QUIET_S
#: A run that logs rarely is quiet for this many of its usual gaps before it counts as idle.
GAPS_BEFORE_IDLE = liveness.QUIET_GAPS

STATE_STYLES = {
    "live": "bold green",
    "paused": "bold yellow",
    "finished": "bold blue",
    "crashed": "bold red",
    "stalled": "bold magenta",
    "idle": "bold",
    "waiting": "dim",
}
#: States in which the run is not (known to be) writing any more.
DONE_STATES = ("finished", "crashed")


@dataclass
class RunSummary:
    """Everything the header shows for one run."""

    name: str
    state: str
    step: int | None
    steps_per_s: float | None
    elapsed: float | None
    last_loss: float | None
    best_loss: float | None
    lrs: list[float] = field(default_factory=list)
    control: ControlInfo = field(default_factory=ControlInfo)
    skipped: int = 0
    #: Seconds since the run last wrote (shown as ``last write 3h ago`` when idle/stalled).
    quiet_for: float | None = None
    #: The run's input (a pipe) is at EOF: nothing more can come.
    input_closed: bool = False
    #: How much of the logs' backlog is read (0..1) while the UI catches up; None after.
    reading: float | None = None
    #: Steps the run will take (RunData.total_steps), or None: no progress bar then.
    total_steps: int | None = None

    @property
    def eta(self) -> float | None:
        """Seconds left at the current pace; None when unknown or the run is not moving."""
        return eta_seconds(self.step, self.total_steps, self.steps_per_s, self.state)


def run_state(
    run: RunData,
    now: float,
    last_write: float | None,
    alive: bool = False,
    stall_after: float = STALL_AFTER,
    input_closed: bool = False,
) -> str:
    """The run's state: live / paused / finished / crashed / stalled / idle / waiting.

    ``last_write`` is the wall time of the run's last data (its log's mtime, or when records
    last arrived from a pipe or socket). A run that has not written for ``stall_after``
    seconds is ``stalled`` when it was seen ``alive`` (a control socket answered, or the
    child of ``lrwatch run`` still runs) and ``idle`` otherwise (a finished log without an
    ``end`` record: CSV, a console log, an old run). ``end`` records and pauses decide first;
    a pipe at EOF (``input_closed``) is idle at once.
    """
    end = run.ended
    if end is not None:
        return "crashed" if end.data.get("status") == "crashed" else "finished"
    for ev in reversed(run.events):
        if ev.kind in ("pause", "resume"):
            if ev.kind == "pause":
                return "paused"
            break
    if run.records == 0:
        return "waiting"
    if input_closed:
        return "idle"
    if last_write is not None and now - last_write > stall_after:
        return "stalled" if alive else "idle"
    return "live"


def usual_gap(run: RunData, k: int = liveness.GAP_POINTS) -> float | None:
    """Median seconds between the last ``k`` timed points of the most-logged series."""
    if not run.series:
        return None
    return liveness.usual_gap(max(run.series.values(), key=len).times[-k:].tolist())


def stall_threshold(
    run: RunData, min_seconds: float = STALL_AFTER, factor: float = GAPS_BEFORE_IDLE
) -> float:
    """Quiet seconds before ``run`` counts as idle/stalled (:func:`lrwatch.liveness.stalled_after`:
    two minutes, or 5 of its usual gaps; the rules TOML's ``[stalled]`` may say otherwise)."""
    return liveness.stalled_after(usual_gap(run), min_seconds, factor)


def steps_per_second(run: RunData, k: int = 50) -> float | None:
    """Pace over the last ``k`` timed points of the most-logged series."""
    if not run.series:
        return None
    s = max(run.series.values(), key=len)
    t, st = s.times[-k:], s.steps[-k:]
    ok = np.isfinite(t)
    if ok.sum() < 2:
        return None
    t, st = t[ok], st[ok]
    dt = float(t[-1] - t[0])
    return float(st[-1] - st[0]) / dt if dt > 0 else None


def _last_best(run: RunData) -> tuple[float | None, float | None]:
    s = run.series.get("loss")
    if s is None or not len(s):
        return None, None
    # The series keeps its finite minimum as it grows: O(1) per header, not O(points).
    return float(s.values[-1]), s.vmin


def summarize(
    run: RunData,
    now: float,
    last_write: float | None,
    control: ControlInfo,
    alive: bool = False,
    input_closed: bool = False,
    quiet: tuple[float, float] | None = None,
) -> RunSummary:
    """The header data of ``run`` at wall time ``now`` (the other arguments: see run_state;
    ``quiet``: the ``[stalled]`` rule's ``(min_seconds, factor)`` when the user set them)."""
    alive = alive or control.seen
    threshold = stall_threshold(run, *quiet) if quiet is not None else stall_threshold(run)
    state = run_state(run, now, last_write, alive, threshold, input_closed)
    start = (run.header or {}).get("t")
    if not isinstance(start, int | float):
        times = [s.times[0] for s in run.series.values() if len(s) and math.isfinite(s.times[0])]
        start = min(times) if times else None
    # Elapsed stops at the last record once the run is over or idle (a log read hours later).
    end_t = now if state in ("live", "paused", "stalled") else run.last_time
    elapsed = end_t - start if start is not None and end_t is not None else None
    last, best = _last_best(run)
    lrs = [float(run.series[n].values[-1]) for n in lr_names(run) if len(run.series[n])]
    return RunSummary(
        run.name,
        state,
        run.last_step,
        steps_per_second(run),
        elapsed,
        last,
        best,
        lrs,
        control,
        run.skipped,
        now - last_write if last_write is not None else None,
        input_closed,
        total_steps=run.total_steps,
    )


def fmt_duration(sec: float | None) -> str:
    """``1h02m``, ``3m05s``, ``12s``."""
    if sec is None or not math.isfinite(sec) or sec < 0:
        return "-"
    s = int(sec)
    if s >= 3600:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    if s >= 60:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s}s"


def _field(t: Text, label: str, value: str, style: str = "bold") -> None:
    t.append(f"  {label} ", style="dim")
    t.append(value, style=style)


def short_endpoint(endpoint: str) -> str:
    """``unix:/long/path/exp.sock`` -> ``exp.sock``; other endpoints as they are."""
    if endpoint.startswith("unix:") or endpoint.startswith("/"):
        return endpoint.rsplit("/", 1)[-1]
    return endpoint


def fmt_age(sec: float) -> str:
    """How long ago, coarsely: ``42s``, ``12m``, ``3h``, ``2d``."""
    s = max(int(sec), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


#: Longest run name shown in full on a narrow header; longer ones keep their head and tail.
NAME_MAX = 24


def short_name(name: str, limit: int = NAME_MAX) -> str:
    """``lightning_sgd_lr8_nan_metrics`` -> ``lightning_sg…nan_metrics`` (at most ``limit``)."""
    if len(name) <= limit:
        return name
    head = (limit - 1) // 2
    return name[:head] + "…" + name[-(limit - 1 - head) :]


def _state(t: Text, s: RunSummary, compact: bool) -> None:
    t.append(f"  ● {s.state}", style=STATE_STYLES.get(s.state, "bold"))
    if s.state == "idle" and s.input_closed:
        t.append(" input closed", style="dim")
    elif s.state in ("idle", "stalled") and s.quiet_for is not None:
        t.append(f" {'' if compact else 'last write '}{fmt_age(s.quiet_for)} ago", style="dim")


def _line1(s: RunSummary, index: int, count: int, compact: bool) -> Text:
    t = Text()
    t.append(f" {short_name(s.name) if compact else s.name}", style="bold reverse")
    if count > 1:
        t.append(f" {index + 1}/{count}", style="dim")
    if s.reading is not None:  # the state is known once the end of the log is read
        t.append(f"  ◌ reading {s.reading:.0%}", style="bold cyan")
    else:
        _state(t, s, compact)
    _field(t, "step", _fmt_step(s))
    pace = f"{s.steps_per_s:.1f}" if s.steps_per_s else "-"
    if compact:  # the values speak for themselves: 12.5/s, 3m05s; unknown ones are left out
        if s.steps_per_s:
            t.append(f"  {pace}", style="bold")
            t.append("/s", style="dim")
        if s.elapsed is not None:
            t.append(f"  {fmt_duration(s.elapsed)}", style="bold")
    else:
        if s.steps_per_s:
            _field(t, "steps/s", pace)
        if s.elapsed is not None:
            _field(t, "elapsed", fmt_duration(s.elapsed))
    _field(t, "loss", fmt_num(s.last_loss) if s.last_loss is not None else "-")
    _field(t, "best", fmt_num(s.best_loss) if s.best_loss is not None else "-")
    return t


def _fmt_step(s: RunSummary) -> str:
    """``1,200`` or, when the total is known, ``1,200/5,000``."""
    step = f"{s.step:,}" if s.step is not None else "-"
    return f"{step}/{s.total_steps:,}" if s.total_steps is not None else step


def control_status(c: ControlInfo, state: str, compact: bool = False) -> tuple[str, str]:
    """The header's control text and its style, from the connection and the run's state.

    A run that ended closes its socket: that is ``– run finished`` (dim), not an error. Red is
    for a connection that failed or was lost while the run has not written ``end``.
    """
    endpoint = short_endpoint(c.endpoint) if compact and c.endpoint else c.endpoint
    if c.endpoint is None:  # even when over: the hint is for the next run
        return "read-only", "bold yellow"
    if state in DONE_STATES:
        return f"– run {state}", "dim"
    if c.connected:
        return f"✓ {endpoint}", "bold green"
    if c.checking:
        return f"… connection closed, checking ({endpoint})", "dim"
    if c.error and state == "idle" and not c.seen:
        # An old log whose run is long gone: nothing is wrong with the UI or the log.
        return f"– no answer, run idle ({endpoint})", "dim"
    if c.error:
        return f"✗ {c.error} ({endpoint})", "bold red"
    return f"… connecting ({endpoint})", "dim"


def _line2(s: RunSummary, compact: bool) -> Text:
    t = Text()
    lr = " ".join(fmt_lr(x) for x in s.lrs) if s.lrs else "-"
    t.append(" lr ", style="dim")
    t.append(lr, style="bold magenta")
    fraction = fraction_done(s.step, s.total_steps)
    append_progress(t, fraction, s.eta, s.state, compact)
    if s.skipped:  # before the long control text, so a narrow screen still shows it
        plural = "s" if s.skipped != 1 else ""
        t.append(f"  {s.skipped:,} unreadable line{plural}", style="bold yellow")
    c = s.control
    text, style = control_status(c, s.state, compact)
    if c.endpoint is None:
        t.append(f"  {text}", style=style)
        t.append(f" · to steer it: {c.hint}", style="dim")
        return t
    t.append("  control ", style="dim")
    t.append(text, style=style)
    if c.connected and s.state not in DONE_STATES:
        t.append(f"  mode {c.mode}", style="dim")
    return t


#: What the header reserves for the numbers that change on every update (see _reference).
_WIDE_STEP = 9_999_999
_WIDE_PACE = 999.9
_WIDE_ELAPSED = 99 * 3600 + 59 * 60
_WIDE_LOSS = -12.3456  # fmt_num's widest usual value: "-12.346"


def _reference(s: RunSummary) -> RunSummary:
    """``s`` with every changing value at its widest: what decides long or short labels.

    The header used to try the long labels and fall back to short ones when the line did not
    fit, so as the numbers grew and shrank by a digit it jumped between ``steps/s 5.0  elapsed
    2m23s`` and ``5.0/s  2m21s``. Measuring this instead makes the choice depend on the width
    and on what does not change while a run is shown (its name, LR groups, endpoint, total).
    """
    # With a total, the step never needs more digits than it; without, reserve 9,999,999.
    step = max(s.total_steps or _WIDE_STEP, s.step or 0)
    # The read-only hint may be cut at the end: it is not a reason for short labels.
    control = replace(s.control, connected=True, checking=False, error="", hint="")
    return replace(
        s,
        # The longest state word; "last write 3h ago" after an idle or stalled one may be cut
        # at the line's end rather than cost every live update the long labels.
        state="finished",
        step=step,
        steps_per_s=max(_WIDE_PACE, s.steps_per_s or 0.0),
        elapsed=max(_WIDE_ELAPSED, s.elapsed or 0.0),
        last_loss=_WIDE_LOSS,
        best_loss=_WIDE_LOSS,
        control=control,
        quiet_for=None,
        input_closed=False,
        reading=None,
        total_steps=s.total_steps,
    )


def compact_labels(s: RunSummary, index: int, count: int, width: int) -> tuple[bool, bool]:
    """Whether each header line of ``s`` at ``width`` takes its short form (line 1: ``5.0/s``
    without labels, the name shortened; line 2: the socket's file name, a shorter bar).

    Depends on ``width`` and on what stays put while a run is shown, never on the numbers:
    successive updates of one run keep one form.
    """
    ref = _reference(s)
    first = _line1(ref, index, count, False).cell_len > width
    # Room for an ETA in days: the widest values of line 2.
    second = first or _line2(replace(ref, state="live"), False).cell_len + ETA_WIDTH > width
    return first, second


def render_header(s: RunSummary, index: int = 0, count: int = 1, width: int | None = None) -> Text:
    """Two lines: run/state/step/pace/loss, then LR per group, progress toward a known total
    and ETA, unreadable lines, control.

    At ``width`` the lines never wrap: short labels when the widest values would not fit
    (:func:`compact_labels`), then an ellipsis.
    """
    first, second = (False, False) if width is None else compact_labels(s, index, count, width)
    lines = [_line1(s, index, count, first), _line2(s, second)]
    if width is not None:
        for line in lines:
            line.truncate(width, overflow="ellipsis")
    t = Text("\n").join(lines)
    t.no_wrap, t.overflow = True, "ellipsis"
    return t
