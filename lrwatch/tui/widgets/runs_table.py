"""The runs table: every run of a sweep on one screen, sorted, filtered and marked.

:class:`RunsTable` draws only the rows on screen through Textual's line API, so a thousand
runs cost what thirty do, and a refresh is a sort of plain rows (:mod:`lrwatch.tui.runs`),
not a rebuild of widgets. :class:`RunsScreen` holds it with its header, a filter input and
the footer; the app fills it (:meth:`RunsScreen.update_rows`) and opens the run the user
picks (:class:`RunsScreen.Open`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.screen import Screen
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import Footer, Static

from lrwatch.tui.runs import (
    COLUMNS,
    SORT_KEYS,
    Column,
    RunRow,
    cell_text,
    matches,
    sort_rows,
    widths,
)
from lrwatch.tui.widgets.header import StatusLine

_MARK = "✓ "
_MARK_W = len(_MARK)


def row_text(row: RunRow, cols: list[int], marked: bool) -> Text:
    """One table line: the mark, then each cell cut or padded to its column."""
    line = Text(_MARK if marked else " " * _MARK_W, style="bold green" if marked else "")
    return _cells(line, cols, lambda column: cell_text(row, column.key))


def header_text(cols: list[int], sort_key: str, reverse: bool) -> Text:
    """The column titles, the sorted one marked with its direction."""

    def title(column: Column) -> Text:
        if column.key != sort_key:
            return Text(column.title, style="bold")
        return Text(column.title + (" ↓" if reverse else " ↑"), style="bold underline")

    return _cells(Text(" " * _MARK_W), cols, title)


def _cells(line: Text, cols: list[int], cell: Callable[[Column], Text]) -> Text:
    """``line`` with each shown column's ``cell`` appended, cut or padded to its width (the
    rows and the header line up because both are laid out here). A left-aligned cell's
    style runs on under its padding (the sorted title's underline spans its column)."""
    for column, width in zip(COLUMNS, cols, strict=True):
        if width <= 0:
            continue
        text = cell(column)
        text.truncate(width, overflow="ellipsis")
        pad = " " * (width - text.cell_len)
        if column.right:
            line.append(pad)
        else:
            text.append(pad)
        line.append_text(text)
        line.append(" ")
    return line


@dataclass
class TableState:
    """What the user chose: sort column and direction, filter, marked runs."""

    sort_key: str = "name"
    reverse: bool = False
    query: str = ""
    marked: set[str] = field(default_factory=set)


class RunsTable(ScrollView, can_focus=True):
    """The rows (filtered, sorted) with a cursor; draws only what is on screen."""

    DEFAULT_CSS = """
    RunsTable { height: 1fr; }
    RunsTable > .runs-cursor { background: $accent 40%; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"runs-cursor"}
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
    ]

    class Moved(Message):
        """The cursor is on another run."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    def __init__(self, state: TableState, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = state
        self.all_rows: dict[str, RunRow] = {}
        self.rows: list[RunRow] = []  #: shown: filtered and sorted
        self.cursor = 0
        self._cols: list[int] = []
        #: Rendered rows by run name, reused while the run's row and mark are the same: a
        #: refresh of a few changed runs does not rebuild every visible line.
        self._lines: dict[str, tuple[RunRow, bool, Strip]] = {}

    # -- data ------------------------------------------------------------------------------

    @property
    def current(self) -> RunRow | None:
        """The row under the cursor."""
        return self.rows[self.cursor] if 0 <= self.cursor < len(self.rows) else None

    def set_rows(self, rows: Iterable[RunRow], replace_all: bool = False) -> None:
        """Update (or, ``replace_all``, replace) rows by run name, then filter and sort again.

        The cursor stays on its run when the order changes under it.
        """
        if replace_all:
            self.all_rows = {}
        for row in rows:
            self.all_rows[row.name] = row
        self.reorder()

    def reorder(self) -> None:
        """Apply the filter and the sort of :attr:`state` (after a change of either)."""
        keep = self.current.name if self.current is not None else None
        st = self.state
        shown = [r for r in self.all_rows.values() if not st.query or matches(r, st.query)]
        self.rows = sort_rows(shown, st.sort_key, st.reverse)
        names = [r.name for r in self.rows]
        self.cursor = names.index(keep) if keep in names else min(self.cursor, len(names) - 1)
        self.cursor = max(self.cursor, 0)
        self.virtual_size = Size(self.size.width, len(self.rows))
        self.refresh()

    # -- drawing ---------------------------------------------------------------------------

    def on_resize(self, event: events.Resize) -> None:
        self.virtual_size = Size(event.size.width, len(self.rows))

    def column_widths(self) -> list[int]:
        """The widths at the widget's width (the header draws with the same)."""
        return widths(max(40, self.size.width - _MARK_W - 1))

    def render_line(self, y: int) -> Strip:
        index = y + int(self.scroll_offset.y)
        width = self.size.width
        base = self.rich_style
        if index >= len(self.rows):
            return Strip.blank(width, base)
        cols = self.column_widths()
        if cols != self._cols:
            self._cols, self._lines = cols, {}
        row = self.rows[index]
        marked = row.name in self.state.marked
        cached = self._lines.get(row.name)
        if cached is not None and cached[0] == row and cached[1] == marked:
            strip = cached[2]
        else:
            text = row_text(row, cols, marked)
            segments = list(text.render(self.app.console, end=""))
            strip = Strip(Segment.apply_style(segments, base), text.cell_len)
            self._lines[row.name] = (row, marked, strip)
        if index == self.cursor:
            cursor = self.get_component_rich_style("runs-cursor")
            strip = Strip(Segment.apply_style(list(strip), post_style=cursor))
        return strip.crop_extend(0, width, base)

    # -- keys ------------------------------------------------------------------------------

    def move_to(self, index: int) -> None:
        """Put the cursor on row ``index`` (clamped) and scroll it into view."""
        if not self.rows:
            return
        self.cursor = max(0, min(len(self.rows) - 1, index))
        top, height = int(self.scroll_offset.y), max(1, self.size.height)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)
        self.refresh()
        row = self.current
        if row is not None:
            self.post_message(self.Moved(row.name))

    def action_move(self, delta: int) -> None:
        """Cursor up or down."""
        self.move_to(self.cursor + delta)

    def action_page(self, delta: int) -> None:
        """A screenful up or down."""
        self.move_to(self.cursor + delta * max(1, self.size.height - 1))

    def action_jump(self, index: int) -> None:
        """First or last row."""
        self.move_to(index if index >= 0 else len(self.rows) - 1)

    def on_click(self, event: events.Click) -> None:
        self.move_to(int(self.scroll_offset.y) + event.y)


