"""The app's runs table: when it opens, which rows it redraws, and what opening a run does.

A watch of a sweep (more runs than a chart can tell apart, :data:`TABLE_AT`) opens on the
table; ``r`` opens it at any time and Escape goes back to it from the charts. Rows are
recomputed only for runs that changed (new records, new findings), at most
``1/REFRESH_EVERY`` times a second, and all of them every :data:`FULL_EVERY` seconds (states
age: a quiet run becomes idle). Nothing is computed while the table is not on screen.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from textual.app import App

from lrwatch.tui.runs import RunRow
from lrwatch.tui.widgets.runs_table import RunsScreen

#: Runs from which a watch opens on the table (the overlay tells ten runs apart, not more).
TABLE_AT = 11
#: Seconds between redraws of changed rows, and between recomputing every row.
REFRESH_EVERY = 0.3
FULL_EVERY = 2.0
#: Runs an overlay draws when none are marked (the overlay's colours run out after ten).
OVERLAY_MAX = 10


class RunsView:
    """The runs table of one app (see the module docstring).

    ``names()`` lists the runs in the app's order, ``row(name)`` computes one run's row: the
    app owns what a row is made of (findings, control, arrivals); this owns the table.
    ``note()`` says what is still being worked out (logs read, rules behind) for the title.
    """

    def __init__(
        self,
        app: App[Any],
        names: Callable[[], list[str]],
        row: Callable[[str], RunRow],
        title: str = "runs",
        note: Callable[[], str] = str,
        opened_screen: Callable[[RunsScreen], object] = lambda screen: None,
    ) -> None:
        self.app, self.names, self.row, self.title, self.note = app, names, row, title, note
        self.opened_screen = opened_screen  #: called once, when the screen is made
        self.screen: RunsScreen | None = None
        #: Runs marked in the table: an overlay draws these (none: the first OVERLAY_MAX).
        self.marked: list[str] = []
        self._dirty: set[str] = set()
        self._opened = False  # opened once by itself: never again (the user closed it)
        self._last_full = 0.0
        self._pending = False

    @property
    def shown(self) -> bool:
        """Whether the table is the screen on top."""
        return self.screen is not None and self._top() is self.screen

    def _top(self) -> object:
        """The screen on top; None while the app shuts down (``app.screen`` would raise)."""
        stack = self.app.screen_stack
        return stack[-1] if stack else None

    def changed(self, names: Iterable[str]) -> None:
        """Runs whose rows may have changed (records, findings, control); redrawn soon.

        The first time a watch lists :data:`TABLE_AT` runs, the table opens by itself.
        """
        self._dirty.update(names)
        if self.app.is_running and not self._opened and len(self.names()) >= TABLE_AT:
            self._opened = True
            stack = self.app.screen_stack
            if stack and self._top() is stack[0]:  # not over a dialog
                self.open()
        if self.shown and not self._pending:
            self._pending = True
            self.app.set_timer(REFRESH_EVERY, self.flush)

    def flush(self, full: bool = False) -> None:
        """Redraw the changed rows (``full``: every row)."""
        self._pending = False
        if not self.shown or self.screen is None:
            return
        now = time.monotonic()
        listed = self.names()
        full = full or now - self._last_full >= FULL_EVERY
        if full:
            self._last_full = now
            todo = listed
        else:
            known = set(listed)
            todo = [n for n in self._dirty if n in known]
        self._dirty.clear()
        self.screen.update_rows([self.row(n) for n in todo], replace_all=full, note=self.note())

    def tick(self) -> None:
        """Once a second (the app's clock): every row now and then, states age."""
        if self.shown and time.monotonic() - self._last_full >= FULL_EVERY:
            self.flush(full=True)

    def open(self) -> None:
        """Show the table (made once; it keeps its sort, filter and marks)."""
        if self.screen is None:
            self.screen = RunsScreen(self.title)
            # Installed: a popped screen is kept (with its sort, filter and marks), not freed.
            self.app.install_screen(self.screen, name="runs")
            self.opened_screen(self.screen)
        if self._top() is not self.screen:
            self.app.push_screen("runs")
        self.flush(full=True)

    def close(self, marked: list[str]) -> None:
        """Back to the charts, which overlay ``marked`` (when more than one)."""
        if self.shown:
            self.app.pop_screen()
        listed = set(self.names())
        self.marked = [n for n in marked if n in listed]

    def overlay(self, names: list[str]) -> list[str]:
        """The runs an overlay draws: the marked ones, else the first OVERLAY_MAX."""
        marked = [n for n in self.marked if n in names]
        return marked if len(marked) > 1 else names[:OVERLAY_MAX]
