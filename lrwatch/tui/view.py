"""Chart settings and the pure functions that turn runs into chart specs.

The chart widgets only hold a :class:`ViewState` and call these; tests call them with a
hand-filled :class:`~lrwatch.store.MetricStore` and no app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lrwatch.losschoice import REGEX_EXAMPLE
from lrwatch.store import RunData, Series, lr_changes, lr_names
from lrwatch.tui.chart import ChartSpec, Marker, Trace, run_tag
from lrwatch.tui.legend import Entry
from lrwatch.tui.smooth import EmaCache

#: Step windows the UI cycles through (None = the whole run).
WINDOWS: tuple[int | None, ...] = (None, 100, 1_000, 10_000, 100_000)
#: Colours of overlaid runs, in order: ten that differ on a 256-colour terminal.
RUN_COLOURS = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "dodger_blue2",
    "red",
    "dark_orange",
    "medium_purple1",
    "pink1",
    "wheat1",
)
#: The same ten on a light theme: the ANSI names are darkened by the app's light ANSI theme
#: (tui/theme.py), the others are darker hues (pink1 and wheat1 vanish on light grey; wheat's
#: place is an olive). Each reads at 3:1 on textual-light, dimmed copies included.
RUN_COLOURS_LIGHT = (
    "cyan",
    "magenta",
    "green",
    "yellow",
    "blue",
    "red",
    "#8b3700",
    "#5c37a5",
    "#962956",
    "#4a5400",
)


#: The y axis of the loss, grad-norm and metric panels: chosen per panel by the data's range
#: (``auto``: log when it spans more than ~3 decades), or forced linear or log (key ``l``).
YScale = Literal["auto", "lin", "log"]


@dataclass
class ViewState:
    """What the user chose: y scale, smoothing, step window, follow-live, overlay."""

    y_scale: YScale = "auto"
    smoothing: float = 0.9
    window: int | None = None
    follow: bool = True
    frozen_hi: int | None = None  #: right edge kept while follow is off
    overlay: bool = False
    #: NO_COLOR: overlaid runs cannot differ by hue, so the current run is bold, the others grey.
    mono: bool = False
    #: A light theme: colours that are not ANSI names come from :data:`RUN_COLOURS_LIGHT`.
    light: bool = False
    current: str = ""  #: the run the header is about (bold in an overlay)

    @property
    def log_y(self) -> bool:
        """Log-y is forced (``y_scale == "log"``); in ``auto`` each panel decides."""
        return self.y_scale == "log"

    @log_y.setter
    def log_y(self, on: bool) -> None:
        # Asking for "not log" leaves auto alone (auto is not a forced log axis).
        if on:
            self.y_scale = "log"
        elif self.y_scale == "log":
            self.y_scale = "lin"

    @property
    def auto_y(self) -> bool:
        """Panels choose log-y by their data's range."""
        return self.y_scale == "auto"

    def describe(self) -> str:
        """A one-line summary for the status bar."""
        win = "all" if self.window is None else f"last {self.window:,}"
        return (
            f"smooth {self.smoothing:g} · window {win} · {self.y_scale}-y"
            f" · {'following' if self.follow else self._frozen()}"
            + (" · overlay" if self.overlay else "")
        )

    def _frozen(self) -> str:
        # Not "paused": that word is for the training run (key p).
        at = f" at step {self.frozen_hi:,}" if self.frozen_hi is not None else ""
        return f"view frozen{at} (f: follow)"


def step_range(runs: list[RunData], view: ViewState) -> tuple[int, int]:
    """The step range to draw: the window ending at the last step (or the frozen edge).

    Just after a rewind the run's last step is the rewind point: the range still reaches the
    end of the abandoned branch, so it shows (dimmed) until the new branch passes it.
    """
    firsts = [r.first_step for r in runs if r.first_step is not None]
    lasts = [r.last_step for r in runs if r.last_step is not None]
    lasts += [rw.from_step for r in runs for rw in r.rewinds[-1:] if rw.from_step is not None]
    if not lasts:
        return 0, 1
    hi = max(lasts)
    if not view.follow and view.frozen_hi is not None:
        hi = view.frozen_hi
    lo = min(firsts) if view.window is None else max(hi - view.window + 1, min(firsts))
    return lo, max(hi, lo + 1)


