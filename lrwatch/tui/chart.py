"""A pure braille chart renderer: series in, lines of Rich ``Text`` out.

Every trace is reduced by the store to min/max per braille dot column (M4), so a frame costs
O(width x height) whatever the number of points. A column is drawn as the vertical run from
its min to its max joined to the previous column's last value, which keeps spikes, and the
columns where a NaN or an infinity fell get a ``×`` mark. Widgets call :func:`render_chart`;
tests call it directly. docs/architecture.md says why this is not textual-plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rich.text import Text

from lrwatch.numfmt import fmt_num
from lrwatch.scale import (
    fmt_distinct,
    fmt_step,
    log_ticks,
    nice_ticks,
    robust_range,
    spans_decades,
)
from lrwatch.store import Reduced, Series
from lrwatch.tui.legend import Entry, legend_lines

GUTTER = 8  # y tick labels (7) + the axis line
# Braille dot bits by (row within cell, column within cell).
_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint16)


@dataclass
class Trace:
    """One line on a chart."""

    series: Series
    style: str
    label: str = ""
    robust: bool = True  #: takes part in the y-range
    marks: bool = True  #: its NaN/Inf columns are marked
    tag: str = ""  #: a character drawn at the line's right end (which run it is) and in the legend
    dashed: bool = (
        False  #: drawn in every other cell, so it differs from solid lines without colour
    )
    points: bool = False  #: a ``•`` on each point when they are sparse (evaluations)


@dataclass
class Marker:
    """A vertical marker at a step (an LR change), with a short label."""

    step: int
    label: str
    style: str = "yellow"


@dataclass
class ChartSpec:
    """What to draw: traces over the step range [lo, hi], optional log-y, markers."""

    title: str
    traces: list[Trace]
    lo: int
    hi: int
    log_y: bool = False
    markers: list[Marker] = field(default_factory=list)
    empty_note: str = "no data yet"
    legend_rows: int = 1  #: lines the title and legend may take (overlays of many runs wrap)
    extra: list[Entry] = field(default_factory=list)  #: legend entries after the traces'
    #: Show every value (no outlier cut): an LR is set, not measured, and a schedule that
    #: decays to ~0 (cosine) must be drawn to its end, not clipped as an outlier.
    full_range: bool = False
    #: Draw log-y by itself when the data span more than ~3 decades (the view's "auto" y).
    auto_log: bool = False
    #: A fixed y-range (percentages: 0-100) instead of one from the data.
    y_range: tuple[float, float] | None = None


def _transform(y: np.ndarray, log_y: bool) -> np.ndarray:
    if not log_y:
        return y
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)


def _columns(red: Reduced, lo: int, span: int, ncols: int) -> np.ndarray:
    return np.clip((red.x0 - lo) * ncols // span, 0, ncols - 1).astype(np.int64)


def _dots_for(
    red: Reduced, cols: np.ndarray, ymap: tuple[float, float], log_y: bool, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dot mask of one trace, and the dot columns clipped above / below the range."""
    dots_h, dots_w = shape
    y_lo, y_hi = ymap
    scale = (dots_h - 1) / (y_hi - y_lo)
    top_v = _transform(red.ymax, log_y)
    bot_v = _transform(red.ymin, log_y)
    last_v = _transform(np.where(np.isfinite(red.last), red.last, np.nan), log_y)
    ok = np.isfinite(top_v) & np.isfinite(bot_v)
    top = np.full(dots_w, dots_h, dtype=np.int64)
    bot = np.full(dots_w, -1, dtype=np.int64)
    clip_hi = np.zeros(dots_w, dtype=bool)
    clip_lo = np.zeros(dots_w, dtype=bool)
    idx = np.flatnonzero(ok)
    if len(idx):
        # Vectorised (a frame must cost little while records stream in): each column spans
        # its min..max, joined to the previous drawn column's last value when it is adjacent.
        c = cols[idx]
        r_top = np.rint((y_hi - top_v[idx]) * scale)
        r_bot = np.rint((y_hi - bot_v[idx]) * scale)
        lv = last_v[idx]
        with np.errstate(invalid="ignore"):
            r_last = np.where(np.isfinite(lv), np.rint((y_hi - lv) * scale), r_bot)
        prev_row = np.clip(r_last, 0, dots_h - 1)
        join = np.zeros(len(idx), dtype=bool)
        join[1:] = c[1:] - c[:-1] <= 2
        prev = np.empty(len(idx))
        prev[0] = 0.0
        prev[1:] = prev_row[:-1]
        lo_r = np.where(join, np.minimum(r_top, prev), r_top)
        hi_r = np.where(join, np.maximum(r_bot, prev), r_bot)
        np.logical_or.at(clip_hi, c, r_top < 0)
        np.logical_or.at(clip_lo, c, r_bot > dots_h - 1)
        np.minimum.at(top, c, np.clip(lo_r, 0, dots_h).astype(np.int64))
        np.maximum.at(bot, c, np.clip(hi_r, -1, dots_h - 1).astype(np.int64))
        fv = _transform(np.where(np.isfinite(red.first), red.first, np.nan), log_y)[idx]
        with np.errstate(invalid="ignore"):
            entry = np.where(np.isfinite(fv), np.rint((y_hi - fv) * scale), r_top)
        _bridge(top, bot, c, prev_row, entry, dots_h)
    rows = np.arange(dots_h)[:, None]
    mask = (rows >= top[None, :]) & (rows <= bot[None, :])
    return mask, clip_hi, clip_lo


