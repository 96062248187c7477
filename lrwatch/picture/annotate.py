"""What is written over the data: LR-change and rewind markers, findings, legends.

Labels are placed in rows at the top of a panel so that they do not overlap (text width is
estimated, as no font is measured in a pure scene: 0.6 em a character).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from lrwatch.picture.primitives import Item, Label, Line, Mark, Panel
from lrwatch.picture.traces import TraceSpec
from lrwatch.store import RunData, lr_changes

#: Severity -> the sign drawn before a finding's symptom (as ``lrwatch diagnose`` prints).
ICONS = {"error": "✗", "warning": "!", "info": "i"}
#: Label rows at the top of a panel, and findings labelled at most (the HTML lists them all).
ROWS, MOST_LABELS = 3, 24
LABEL_SIZE = 11.0


def text_width(text: str, size: float) -> float:
    """An estimate of ``text``'s width in pixels at font ``size``."""
    return 0.6 * size * len(text)


class Rows:
    """Places labels in a few rows from a panel's top so that no two overlap."""

    def __init__(self, panel: Panel, rows: int = ROWS) -> None:
        self.panel = panel
        self.ends = [-math.inf] * rows

    def place(self, x: float, text: str, size: float = LABEL_SIZE) -> tuple[float, float] | None:
        """Where to write ``text`` next to a marker at ``x``: (left x, baseline y), right of
        the marker, or left of it near the panel's right edge; None when every row is full."""
        w = text_width(text, size)
        start = x + 4 if x + 4 + w <= self.panel.right else x - 4 - w
        for row, end in enumerate(self.ends):
            if start > end + 6:
                self.ends[row] = start + w
                return start, self.panel.top + 14 + row * (size + 4)
        return None


def marker_items(runs: Sequence[RunData], panels: Sequence[Panel]) -> list[Item]:
    """A vertical line through every panel at each LR change (``lr_change`` record) and each
    rewind (at the step the new branch starts from), labelled in the LR panel."""
    marks: list[tuple[int, str, str]] = []
    for run in runs:
        marks += [(step, text, "lr-change") for step, text in lr_changes(run)]
        marks += [(rw.to_step, rw.describe(), "rewind") for rw in run.rewinds]
    if not marks or not panels:
        return []
    where = next((p for p in panels if p.name == "lr"), panels[0])
    rows = Rows(where)
    items: list[Item] = []
    for step, text, role in sorted(marks):
        colour = "lr_marker" if role == "lr-change" else "rewind"
        x = float(where.x(step))
        if not where.left <= x <= where.right:
            continue
        for p in panels:
            items.append(Line(x, p.top, x, p.bottom, colour, 1.2, "4 3", 0.9, role))
        spot = rows.place(x, text)
        if spot is not None:
            items.append(Label(*spot, text, colour, LABEL_SIZE, bold=True, role=role))
    return items


def findings_items(
    runs: Sequence[RunData], findings: Mapping[str, Sequence[Mapping[str, Any]]], panel: Panel
) -> list[Item]:
    """Each finding as a dotted line at its step on the loss panel, in its severity's colour,
    labelled ``✗ nan_inf`` (with the run's name when runs overlay)."""
    overlay = len(runs) > 1
    todo = [(int(f["step"]), run.name, f) for run in runs for f in findings.get(run.name, ())]
    rows, items = Rows(panel), list[Item]()
    for labelled, (step, name, f) in enumerate(sorted(todo, key=lambda t: t[0])):
        x = float(panel.x(step))
        if not panel.left <= x <= panel.right:
            continue
        colour = f["severity"] if f["severity"] in ICONS else "info"
        items.append(Line(x, panel.top, x, panel.bottom, colour, 1.4, "2 3", 0.9, "finding"))
        text = f"{ICONS.get(f['severity'], 'i')} {f['symptom']}" + (f" ({name})" if overlay else "")
        spot = rows.place(x, text) if labelled < MOST_LABELS else None
        if spot is not None:
            items.append(Label(*spot, text, colour, LABEL_SIZE, bold=True, role="finding"))
    return items


def legend_items(
    panel: Panel, title: str, specs: Sequence[TraceSpec], nonfinite: bool
) -> list[Item]:
    """The panel's title and one entry per labelled trace in the row above it; ``NaN/Inf``
    when marks were drawn, ``abandoned`` when a rewound branch was."""
    y = panel.top - 8
    items: list[Item] = [Label(panel.left, y, title, "text", 12, bold=True, role="panel-title")]
    x = panel.left + text_width(title, 12) + 18
    entries = [(s.label, s.colour, s.dash, s.width, s.opacity) for s in specs if s.label]
    gone = [s for s in specs if s.role == "abandoned"]
    if gone:
        entries.append(("abandoned", gone[0].colour, "", 1.6, 0.3))
    for text, colour, dash, width, opacity in entries:
        if x + 24 + text_width(text, 11) > panel.right:
            break  # an overlay of many runs: the legend ends at the edge
        items.append(Line(x, y - 4, x + 18, y - 4, colour, width, dash, opacity, "legend"))
        items.append(Label(x + 22, y, text, "muted", 11, role="legend"))
        x += 36 + text_width(text, 11)
    if nonfinite and x + 60 <= panel.right:
        items.append(Mark(x + 5, y - 4, "x", "nan", 4.0, "legend"))
        items.append(Label(x + 14, y, "NaN/Inf", "muted", 11, role="legend"))
    return items
