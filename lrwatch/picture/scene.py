"""Runs and their findings in, a :class:`~lrwatch.picture.primitives.Scene` out (pure).

Panels, top to bottom: the loss (raw thin and faded, smoothed, val loss dashed), the LR on a
log axis, the grad norm; only those with data (the loss panel always, saying when there is no
loss). Several runs overlay as in the UI: one colour per run (without colour: one dash
pattern per run), the smoothed loss only. Every series is drawn from the store's M4
reduction at one column per pixel (:meth:`lrwatch.series.Series.reduce`), so 10M points cost
what 1k cost. The smoothed line is an EMA over those columns, each weighted as the points it
holds (:func:`lrwatch.picture.axes.smooth_columns`), not over every point as the UI does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lrwatch.picture.annotate import findings_items, legend_items, marker_items
from lrwatch.picture.axes import tick_labels, to_drawn, value_range
from lrwatch.picture.primitives import Item, Label, Line, Panel, Rect, Scene
from lrwatch.picture.theme import MONO_DASHES
from lrwatch.picture.traces import TraceSpec, clip_items, nan_items, trace_items
from lrwatch.reduction import Reduced
from lrwatch.scale import fmt_step, log_ticks, nice_ticks, spans_decades
from lrwatch.store import RunData, lr_names

#: Pixels around and between the panels.
LEFT, RIGHT, TOP, HEAD, GAP, BOTTOM = 72, 24, 34, 24, 18, 30
#: Relative heights of the panels.
WEIGHTS = {"loss": 2.0, "lr": 1.0, "grad": 1.0}
#: Titles of the panels.
TITLES = {"loss": "loss", "lr": "learning rate", "grad": "grad norm"}


@dataclass(frozen=True)
class Options:
    """How to draw: size in pixels (height 0: by the panels), smoothing, colour or not."""

    width: int = 1200
    height: int = 0
    smoothing: float = 0.9
    mono: bool = False
    title: str = ""


def build_scene(
    runs: Sequence[RunData],
    findings: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    options: Options | None = None,
) -> Scene:
    """The picture of ``runs`` with ``findings`` (run name -> finding dicts as
    ``Finding.to_dict`` gives them) annotated at their steps."""
    opts = options or Options()
    findings = findings or {}
    names = [n for n in ("lr", "grad") if any(_has(r, n) for r in runs)]
    names.insert(0, "loss")
    height = opts.height or 170 + 150 * len(names)
    scene = Scene(opts.width, height, opts.mono, opts.title or _title(runs))
    scene.items.append(Rect(0, 0, opts.width, height, "bg", role="background"))
    scene.items.append(Label(LEFT, 22, scene.title, "text", 14, bold=True, role="title"))
    lo, hi = step_range(runs)
    scene.panels = _layout(names, opts.width, height, lo, hi)
    last = scene.panels[-1]
    xticks = nice_ticks(lo, hi, max(2, int(last.width // 110)))
    for panel in scene.panels:
        specs = _specs(panel.name, runs, opts)
        scene.items += _draw_panel(panel, specs, runs, xticks)
    scene.items += marker_items(runs, scene.panels)
    loss = scene.panels[0]
    scene.items += findings_items(runs, findings, loss)
    scene.items += _x_labels(last, xticks)
    return scene


def _has(run: RunData, panel: str) -> bool:
    if panel == "lr":
        return any(len(run.series[n]) for n in lr_names(run))
    return len(run.series.get("grad_norm", ())) > 0


def _title(runs: Sequence[RunData]) -> str:
    shown = ", ".join(r.name for r in runs[:4]) + (f" +{len(runs) - 4}" if len(runs) > 4 else "")
    return f"lrwatch · {shown}" if runs else "lrwatch"


def step_range(runs: Sequence[RunData]) -> tuple[int, int]:
    """The steps drawn: from the first run's start to the last step any run (or any
    abandoned branch) reached."""
    firsts = [r.first_step for r in runs if r.first_step is not None]
    lasts = [r.last_step for r in runs if r.last_step is not None]
    lasts += [rw.from_step for r in runs for rw in r.rewinds if rw.from_step is not None]
    if not firsts or not lasts:
        return 0, 1
    lo = min(firsts)
    return lo, max(max(lasts), lo + 1)


def _layout(names: list[str], width: int, height: int, lo: int, hi: int) -> list[Panel]:
    total = sum(WEIGHTS[n] for n in names)
    room = height - TOP - BOTTOM - len(names) * (HEAD + GAP)
    panels, y = [], float(TOP)
    for name in names:
        h = max(room * WEIGHTS[name] / total, 20.0)
        top = y + HEAD
        panels.append(Panel(name, LEFT, top, width - RIGHT, top + h, lo, hi))
        y = top + h + GAP
    return panels


def _specs(panel: str, runs: Sequence[RunData], opts: Options) -> list[TraceSpec]:
    if panel == "loss":
        return _loss_specs(runs, opts)
    overlay = len(runs) > 1
    specs: list[TraceSpec] = []
    for i, run in enumerate(runs):
        names = lr_names(run) if panel == "lr" else ["grad_norm"]
        for g, name in enumerate(n for n in names if len(run.series.get(n, ()))):
            colour = f"run{i}" if overlay else (panel if g == 0 else f"run{g + 1}")
            dash = _dash(i if overlay else g, opts.mono)
            label = (run.name if g == 0 else "") if overlay else name
            if not overlay:
                specs += _abandoned(run, name, colour)
            specs.append(
                TraceSpec(run.series[name], panel, colour, run.name, 1.6, dash=dash, label=label)
            )
    return specs


def _dash(i: int, mono: bool) -> str:
    return MONO_DASHES[i % len(MONO_DASHES)] if mono else ""


def _abandoned(run: RunData, name: str, colour: str) -> list[TraceSpec]:
    """The branches rewinds abandoned: dimmed, outside the y range (as in the UI)."""
    return [
        TraceSpec(s, "abandoned", colour, run.name, 1.2, 0.3, ranged=False)
        for s in run.abandoned.get(name, ())
        if len(s)
    ]


def _loss_specs(runs: Sequence[RunData], opts: Options) -> list[TraceSpec]:
    overlay = len(runs) > 1
    beta = opts.smoothing
    specs: list[TraceSpec] = []
    for i, run in enumerate(runs):
        loss, val = run.series.get("loss"), run.series.get("val_loss")
        colour = f"run{i}" if overlay else "loss"
        dash = _dash(i, opts.mono) if overlay else ""
        if not overlay:
            specs += _abandoned(run, "loss", "loss") + _abandoned(run, "val_loss", "val")
        if loss is not None and len(loss):
            if not overlay:
                specs.append(TraceSpec(loss, "loss-raw", "raw", run.name, 1.0, 0.35, primary=True))
            label = run.name if overlay else f"loss, smoothed {beta:g}"
            specs.append(
                TraceSpec(
                    loss,
                    "loss",
                    colour,
                    run.name,
                    2.0,
                    dash=dash,
                    ranged=overlay,
                    primary=overlay,
                    smooth=beta,
                    label=label,
                )
            )
        if val is not None and len(val):
            specs.append(
                TraceSpec(
                    val,
                    "val",
                    "val" if not overlay else colour,
                    run.name,
                    1.6,
                    dash="6 4",
                    dots=not overlay,
                    label="" if overlay else "val loss",
                )
            )
    return specs


def _draw_panel(
    panel: Panel, specs: list[TraceSpec], runs: Sequence[RunData], xticks: list[float]
) -> list[Item]:
    """Background, grid, ticks, the traces, NaN and clip marks, the legend of one panel
    (the grid at ``xticks`` and the y ticks under the data)."""
    cols = max(int(panel.width), 1)
    reds = [s.series.reduce(cols, panel.lo, panel.hi) for s in specs]
    _fit_y(panel, specs, reds)
    items: list[Item] = [
        Rect(panel.left, panel.top, panel.width, panel.bottom - panel.top, "panel", role="panel")
    ]
    items += [
        Line(x, panel.top, x, panel.bottom, "grid", role="grid") for x in panel.x(xticks).tolist()
    ]
    items += _y_axis(panel)
    if not any(len(r) for r in reds):
        items.append(_empty_note(panel, runs))
    for spec, red in zip(specs, reds, strict=True):
        items += trace_items(spec, red, panel)
    marked = [(s, r) for s, r in zip(specs, reds, strict=True) if s.primary]
    for spec, red in marked:
        items += clip_items(red, panel, spec.colour, spec.run)
        items += nan_items(red, panel, spec.run)
    nonfinite = any(bool((r.nan | r.inf).any()) for _, r in marked)
    title = TITLES[panel.name] + (" (log)" if panel.log else "")
    items += legend_items(panel, title, specs, nonfinite)
    return items


def _fit_y(panel: Panel, specs: list[TraceSpec], reds: list[Reduced]) -> None:
    """The panel's log choice and y range, from the ranged traces' columns."""
    ranged = [r for s, r in zip(specs, reds, strict=True) if s.ranged and len(r)]
    if not ranged:
        ranged = [r for r in reds if len(r)]
    mins, maxs = [r.ymin for r in ranged], [r.ymax for r in ranged]
    panel.log = panel.name == "lr" or spans_decades(mins, maxs, q=0.0)
    # An LR is set, not measured: every value shows (a cosine decay to ~0 is not an outlier).
    q = 0.0 if panel.name == "lr" else 0.02
    span = value_range(
        [to_drawn(m, panel.log) for m in mins], [to_drawn(m, panel.log) for m in maxs], q
    )
    if span is None and panel.log:  # nothing positive: a linear axis after all
        panel.log = False
        span = value_range(mins, maxs, q)
    panel.ylo, panel.yhi = span if span is not None else (0.0, 1.0)


def _y_axis(panel: Panel) -> list[Item]:
    most = max(2, int((panel.bottom - panel.top) // 36))
    ticks = (log_ticks if panel.log else nice_ticks)(panel.ylo, panel.yhi, most)
    if not ticks:  # a flat line (a constant LR) or a narrow range: its middle, labelled
        ticks = [(panel.ylo + panel.yhi) / 2]
    real = [10**t if panel.log else t for t in ticks]
    items: list[Item] = []
    for y, text in zip(panel.y(real).tolist(), tick_labels(real), strict=True):
        items.append(Line(panel.left, y, panel.right, y, "grid", 1.0, role="grid"))
        items.append(Label(panel.left - 8, y + 4, text, "muted", 11, "end", role="ytick"))
    return items


def _empty_note(panel: Panel, runs: Sequence[RunData]) -> Label:
    what = {
        "loss": "no training loss found (see lrwatch inspect; --loss NAME, --regex)",
        "lr": "no learning rate logged",
        "grad": "no grad norm logged",
    }[panel.name]
    if panel.name == "loss" and not any(r.records for r in runs):
        what = "no records read"
    mid = (panel.top + panel.bottom) / 2
    return Label((panel.left + panel.right) / 2, mid, what, "muted", 13, "middle", role="note")


def _x_labels(last: Panel, ticks: list[float]) -> list[Item]:
    """The step ticks' labels under the last panel (their grid lines are in every panel)."""
    items: list[Item] = [
        Label(x, last.bottom + 16, fmt_step(t), "muted", 11, "middle", role="xtick")
        for x, t in zip(last.x(ticks).tolist(), ticks, strict=True)
    ]
    items.append(Label(last.left - 8, last.bottom + 16, "step", "muted", 11, "end", role="xtitle"))
    return items