def _bridge(
    top: np.ndarray,
    bot: np.ndarray,
    c: np.ndarray,
    exit_row: np.ndarray,
    entry_row: np.ndarray,
    dots_h: int,
) -> None:
    """Draw straight segments across empty columns between consecutive points.

    Sparse series (an eval every 500 steps, a log line every 10) would otherwise be dots.
    The loop runs once per gap, and gaps are at most the chart's width.
    """
    for i in np.flatnonzero(np.diff(c) > 2) + 1:
        c0, c1 = int(c[i - 1]), int(c[i])
        r0, r1 = float(exit_row[i - 1]), float(entry_row[i])
        cols = np.arange(c0 + 1, c1)
        at = r0 + (r1 - r0) * (cols - c0) / (c1 - c0)
        nxt = r0 + (r1 - r0) * (cols + 1 - c0) / (c1 - c0)
        lo, hi = np.rint(np.minimum(at, nxt)), np.rint(np.maximum(at, nxt))
        seen = (hi >= 0) & (lo <= dots_h - 1)  # off-range stretches stay blank
        cs = cols[seen]
        top[cs] = np.minimum(top[cs], np.clip(lo[seen], 0, dots_h - 1).astype(np.int64))
        bot[cs] = np.maximum(bot[cs], np.clip(hi[seen], 0, dots_h - 1).astype(np.int64))


def _cell_bits(mask: np.ndarray, h: int, w: int) -> np.ndarray:
    m = mask.reshape(h, 4, w, 2).astype(np.uint16)
    return np.einsum("rawb,ab->rw", m, _BITS)