def lr_markers(run: RunData, style: str = "yellow") -> list[Marker]:
    """One marker per ``lr_change`` event the run wrote, labelled ``old→new`` (group 0)."""
    return [Marker(step, label, style) for step, label in lr_changes(run)]


#: Style of the rewind markers (the LR changes' are yellow).
REWIND_STYLE = "magenta"


def rewind_markers(run: RunData, style: str = REWIND_STYLE) -> list[Marker]:
    """One marker per rewind, at the step the new branch starts from, labelled
    ``⟲ FROM→TO ×factor``."""
    return [Marker(rw.to_step, rw.describe(), style) for rw in run.rewinds]


def markers(run: RunData) -> list[Marker]:
    """A run's LR changes and rewinds."""
    return [*lr_markers(run), *rewind_markers(run)]


def abandoned_traces(run: RunData, name: str, colour: str) -> list[Trace]:
    """The points of metric ``name`` that rewinds abandoned, dimmed in ``colour``. They take
    no part in the y range (a blow-up that was rewound must not squash the live branch; it
    shows as ``▲`` at the top) and their NaN/Inf columns are not marked (they were resolved)."""
    style = f"dim {_plain(colour)}".strip()
    return [
        Trace(s, style, "", robust=False, marks=False)
        for s in run.abandoned.get(name, ())
        if len(s)
    ]


def _plain(style: str) -> str:
    """A style without its weight: the colour a dimmed copy is drawn in."""
    return " ".join(w for w in style.split() if w not in ("bold", "dim"))


def _abandoned_note(traces: list[Trace]) -> list[Entry]:
    """A legend entry when abandoned segments are drawn."""
    if not traces:
        return []
    return [Entry("━", traces[0].style, "abandoned", "dim", shrink=False)]


def run_style(i: int, run: RunData, view: ViewState) -> str:
    """The style of the ``i``-th overlaid run: its own colour, bold when it is the current run.

    Without colour (``view.mono``) only the current run is bold and the others are grey.
    """
    current = run.name == view.current
    if view.mono:
        return "bold" if current else "grey50"
    palette = colours(view)
    colour = palette[i % len(palette)]
    return f"bold {colour}" if current else colour


def colours(view: ViewState) -> tuple[str, ...]:
    """The ten run and series colours for the view's theme (light or dark)."""
    return RUN_COLOURS_LIGHT if view.light else RUN_COLOURS


def _overlay_notes(runs: list[RunData], view: ViewState, has_val: bool) -> list[Entry]:
    notes = [Entry("┄", "dim", "val", shrink=False)] if has_val else []
    names = [r.name for r in runs]
    if view.mono and view.current in names:
        # Without colour, lines differ by their tags and the current run by weight. Short
        # (the tag, not the name): at 80 columns the run names need the room.
        tag = run_tag(names.index(view.current))
        notes.insert(0, Entry("", "", f"bold: run {tag}", "dim", shrink=False))
    return notes


def no_loss_note(run: RunData) -> str:
    """What the loss panel says while a run has no loss: nothing yet, or how to name one."""
    if not run.records:
        lines = ["no loss logged yet"]
        if run.unread:
            lines += ["lines with numbers not understood:", *(f"  {u}" for u in run.unread[:3])]
            lines.append(f"read them with {REGEX_EXAMPLE}")
        return "\n".join(lines)
    names = [n for n in run.series if n not in ("lr", "grad_norm")][:6]
    lines = ["no training loss found in this log"]
    if names:
        lines.append(f"metrics read: {', '.join(names)}")
        lines.append("name the loss: lrwatch watch LOG --loss NAME  (a+b sums parts)")
    return "\n".join(lines)


