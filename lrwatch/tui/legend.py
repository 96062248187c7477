"""Chart legends that fit: wrapped onto a few lines, names shortened only when they must be.

With 6-10 overlaid runs a one-line legend was cut at 80 columns and the last runs had no
entry, so nobody could tell which line was which. Here the title and the entries wrap onto
up to ``max_rows`` lines; when even that is too narrow, every label is cut to the longest
length that fits (the head and the tail of a name are kept: ``mome…lr1``), never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text


@dataclass(frozen=True)
class Entry:
    """One legend entry: a glyph drawn in the trace's style, then the label."""

    glyph: str
    style: str
    label: str
    label_style: str = ""
    shrink: bool = True  #: may be shortened to fit (run names); notes are kept whole


def shorten(label: str, width: int) -> str:
    """``label`` cut to ``width`` characters, keeping its head and tail around an ellipsis.

    Run names often differ at the end (``adam-0.001`` / ``adam-lr1``): the tail must stay.
    """
    if len(label) <= width:
        return label
    if width <= 1:
        return label[:width]
    tail = (width - 1) // 2
    head = width - 1 - tail
    return label[:head] + "…" + (label[-tail:] if tail else "")


def _items(entries: list[Entry], cap: int | None) -> list[Text]:
    out = []
    for e in entries:
        t = Text("  ")
        t.append(e.glyph, style=e.style)
        label = e.label if cap is None or not e.shrink else shorten(e.label, cap)
        if label:
            t.append(" " + label, style=e.label_style or None)
        out.append(t)
    return out


def _flow(title: Text, items: list[Text], width: int) -> list[Text]:
    rows = [title.copy()]
    for item in items:
        row = rows[-1]
        if row.cell_len + item.cell_len > width and row.cell_len > 0 and len(rows[-1]) > 0:
            # A continued line starts without the two spaces of separation.
            rows.append(item[2:] if item.plain.startswith("  ") else item)
        else:
            row.append_text(item)
    return rows


def legend_lines(title: Text, entries: list[Entry], width: int, max_rows: int = 1) -> list[Text]:
    """The title and the legend entries in at most ``max_rows`` lines of ``width`` cells.

    Entries wrap to the next line; if they still do not fit, labels are shortened to the
    longest common length that does (down to 3 characters), and only then is the last line
    cut with ``…``.
    """
    max_rows = max(1, max_rows)
    rows = _flow(title, _items(entries, None), width)
    longest = max((len(e.label) for e in entries if e.shrink), default=0)
    cap = longest
    while len(rows) > max_rows and cap > 3:
        cap -= 1
        rows = _flow(title, _items(entries, cap), width)
    if len(rows) > max_rows:
        rows = rows[:max_rows]
        last = rows[-1]
        if last.cell_len >= width:
            last.truncate(width - 1)
        last.append("…", style="dim")
    for row in rows:
        row.truncate(width)
    return rows
