"""Progress toward a known number of steps: the fraction done, the ETA and their text.

Pure functions under the header (:mod:`lrwatch.tui.summary`). A run's total comes from
``RunData.total_steps`` (the run header's ``total_steps``, or a ``meta`` event: the Monitor,
the HF/Lightning callbacks, ``trainer_state.json``'s ``max_steps`` or a text log's ``N/M``).
Every number here is drawn in a fixed width, so the text after it does not move as it changes.
"""

from __future__ import annotations

import math
from collections import deque

from rich.text import Text

#: Cells of the bar on a compact (narrow) header and on a full one.
BAR_CELLS = (10, 20)
#: Eighths of a cell, for the bar's partly filled cell.
_EIGHTHS = " ▏▎▍▌▋▊▉"
#: Widest ETA text: ``fmt_eta`` pads to it (``99h59m``).
ETA_WIDTH = 6
#: States whose run still moves toward its total (an ETA means something).
MOVING_STATES = ("live",)
#: States of a run that will not move any more: no ETA at all.
OVER_STATES = ("finished", "crashed")


def fraction_done(step: int | None, total: int | None) -> float | None:
    """``step / total`` within 0..1, or None when either is unknown."""
    if step is None or total is None or total <= 0:
        return None
    return min(max(step / total, 0.0), 1.0)


def eta_seconds(
    step: int | None, total: int | None, steps_per_s: float | None, state: str
) -> float | None:
    """Seconds left at ``steps_per_s``; None when the run is not moving (stalled, paused, idle)
    or its pace is unknown. 0 once the step reached the total."""
    if step is None or total is None:
        return None
    if step >= total:
        return 0.0
    if state not in MOVING_STATES or not steps_per_s or steps_per_s <= 0:
        return None
    return (total - step) / steps_per_s


def bar(fraction: float, cells: int) -> str:
    """``fraction`` (0..1) as ``cells`` cells of blocks, in eighths: ``█████▌    ``."""
    eighths = round(min(max(fraction, 0.0), 1.0) * cells * 8)
    full, part = divmod(eighths, 8)
    text = "█" * full + (_EIGHTHS[part] if part and full < cells else "")
    return text.ljust(cells, "░")


def fmt_percent(fraction: float) -> str:
    """Whole percents, rounded down (99.7% is not done), right-aligned in 4 cells."""
    return f"{math.floor(fraction * 100 + 1e-9):d}%".rjust(4)


def fmt_eta(sec: float | None) -> str:
    """``12m40s``, ``3h05m``, ``—`` when unknown; padded to :data:`ETA_WIDTH`."""
    if sec is None or not math.isfinite(sec) or sec < 0:
        return "—".ljust(ETA_WIDTH)
    s = round(sec)
    if s >= 100 * 3600:
        text = f"{s // 86400}d{s % 86400 // 3600:02d}h"
    elif s >= 3600:
        text = f"{s // 3600}h{s % 3600 // 60:02d}m"
    elif s >= 60:
        text = f"{s // 60}m{s % 60:02d}s"
    else:
        text = f"{s}s"
    return text.ljust(ETA_WIDTH)


def append_progress(
    t: Text, fraction: float | None, eta: float | None, state: str, compact: bool
) -> None:
    """Append ``  ▕bar▏ 24%  ETA 12m40s`` to ``t`` (nothing when the total is unknown).

    Over (finished, crashed) runs show the bar and percent, no ETA; a run that is not moving
    shows ``ETA —``: a pace from before a stall would promise a time that is not coming.
    """
    if fraction is None:
        return
    cells = BAR_CELLS[0 if compact else 1]
    t.append("  ")
    t.append(bar(fraction, cells), style="green" if state != "crashed" else "red")
    t.append(f" {fmt_percent(fraction)}", style="bold")
    if state in OVER_STATES:
        return
    t.append("  ETA ", style="dim")
    t.append(fmt_eta(eta), style="bold")


class ArrivalPace:
    """Steps/s of runs whose records carry no wall time (most text logs), from when the UI
    saw their steps: samples of (clock, step) over the last :attr:`window` seconds.

    Only a live run that is not being read from its backlog is sampled (a backlog is read at
    thousands of steps a second); a step that goes back or another run starts over.
    """

    def __init__(self, window: float = 60.0, min_span: float = 2.0) -> None:
        self.window, self.min_span = window, min_span
        self._run = ""
        self._samples: deque[tuple[float, int]] = deque()

    def pace(
        self, run: str, step: int | None, state: str, reading: bool, now: float
    ) -> float | None:
        """Record the step of ``run`` seen at ``now``; the pace over the window, or None."""
        if run != self._run or state not in MOVING_STATES or reading or step is None:
            self._run = run
            self._samples.clear()
            return None
        samples = self._samples
        if samples and step < samples[-1][1]:
            samples.clear()
        if not samples or step != samples[-1][1]:
            samples.append((now, step))
        while len(samples) > 2 and now - samples[1][0] > self.window:
            samples.popleft()
        (t0, s0), (t1, s1) = samples[0], samples[-1]
        if t1 - t0 < self.min_span or s1 <= s0:
            return None
        return (s1 - s0) / (t1 - t0)
