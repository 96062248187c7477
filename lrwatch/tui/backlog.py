"""The app's side of a big log's backlog: progress in the header, one draw when it is read.

A mixin of :class:`~lrwatch.tui.app.LRWatchApp`. While the reader catches up with what the
files held at start (:func:`~lrwatch.tui.feeds.follow_files`), redrawing the charts for every
batch would cost the UI thread a rebuild (smoothing, pyramids) per 100 ms of records and take
the interpreter from the reader; the header shows how far the reading got instead, and the
charts are drawn once, with everything, when it is done. The rules wait for that first draw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrwatch.tui import messages as msg

if TYPE_CHECKING:
    from lrwatch.tui.app import LRWatchApp

    _Base = LRWatchApp
else:
    _Base = object


class BacklogView(_Base):
    """Reading progress and the deferred first draw (mixed into the app)."""

    #: (bytes read, bytes to read) while a backlog is read; None once it is (or never was).
    loading: tuple[int, int] | None = None

    def reading_fraction(self) -> float | None:
        """How much of the backlog is read (0..1), or None when there is none being read."""
        if self.loading is None:
            return None
        read, total = self.loading
        return read / total if total > 0 else 0.0

    def on_read_progress(self, message: msg.ReadProgress) -> None:
        if not message.done:
            self.loading = (message.read, message.total)
            self._refresh_header()
            return
        self.loading = None
        self._data_changed()  # the first full draw: the whole backlog at once
        # After the frame is on screen: the engine would take the GIL from the first draw.
        self.call_after_refresh(self._ingest.release_rules)