class RunsScreen(Screen[None]):
    """The table of all runs; Enter opens one (with the marked ones overlaid)."""

    DEFAULT_CSS = """
    RunsScreen { layout: vertical; }
    RunsScreen > #runs-title { height: 1; padding: 0 1; background: $panel; }
    RunsScreen > #runs-header { height: 1; }
    RunsScreen > #runs-filter { display: none; height: 1; padding: 0 1; background: $panel; }
    RunsScreen > #runs-filter.-open { display: block; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("space", "mark", "Mark"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort(1)", "Sort"),
        Binding("S", "reverse", "Reverse"),
        Binding("escape", "clear", "Clear", show=False),
        Binding("u", "unmark", "Unmark all", show=False),
    ]

    class Open(Message):
        """The user opened ``name`` (``marked``: the runs to overlay with it, maybe none)."""

        def __init__(self, name: str, marked: list[str]) -> None:
            super().__init__()
            self.name = name
            self.marked = marked

    def __init__(self, title: str = "runs", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state = TableState()
        self.title_text = title
        self.note = ""
        self._chrome = ("", "")  # the title and header texts on screen
        self.table = RunsTable(self.state, id="runs-table")
        self.header = Static(id="runs-header")
        self.title_w = Static(id="runs-title")
        #: The filter line: typed into while :attr:`filtering` (keys are read by the screen
        #: itself, not by a focused Input: keys typed in a burst right after ``/`` would
        #: otherwise reach the table's bindings before the focus moved).
        self.filter_w = Static(id="runs-filter")
        self.filtering = False
        #: Acknowledgements and refusals of LR changes made from a row (the app's status line
        #: mirrors into it).
        self.status_w = StatusLine(id="runs-status")

    def compose(self) -> ComposeResult:
        yield self.title_w
        yield self.header
        yield self.table
        yield self.filter_w
        yield self.status_w
        yield Footer()

    def on_mount(self) -> None:
        self.table.focus()
        self._redraw_chrome()

    def on_resize(self) -> None:
        self._redraw_chrome()

    def update_rows(
        self, rows: Iterable[RunRow], replace_all: bool = False, note: str = ""
    ) -> None:
        """New or changed rows (the app computes them); the table re-sorts and redraws.
        ``note``: what is still being worked out (shown in the title)."""
        self.table.set_rows(rows, replace_all)
        self.note = note
        self._redraw_chrome()

    def _redraw_chrome(self) -> None:
        rows = self.table.all_rows.values()
        counts: dict[str, int] = {}
        for r in rows:
            counts[r.state] = counts.get(r.state, 0) + 1
        shown = len(self.table.rows)
        parts = [f"{len(self.table.all_rows):,} runs"]
        if self.note:  # first: at 80 columns the end of the line is cut
            parts.append(self.note)
        if self.state.query:
            parts.append(f"filter “{self.state.query}”: {shown:,} shown")
        marked = len(self.state.marked)
        if marked:
            parts.append(f"{marked} marked (enter: overlay)")
        parts += [f"{n} {state}" for state, n in sorted(counts.items(), key=lambda x: -x[1])]
        # One line that never wraps (a wrap would hide its end): the counts first, then the
        # watched paths, which say the least and are cut first.
        title = Text(" · ".join(parts), no_wrap=True, overflow="ellipsis")
        title.stylize("bold", 0, len(parts[0]))
        title.append(f"  {self.title_text}", style="dim")
        cols = self.table.column_widths() if self.table.size.width else widths(100)
        header = header_text(cols, self.state.sort_key, self.state.reverse)
        # Only what changed, and without a layout pass (both are one row high): an update
        # with layout re-laid out and repainted the whole screen at every refresh.
        if title.plain != self._chrome[0]:
            self.title_w.update(title, layout=False)
        if header.plain != self._chrome[1]:
            self.header.update(header, layout=False)
        self._chrome = (title.plain, header.plain)

    # -- actions -----------------------------------------------------------------------------

    def action_open(self) -> None:
        """Open the run under the cursor; with runs marked, open their overlay instead (the
        cursor's run in front when it is one of them)."""
        row = self.table.current
        marked = [r.name for r in self.table.rows if r.name in self.state.marked]
        if marked:
            self.post_message(
                self.Open(row.name if row and row.name in marked else marked[0], marked)
            )
        elif row is not None:
            self.post_message(self.Open(row.name, []))

    def action_mark(self) -> None:
        """Mark or unmark the run under the cursor (marked runs are overlaid), then move down."""
        row = self.table.current
        if row is None:
            return
        self.state.marked.symmetric_difference_update({row.name})
        self.table.action_move(1)
        self._redraw_chrome()

    def action_unmark(self) -> None:
        """Clear every mark."""
        if self.state.marked:
            self.state.marked.clear()
            self.table.reorder()
            self._redraw_chrome()

    def action_filter(self) -> None:
        """Type a filter (names, states, symptoms); Enter keeps it, Escape clears it."""
        self.filtering = True
        self._show_filter()

    def on_key(self, event: events.Key) -> None:
        """While filtering, keys edit the filter (before any binding sees them).

        ``/`` starts it here too, not only through its binding: a key reaches the app's
        bindings after it bubbled up, so in a burst (``/crashed⏎`` typed fast or pasted) the
        next keys would pass this screen before the binding turned filtering on.
        """
        if not self.filtering:
            if event.key == "slash":
                event.stop()
                event.prevent_default()
                self.action_filter()
            return
        if event.key == "enter":
            self.filtering = False
        elif event.key == "escape":
            self.filtering = False
            self.state.query = ""
        elif event.key == "backspace":
            self.state.query = self.state.query[:-1]
        elif event.character and event.is_printable:
            self.state.query += event.character
        else:
            return  # arrows and the like still move the cursor
        event.stop()
        event.prevent_default()
        self.table.reorder()
        self._show_filter()
        self._redraw_chrome()

    def _show_filter(self) -> None:
        line = Text("/ ", style="bold")
        line.append(self.state.query)
        if self.filtering:
            line.append("▏", style="blink")
            line.append(
                "  enter keeps · esc clears · names, states, symptoms; -word excludes", "dim"
            )
        self.filter_w.update(line)
        self.filter_w.set_class(self.filtering or bool(self.state.query), "-open")

    def action_clear(self) -> None:
        """Escape: clear the filter, or the marks."""
        if self.state.query:
            self.state.query = ""
            self.table.reorder()
            self._show_filter()
        elif self.state.marked:
            self.action_unmark()
        self._redraw_chrome()

    def action_sort(self, step: int) -> None:
        """Sort on the next column (``s``)."""
        i = SORT_KEYS.index(self.state.sort_key)
        key = SORT_KEYS[(i + step) % len(SORT_KEYS)]
        self.sort_by(key)

    def sort_by(self, key: str, reverse: bool | None = None) -> None:
        """Sort on column ``key``; the numbers' natural direction is the worst first for
        findings and state, the lowest first for the rest."""
        self.state.sort_key = key
        self.state.reverse = bool(reverse)
        self.table.reorder()
        self._redraw_chrome()

    def action_reverse(self) -> None:
        """Reverse the sort (``S``)."""
        self.state.reverse = not self.state.reverse
        self.table.reorder()
        self._redraw_chrome()

    def on_click(self, event: events.Click) -> None:
        """A click on a column title sorts on it (again: reverses)."""
        if event.widget is not self.header:
            return
        x = event.x - _MARK_W
        for column, width in zip(COLUMNS, self.table.column_widths(), strict=True):
            if width <= 0:
                continue
            if x < width + 1:
                same = column.key == self.state.sort_key
                self.sort_by(column.key, not self.state.reverse if same else False)
                return
            x -= width + 1
