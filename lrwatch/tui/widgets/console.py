"""The console pane: the tail of a run's stdout/stderr, below the charts, searchable.

A thin widget over :class:`~lrwatch.session.console.ConsoleBuffer` (the headless tail, with
tqdm's carriage-return redraws collapsed) and one pure function, :func:`console_text`, that
styles a line. The file is read in a short thread job every :data:`POLL_EVERY` seconds while
the pane is open; the lines are drawn through the line API (only the visible rows).

Keys: ``c`` (the app's) opens and closes it; in the pane ``ctrl+f`` searches (enter /
shift+enter: next / previous match, escape closes the search), ``n``/``N`` jump between
matches while the search is closed (else they are the app's next/previous run).
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.timer import Timer
from textual.widgets import Input, Static

from lrwatch.session.console import TRACEBACK, ConsoleBuffer, find, match_spans, traceback_line

#: Seconds between reads of the console file while the pane is open.
POLL_EVERY = 0.25

MATCH = "black on yellow"
CURRENT_MATCH = "bold black on dark_orange"


def console_text(line: str, query: str = "", current: bool = False) -> Text:
    """One console line as shown: matches of ``query`` marked (brighter on the ``current``
    match's line), a traceback's first line in red."""
    text = Text(line, style="bold red" if line.startswith(TRACEBACK) else "")
    for start, end in match_spans(line, query):
        text.stylize(CURRENT_MATCH if current else MATCH, start, end)
    return text


class ConsoleView(ScrollView, can_focus=True):
    """The console's lines, drawn a visible row at a time; follows the end unless scrolled up."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "jump(1)", "Next match", show=False),
        Binding("N", "jump(-1)", "Prev match", show=False),
    ]

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.lines: list[str] = []
        self.query_text = ""
        self.matches: list[int] = []
        self.current = -1  #: index into ``matches`` of the match jumped to (-1: none)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``n``/``N`` jump between matches only while there are some (otherwise they are
        the app's next/previous run, even with the console focused)."""
        return bool(self.matches) if action == "jump" else True

    def set_lines(self, lines: list[str]) -> None:
        """Show ``lines``; stay at the end if the view was there (a live tail)."""
        at_end = self.scroll_y >= self.max_scroll_y
        self.lines = lines
        self.matches = find(lines, self.query_text)
        self.current = min(self.current, len(self.matches) - 1)
        width = max((cell_len(line) for line in lines), default=0)
        self.virtual_size = Size(width, len(lines))
        if at_end and not self.query_text:
            self.scroll_to_line(len(lines))
        self.refresh()

    def search(self, query: str) -> None:
        """Mark the lines matching ``query`` and jump to the first at or below the view."""
        self.query_text = query
        self.matches = find(self.lines, query)
        top = round(self.scroll_y)
        after = [k for k, i in enumerate(self.matches) if i >= top]
        self.current = after[0] if after else (0 if self.matches else -1)
        self._reveal()
        self.refresh()

    async def action_jump(self, delta: int) -> None:
        """The next (previous) match; without a search, the app's next (previous) run."""
        if not self.query_text:
            await self.app.run_action(f"next_run({delta})")
            return
        if self.matches:
            self.current = (self.current + delta) % len(self.matches)
            self._reveal()
            self.refresh()

    def scroll_to_line(self, index: int) -> None:
        """Put line ``index`` at the top (as far as the lines below it allow), once the
        lines just set are laid out (before that the view cannot scroll that far)."""
        self.call_after_refresh(self._scroll_when_sized, index, 50)

    def _scroll_when_sized(self, index: int, tries: int) -> None:
        reachable = min(index, self.virtual_size.height - self.scrollable_content_region.height)
        if self.max_scroll_y < reachable and tries > 0:  # not laid out yet: after the next
            self.call_after_refresh(self._scroll_when_sized, index, tries - 1)
            return
        # force: the scrollbars of lines set just now may not be shown yet, and without it
        # a scroll is refused until they are.
        self.scroll_to(y=index, animate=False, immediate=True, force=True)

    def _reveal(self) -> None:
        if 0 <= self.current < len(self.matches):
            line = self.matches[self.current]
            if not self.scroll_y <= line < self.scroll_y + self.size.height:
                self.scroll_to(y=max(0, line - self.size.height // 2), animate=False)

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        index = scroll_y + y
        width = self.size.width
        if index >= len(self.lines):
            return Strip.blank(width, self.rich_style)
        current = 0 <= self.current < len(self.matches) and self.matches[self.current] == index
        text = console_text(self.lines[index], self.query_text, current)
        strip = Strip(list(text.render(self.app.console)), text.cell_len)
        return strip.crop_extend(scroll_x, scroll_x + width, self.rich_style)


class ConsolePane(Vertical):
    """A title row, the lines, and a search input shown by ``ctrl+f``. Hidden until opened."""

    DEFAULT_CSS = """
    ConsolePane { display: none; height: 45%; min-height: 6; border-top: solid $panel-lighten-2; }
    ConsolePane.-open { display: block; }
    ConsolePane > #console-title { height: 1; color: $text-muted; }
    ConsolePane > #console-lines { height: 1fr; }
    ConsolePane > Input, ConsolePane > Input:focus { height: 1; border: none; padding: 0 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "search", "Search"),
        Binding("shift+enter", "jump(-1)", "Prev match", show=False),
        Binding("escape", "close_search", "Close search", show=False),
    ]

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.source: str | None = None
        self.buffer: ConsoleBuffer | None = None
        self.why_none = "no console output for this run"
        self.lines_version = -1
        self._timer: Timer | None = None
        self._reveal_traceback = False

    def compose(self) -> ComposeResult:
        self.title_w = Static("console", id="console-title")
        self.view_w = ConsoleView(id="console-lines")
        # Not focusable while the pane is closed: a hidden view that took the focus would
        # hold the keys (n/N, escape) and the footer's room.
        self.view_w.can_focus = False
        self.search_w = Input(placeholder="search the output (enter: next, esc: close)")
        self.search_w.display = False
        yield self.title_w
        yield self.view_w
        yield self.search_w

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    # ---- what it shows --------------------------------------------------------------------

    def set_source(self, path: str | None, why_none: str = "") -> None:
        """Tail ``path`` from now on (None: say ``why_none``); the same path keeps its lines."""
        if why_none:
            self.why_none = why_none
        if path == self.source:
            return
        self.source = path
        self.buffer = ConsoleBuffer(path) if path else None
        self.lines_version = -1
        if self.is_mounted:
            self.view_w.set_lines([])
            self._show_title()
            if self.is_open:
                self._poll()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Escape is the search's only while there is a search to close or clear: else it
        goes on to the screen and the app (back to the runs table). (A closed pane takes no
        keys: its view cannot hold the focus then.)"""
        if action == "close_search":
            return bool(self.search_w.display or self.view_w.query_text)
        return True

    def toggle(self) -> None:
        """Open or close the pane."""
        if self.is_open:
            self.close()
        else:
            self.open()

    def open(self) -> None:
        """Show the pane, read the file now and every :data:`POLL_EVERY` seconds meanwhile."""
        self.add_class("-open")
        self.view_w.can_focus = True
        self.view_w.focus()
        if self._timer is None:
            self._timer = self.set_interval(POLL_EVERY, self._poll)
        self._show_title()
        self._poll()

    def close(self) -> None:
        """Hide the pane and stop reading."""
        self.remove_class("-open")
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        self.search_w.display = False
        self.view_w.can_focus = False
        self.screen.set_focus(None)

    def show_crash(self) -> None:
        """The program crashed: open the pane scrolled to the traceback (once it is read)."""
        self._reveal_traceback = True
        self.open()

    # ---- reading: a short thread job, the lines back on the UI thread ----------------------

    def _poll(self) -> None:
        if self.buffer is not None:
            self._read(self.buffer)

    @work(thread=True, exclusive=True, exit_on_error=False, group="console")
    def _read(self, buffer: ConsoleBuffer) -> None:
        buffer.poll()
        # The version alone: a snapshot copies every line, and _update takes its own.
        if buffer.version != self.lines_version or self._reveal_traceback:
            self.app.call_from_thread(self._update, buffer)

    def _update(self, buffer: ConsoleBuffer) -> None:
        if buffer is not self.buffer:
            return  # the run switched while the file was read
        snap = buffer.snapshot()
        self.lines_version = snap.version
        self.view_w.set_lines(snap.lines)
        self._show_title()
        if self._reveal_traceback and snap.lines:
            self._reveal_traceback = False
            tb = traceback_line(snap.lines)
            self.view_w.scroll_to_line(tb if tb is not None else len(snap.lines))

    def _show_title(self) -> None:
        view = self.view_w
        if self.buffer is None:
            self.title_w.update(f"console · {self.why_none}")
            return
        if not self.buffer.exists and self.lines_version >= 0:
            self.title_w.update(f"console · {self.source} not found on this machine")
            return
        found = ""
        if view.query_text:
            k = f"{view.current + 1}/{len(view.matches)}" if view.matches else "no match"
            found = f" · search {view.query_text!r}: {k}"
        self.title_w.update(f"console · {self.source} · {len(view.lines)} lines{found}")

    # ---- search ---------------------------------------------------------------------------

    def action_search(self) -> None:
        """Open the search input (ctrl+f)."""
        self.search_w.display = True
        self.search_w.value = self.view_w.query_text
        self.search_w.focus()

    async def action_jump(self, delta: int) -> None:
        """Next / previous match (enter, shift+enter in the search input)."""
        if self.view_w.query_text:
            await self.view_w.action_jump(delta)
        self._show_title()

    def action_close_search(self) -> None:
        """Escape: close the search input (the marks stay; escape again clears them)."""
        if self.search_w.display:
            self.search_w.display = False
            self.view_w.focus()
        else:
            self.view_w.search("")
        self._show_title()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.view_w.search(event.value)
        self._show_title()

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        await self.action_jump(1)
