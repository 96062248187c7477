"""Which file holds a run's stdout/stderr, and which runs are only another run's console.

Under ``lrwatch run`` the child's output file is read as a run of its own (a script without a
Monitor is charted from what it prints). Once the child's Monitor has announced its log and
that log has records, the output file is that run's console: shown in the console pane, no
longer listed as a second run that never gets a loss. A Monitor log watched on its own names
its console file in its header (``Monitor(capture_output=True)``).
"""

from __future__ import annotations

import os

from lrwatch.store import RunData


class Consoles:
    """Console files of runs (``child_output``: the output file of ``lrwatch run``'s child)."""

    def __init__(self, child_output: str | None = None) -> None:
        self.child_output = child_output
        self._child_key = os.path.realpath(child_output) if child_output else None
        self._claims: dict[str, str] = {}  # realpath of a log -> its console file
        self._hidden: set[str] = set()  # realpaths of console files not listed as runs
        self._keys: dict[str, str] = {}  # path -> realpath (asked on every redraw)

    def _key(self, path: str) -> str:
        key = self._keys.get(path)
        if key is None:
            key = self._keys[path] = os.path.realpath(path)
        return key

    def claim(self, log: str, console: str | None) -> None:
        """The run logging to ``log`` writes its output to ``console`` (None: to the child's
        output, under ``lrwatch run``). Any thread."""
        target = console or self.child_output
        if target:
            self._claims[os.path.realpath(log)] = target

    def owner_ready(self, log: str) -> None:
        """``log``'s run has records: its console file is no longer listed as a run."""
        console = self._claims.get(self._key(log))
        if console:
            self._hidden.add(os.path.realpath(console))

    def hides(self, run: RunData) -> bool:
        """Whether ``run`` is read from a console file whose owner run is listed instead."""
        return bool(self._hidden) and bool(run.path) and self._key(run.path) in self._hidden

    def of(self, run: RunData | None) -> str | None:
        """The console file of ``run``: what its Monitor announced, the file it is read from
        (the child's output), what its header names, else the child's output (if any)."""
        if run is None or not run.path or run.path == "-":
            return self._header_console(run) or self.child_output
        key = self._key(run.path)
        if key in self._claims:
            return self._claims[key]
        if key == self._child_key:
            return self.child_output
        return self._header_console(run) or self.child_output

    @staticmethod
    def _header_console(run: RunData | None) -> str | None:
        header = (run.header if run is not None else None) or {}
        console = header.get("console")
        return console if isinstance(console, str) and console else None