def _ytick_rows(
    lo: float, hi: float, h: int, log_y: bool, flat: float | None = None
) -> dict[int, str]:
    """Row -> label of the y ticks; ``flat``: the one value of a flat chart (labelled alone)."""
    real = (lambda v: 10**v) if log_y else (lambda v: v)
    if flat is not None:
        # A constant LR: one label on its line says it all (a padded range's ends say nothing).
        row = int(np.rint((hi - flat) / (hi - lo) * (4 * h - 1))) // 4
        return {min(max(row, 0), h - 1): fmt_num(real(flat))}
    ticks = log_ticks(lo, hi, max(2, h // 3)) if log_y else nice_ticks(lo, hi, max(2, h // 3))
    values: dict[int, float] = {}
    for t in ticks:
        row = round((hi - t) / (hi - lo) * (h - 1))
        if 0 <= row < h and row not in values:
            values[row] = real(t)
    if len(values) < 2 and h >= 2:
        # One label gives no scale: label the top and bottom rows with their own values.
        for row, v in ((0, hi), (h - 1, lo)):
            if row not in values and all(abs(row - r) > 1 for r in values):
                values[row] = float(f"{real(v):.3g}")
    rows = sorted(values)
    # Close values (a slow cosine decay of the LR) need more digits to tell them apart.
    return dict(zip(rows, fmt_distinct([values[r] for r in rows]), strict=True))


def _flat_value(ranges: list[tuple[np.ndarray, np.ndarray]]) -> float | None:
    """The value when every finite point of the ranged traces is the same, else None."""
    lows = [a[np.isfinite(a)] for a, _ in ranges]
    highs = [b[np.isfinite(b)] for _, b in ranges]
    if not any(len(x) for x in lows):
        return None
    lo = min(float(x.min()) for x in lows if len(x))
    hi = max(float(x.max()) for x in highs if len(x))
    return lo if hi == lo else None


def _x_axis(lo: int, hi: int, w: int) -> Text:
    line = [" "] * w
    span = max(hi - lo, 1)
    for t in nice_ticks(lo, hi, max(2, w // 12)):
        label = fmt_step(t)
        c = round((t - lo) / span * (w - 1))
        start = min(max(c - len(label) // 2, 0), w - len(label))
        if start < 0 or any(ch != " " for ch in line[max(start - 1, 0) : start + len(label) + 1]):
            continue
        line[start : start + len(label)] = list(label)
    return Text(" " * GUTTER + "".join(line), style="dim")


def _title(spec: ChartSpec, width: int, rows: int, log_y: bool) -> list[Text]:
    t = Text(spec.title, style="bold")
    if log_y:
        t.append(" (log)" if spec.log_y else " (log, auto)", style="dim")
    entries = [
        # A tagged run drawn bold (the current one of an overlay) has its name bold too.
        Entry(
            tr.tag or ("┄" if tr.dashed else "━"),
            tr.style,
            tr.label,
            "bold" if tr.tag and tr.style.startswith("bold") else "",
        )
        for tr in spec.traces
        if tr.label
    ]
    entries += spec.extra
    if any(tr.series.nonfinite for tr in spec.traces if tr.marks):
        entries.append(Entry("×", "bold red", "NaN/Inf"))
    return legend_lines(t, entries, width, rows)


def render_chart(spec: ChartSpec, width: int, height: int) -> list[Text]:
    """Render ``spec`` into ``height`` lines of ``width`` cells (title, plot rows, x axis)."""
    plot_w = width - GUTTER
    dots_w = max(plot_w, 1) * 2
    lo, hi = spec.lo, max(spec.hi, spec.lo)
    span = hi - lo + 1
    reds = [tr.series.reduce(dots_w, lo, hi) for tr in spec.traces]
    log_y = spec.log_y or (spec.auto_log and auto_log_wanted(spec, reds))
    # The legend may wrap (overlays of many runs), but the plot keeps half of the rows.
    lines = _title(spec, width, min(spec.legend_rows, max(1, (height - 2) // 2)), log_y)
    plot_h = height - 1 - len(lines)
    if plot_w < 4 or plot_h < 1:
        return lines[:height]
    dots_h = plot_h * 4
    ranges = [
        (_transform(r.ymin, log_y), _transform(r.ymax, log_y))
        for r, tr in zip(reds, spec.traces, strict=True)
        if tr.robust
    ]
    yr = robust_range(
        [a for a, _ in ranges], [b for _, b in ranges], 0.0 if spec.full_range else 0.02
    )
    if yr is not None and spec.y_range is not None:
        yr = spec.y_range
    if yr is None:
        notes = [Text(" " * GUTTER + n, style="dim italic") for n in spec.empty_note.split("\n")]
        blank = [Text("") for _ in range(max(0, plot_h - len(notes)))]
        return [*lines, *notes, *blank, Text("")][:height]
    bits = np.zeros((plot_h, plot_w), dtype=np.uint16)
    owner = np.full((plot_h, plot_w), -1, dtype=np.int64)
    overlay: dict[tuple[int, int], tuple[str, str]] = {}
    for k, (tr, red) in enumerate(zip(spec.traces, reds, strict=True)):
        if len(red) == 0:
            continue
        cols = _columns(red, lo, span, dots_w)
        mask, clip_hi, clip_lo = _dots_for(red, cols, yr, log_y, (dots_h, dots_w))
        if tr.dashed:
            mask[:, (np.arange(dots_w) // 2) % 2 == 1] = False
        cb = _cell_bits(mask, plot_h, plot_w)
        bits |= cb
        owner[cb > 0] = k
        for c in np.flatnonzero(clip_hi):
            overlay[(0, int(c) // 2)] = ("▲", tr.style)
        for c in np.flatnonzero(clip_lo):
            overlay[(plot_h - 1, int(c) // 2)] = ("▼", tr.style)
        if tr.marks:
            for c in np.unique(cols[red.nan | red.inf]):
                overlay[(plot_h - 1, int(c) // 2)] = ("×", "bold red")
        if tr.points or tr.tag:
            _mark_points(tr, red, cols, yr, log_y, (plot_h, plot_w), overlay)
    _place_markers(spec.markers, lo, span, plot_w, bits, overlay)
    ticks = _ytick_rows(yr[0], yr[1], plot_h, log_y, _flat_value(ranges))
    styles = [tr.style for tr in spec.traces]
    for r in range(plot_h):
        # The tick label's dim is a span, not the row's base style: as the base it dimmed
        # every trace on the row after it.
        line = Text(f"{ticks.get(r, ''):>7}")
        line.stylize("dim")
        line.append("┤" if r in ticks else "│", style="dim")
        _append_row(line, r, bits, owner, overlay, styles)
        lines.append(line)
    lines.append(_x_axis(lo, hi, plot_w))
    return lines


def auto_log_wanted(spec: ChartSpec, reds: list[Reduced]) -> bool:
    """Whether ``spec``'s ranged traces, as reduced for the visible window, want a log axis."""
    ranged = [r for r, tr in zip(reds, spec.traces, strict=True) if tr.robust and len(r)]
    q = 0.0 if spec.full_range else 0.02
    return spans_decades([r.ymin for r in ranged], [r.ymax for r in ranged], q=q)


def _mark_points(
    tr: Trace,
    red: Reduced,
    cols: np.ndarray,
    ymap: tuple[float, float],
    log_y: bool,
    shape: tuple[int, int],
    overlay: dict[tuple[int, int], tuple[str, str]],
) -> None:
    """``•`` on the points of a sparse trace, and its tag just right of its last point."""
    plot_h, plot_w = shape
    y_lo, y_hi = ymap
    v = _transform(np.where(np.isfinite(red.last), red.last, np.nan), log_y)
    ok = np.flatnonzero(np.isfinite(v))
    if not len(ok):
        return
    # Off-range values (a cosine LR decayed to ~0) put the tag on the edge they went past.
    rows = np.clip(np.rint((y_hi - v[ok]) / (y_hi - y_lo) * (plot_h - 1)), 0, plot_h - 1)
    rows = rows.astype(np.int64)
    cells = cols[ok] // 2
    inside = (v[ok] >= y_lo) & (v[ok] <= y_hi)
    if tr.points and len(ok) * 3 <= plot_w:  # dense points would be one thick line of •
        for r, c in zip(rows[inside].tolist(), cells[inside].tolist(), strict=True):
            overlay.setdefault((r, c), ("•", tr.style))
    if tr.tag:
        _place_tag(tr, int(rows[-1]), min(int(cells[-1]) + 1, plot_w - 1), plot_h, overlay)


def _place_tag(
    tr: Trace, r0: int, c0: int, plot_h: int, overlay: dict[tuple[int, int], tuple[str, str]]
) -> None:
    """The tag at (r0, c0), or the nearest cell not holding another tag (then one column left)."""
    style = tr.style if tr.style.startswith("bold") else f"bold {tr.style}"
    for c in (c0, c0 - 1, c0 - 2):
        for d in range(2 * plot_h):
            r = r0 + (d + 1) // 2 * (1 if d % 2 else -1)
            if 0 <= r < plot_h and c >= 0 and overlay.get((r, c), (" ", ""))[0] not in _TAGS:
                overlay[(r, c)] = (tr.tag, style)
                return


#: Run tags of overlays: 1-9, 0, then letters.
_TAGS = "1234567890abcdefghijklmnopqrstuvwxyz"


def run_tag(i: int) -> str:
    """The tag of the ``i``-th overlaid run."""
    return _TAGS[i % len(_TAGS)]


def _place_markers(
    markers: list[Marker],
    lo: int,
    span: int,
    plot_w: int,
    bits: np.ndarray,
    overlay: dict[tuple[int, int], tuple[str, str]],
) -> None:
    plot_h = bits.shape[0]
    label_end = -1
    for mk in sorted(markers, key=lambda m: m.step):
        c = (mk.step - lo) * plot_w // span
        if not 0 <= c < plot_w:
            continue
        for r in range(plot_h):
            if bits[r, c] == 0 and (r, c) not in overlay:
                overlay[(r, c)] = ("│", mk.style)
        label = mk.label
        start = c + 1
        if start + len(label) > plot_w:  # near the right edge: put the label on the left
            start = max(c - len(label), label_end + 1, 0)
            label = label[: max(c - start, 0)]
        if label and start > label_end and plot_h > 1:
            for i, ch in enumerate(label):
                overlay[(0, start + i)] = (ch, f"bold {mk.style}")
            label_end = start + len(label)


def _append_row(
    line: Text,
    r: int,
    bits: np.ndarray,
    owner: np.ndarray,
    overlay: dict[tuple[int, int], tuple[str, str]],
    styles: list[str],
) -> None:
    w = bits.shape[1]
    codes = np.where(bits[r] > 0, 0x2800 + bits[r], 0x20).astype(np.uint32)
    style_ids = np.where(bits[r] > 0, owner[r], -1)
    extra: list[str] = []
    for (orow, c), (ch, st) in overlay.items():
        if orow == r and 0 <= c < w:
            codes[c] = ord(ch)
            extra.append(st)
            style_ids[c] = len(styles) + len(extra) - 1
    names = [*styles, *extra]
    text = codes.view(f"<U{w}")[0] if w else ""
    cuts = [0, *(np.flatnonzero(style_ids[1:] != style_ids[:-1]) + 1).tolist()]
    start, style = 0, None
    for a in cuts:
        sid = int(style_ids[a])
        st = names[sid] if sid >= 0 else ""
        if a and st != style:  # adjacent runs of one style are one span
            line.append(text[start:a], style=style or None)
            start = a
        style = st
    if w:
        line.append(text[start:], style=style or None)