def loss_spec(runs: list[RunData], view: ViewState, ema: EmaCache) -> ChartSpec:
    """Train loss (raw faint, smoothed bright) and val loss (dashed, a dot per evaluation).

    Overlaid, each run has a colour and a tag (``1``…``9``, ``0``) at the right end of its
    line and in the legend, which wraps (see :mod:`lrwatch.tui.legend`).
    """
    lo, hi = step_range(runs, view)
    traces: list[Trace] = []
    gone: list[Trace] = []  # the abandoned segments (one run alone)
    overlay = len(runs) > 1
    has_val = False
    for i, run in enumerate(runs):
        style = run_style(i, run, view) if overlay else "bold cyan"
        tag = run_tag(i) if overlay else ""
        loss = run.series.get("loss")
        if not overlay:  # first: the live branch is drawn over them
            gone = abandoned_traces(run, "loss", style)
            gone += abandoned_traces(run, "val_loss", "yellow")
            traces += gone
        if loss is not None and len(loss):
            if not overlay:
                traces.append(Trace(loss, "grey42", "raw"))
            smooth = loss
            if view.smoothing > 0:
                # Keyed by the rewinds too: the cut series regrows, its old EMA is stale.
                key = (run.name, "loss", len(run.rewinds))
                smooth = ema.smoothed(key, loss, view.smoothing)
            label = run.name if overlay else f"smoothed {view.smoothing:g}"
            # The raw trace sets the range; an EMA dragged up by a spike must not squash it.
            traces.append(Trace(smooth, style, label, robust=overlay, marks=False, tag=tag))
        val = run.series.get("val_loss")
        if val is not None and len(val):
            has_val = True
            # Dashed with a dot per evaluation: it differs from the smoothed loss without colour.
            val_style = style if overlay else "bold yellow"
            label = "" if overlay else "val"
            # (Overlaid runs evaluate at the same steps: their dots would stack into columns.)
            traces.append(Trace(val, val_style, label, dashed=True, points=not overlay))
    marks = [] if overlay else markers(runs[0]) if runs else []
    note = no_loss_note(runs[0]) if len(runs) == 1 else "no loss logged yet"
    spec = ChartSpec("loss", traces, lo, hi, view.log_y, marks, note, auto_log=view.auto_y)
    if overlay:
        spec.legend_rows, spec.extra = 3, _overlay_notes(runs, view, has_val)
    else:
        spec.extra = _abandoned_note(gone)
    return spec


def lr_spec(runs: list[RunData], view: ViewState) -> ChartSpec:
    """The LR per group on a log scale, with markers where it was changed."""
    lo, hi = step_range(runs, view)
    traces = []
    overlay = len(runs) > 1
    for i, run in enumerate(runs):
        for g, name in enumerate(lr_names(run)):
            if overlay:  # the runs' tags and colours, as in the loss legend
                tag = run_tag(i) if g == 0 else ""
                traces.append(Trace(run.series[name], run_style(i, run, view), "", tag=tag))
            else:
                palette = colours(view)
                colour = palette[(g + 1) % len(palette)]
                traces[:0] = abandoned_traces(run, name, colour)
                traces.append(Trace(run.series[name], colour, name))
    marks = [] if overlay else markers(runs[0]) if runs else []
    spec = ChartSpec("lr", traces, lo, hi, True, marks, "no learning rate logged")
    spec.full_range = True
    if overlay:
        spec.extra = [Entry("", "", "runs tagged as in the loss legend", "dim", shrink=False)]
    return spec


def grad_spec(runs: list[RunData], view: ViewState) -> ChartSpec | None:
    """Grad norm when any run logs it (None otherwise)."""
    traces = series_traces(runs, "grad_norm", view, colours(view)[2])
    if not traces:
        return None
    lo, hi = step_range(runs, view)
    if len(runs) == 1:
        traces[:0] = abandoned_traces(runs[0], "grad_norm", colours(view)[2])
    return ChartSpec("grad norm", traces, lo, hi, view.log_y, [], "", auto_log=view.auto_y)


def series_traces(runs: list[RunData], name: str, view: ViewState, colour: str) -> list[Trace]:
    """Series ``name`` of each run that logs it: one ``colour`` alone, overlaid runs by their
    colours and tags (as in the loss legend)."""
    series: list[tuple[RunData, Series]] = [
        (r, r.series[name]) for r in runs if len(r.series.get(name, ()))
    ]
    if len(runs) <= 1:
        return [Trace(s, colour, "") for _, s in series]
    index = {r.name: i for i, r in enumerate(runs)}
    return [
        Trace(s, run_style(index[r.name], r, view), "", tag=run_tag(index[r.name]))
        for r, s in series
    ]


#: The chart panels, top to bottom.
CHARTS = ("loss", "lr", "grad")


def build_chart(
    chart: str, runs: list[RunData], view: ViewState, ema: EmaCache
) -> ChartSpec | None:
    """The spec of panel ``chart`` (one of :data:`CHARTS`) for ``runs`` (None: nothing to draw)."""
    if not runs:
        return None
    if chart == "loss":
        return loss_spec(runs, view, ema)
    if chart == "lr":
        return lr_spec(runs, view)
    return grad_spec(runs, view)
