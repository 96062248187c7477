"""The app's side of ``lrwatch run``: wait for the child, say when it exits, ask on quit.

A mixin of :class:`~lrwatch.tui.app.LRWatchApp` (``child`` is ``None`` for watch/attach).
"""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING

from textual import work

from lrwatch.tui import messages as msg
from lrwatch.tui.widgets.dialogs import QuitRunScreen

if TYPE_CHECKING:
    from lrwatch.tui.app import LRWatchApp

    _Base = LRWatchApp
else:
    _Base = object


class ChildActions(_Base):
    """Child process handling for ``lrwatch run`` (mixed into the app)."""

    @work(thread=True, exclusive=True, exit_on_error=False, group="child")
    def _wait_child(self) -> None:
        # Waits in short steps: Textual's exit joins this thread, and a plain wait() on a
        # child that outlives the UI made quitting hang until the training ended.
        assert self.child is not None
        while not self.stop_event.is_set():
            try:
                code = self.child.wait(timeout=0.25)
            except subprocess.TimeoutExpired:
                continue
            self.post_message(msg.ChildExited(code))
            return

    async def action_quit(self) -> None:
        """Quit; under ``lrwatch run`` with the training still running, ask what becomes of it."""
        child = self.child
        if not self.confirm_quit or child is None or child.poll() is not None:
            self.exit(self.child_code)
            return
        if isinstance(self.screen, QuitRunScreen):
            return

        def answered(choice: str | None) -> None:
            if choice is not None:
                self.stop_child = choice == "stop"
                self.exit(self.child_code)

        self.push_screen(QuitRunScreen(self._child_label(), self.child_log), answered)

    def _child_label(self) -> str:
        run = self.current_run
        return f"{run.name if run else 'the command'} (pid {self.child.pid if self.child else '?'})"

    def on_child_exited(self, message: msg.ChildExited) -> None:
        self.child_code = message.code
        self._refresh_header()
        text = f"the training command exited with code {message.code}"
        self.status_w.show(("✓ " if message.code == 0 else "✗ ") + text, message.code != 0)
        self.notify(text, severity="information" if message.code == 0 else "error", timeout=10)

    def _run_hint(self, name: str) -> str:
        """lrwatch run: how to steer a read-only run (the console output, or a bare script)."""
        if self.child_log:
            target = os.path.realpath(self.child_log)
            for run in self.store.runs.values():
                mine = run.path and os.path.realpath(run.path) == target
                if mine and run.name != name and run.records:  # its Monitor logs: steer that
                    return f"its Monitor's run {run.name} (n: switch)"
        return "add lrwatch.Monitor() to the script"
