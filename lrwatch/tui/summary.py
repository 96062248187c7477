"""The header line: a run's state, pace and LR, computed from its data (pure functions)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from rich.text import Text

from lrwatch.store import RunData
from lrwatch.tui.scale import fmt_num
from lrwatch.tui.view import lr_names

#: Seconds without new records before a run that has not ended counts as stalled.
STALL_AFTER = 60.0

STATE_STYLES = {
    "live": "bold green",
    "paused": "bold yellow",
    "finished": "bold blue",
    "crashed": "bold red",
    "stalled": "bold magenta",
    "waiting": "dim",
}


@dataclass
class ControlInfo:
    """What the UI knows about a run's control socket."""

    endpoint: str | None = None
    connected: bool = False
    error: str = ""
    mode: str = "rescale"
    #: How to make a read-only run controllable (shown in the header).
    hint: str = "lrwatch.Monitor() or `lrwatch run -- CMD`"


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


def run_state(run: RunData, now: float, last_arrival: float | None) -> str:
    """live / paused / finished / crashed / stalled (waiting before any record)."""
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
    if last_arrival is not None and now - last_arrival > STALL_AFTER:
        return "stalled"
    return "live"


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
    run: RunData, now: float, last_arrival: float | None, control: ControlInfo
) -> RunSummary:
    """The header data of ``run`` at wall time ``now``."""
    state = run_state(run, now, last_arrival)
    start = (run.header or {}).get("t")
    if not isinstance(start, int | float):
        times = [s.times[0] for s in run.series.values() if len(s) and math.isfinite(s.times[0])]
        start = min(times) if times else None
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


def _line1(s: RunSummary, index: int, count: int, compact: bool) -> Text:
    t = Text()
    t.append(f" {s.name}", style="bold reverse")
    if count > 1:
        t.append(f" {index + 1}/{count}", style="dim")
    t.append(f"  ● {s.state}", style=STATE_STYLES.get(s.state, "bold"))
    _field(t, "step", f"{s.step:,}" if s.step is not None else "-")
    pace = f"{s.steps_per_s:.1f}" if s.steps_per_s else "-"
    if compact:  # the values speak for themselves: 12.5/s, 3m05s
        t.append(f"  {pace}", style="bold")
        t.append("/s", style="dim")
        t.append(f"  {fmt_duration(s.elapsed)}", style="bold")
    else:
        _field(t, "steps/s", pace)
        _field(t, "elapsed", fmt_duration(s.elapsed))
    _field(t, "loss", fmt_num(s.last_loss) if s.last_loss is not None else "-")
    _field(t, "best", fmt_num(s.best_loss) if s.best_loss is not None else "-")
    return t


def _line2(s: RunSummary, compact: bool) -> Text:
    t = Text()
    lr = " ".join(fmt_num(x) for x in s.lrs) if s.lrs else "-"
    t.append(" lr ", style="dim")
    t.append(lr, style="bold magenta")
    if s.skipped:  # before the long control text, so a narrow screen still shows it
        plural = "s" if s.skipped != 1 else ""
        t.append(f"  {s.skipped:,} unreadable line{plural}", style="bold yellow")
    c = s.control
    endpoint = short_endpoint(c.endpoint) if compact and c.endpoint else c.endpoint
    if c.endpoint is None:
        t.append("  read-only", style="bold yellow")
        t.append(f" · to steer it: {c.hint}", style="dim")
    elif c.connected:
        t.append("  control ", style="dim")
        t.append(f"✓ {endpoint}", style="bold green")
        t.append(f"  mode {c.mode}", style="dim")
    else:
        t.append("  control ", style="dim")
        t.append(f"✗ {c.error or 'connecting'} ({endpoint})", style="bold red")
    return t


def render_header(s: RunSummary, index: int = 0, count: int = 1, width: int | None = None) -> Text:
    """Two lines: run/state/pace/loss, then LR per group, unreadable lines, control.

    At ``width`` the lines never wrap: shorter labels first, then an ellipsis.
    """
    lines = [_line1(s, index, count, False), _line2(s, False)]
    if width is not None:
        lines = [
            full if full.cell_len <= width else short
            for full, short in zip(
                lines, (_line1(s, index, count, True), _line2(s, True)), strict=True
            )
        ]
        for line in lines:
            line.truncate(width, overflow="ellipsis")
    t = Text("\n").join(lines)
    t.no_wrap, t.overflow = True, "ellipsis"
    return t
