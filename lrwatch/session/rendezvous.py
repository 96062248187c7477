"""Where a child of ``lrwatch run`` logs: the rendezvous file, read as it grows.

:class:`RendezvousReader` tails the file (format: :mod:`lrwatch.rendezvous`) and hands back
each announcement once.
"""

from __future__ import annotations

from lrwatch.rendezvous import Announcement, parse_line

__all__ = ["Announcement", "RendezvousReader"]


class RendezvousReader:
    """New announcements in ``path`` since the last :meth:`poll` (complete lines only)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._offset = 0
        self._rest = b""

    def poll(self) -> list[Announcement]:
        """Announcements appended since the last call (none while the file does not exist)."""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:
            return []
        self._offset += len(data)
        lines = (self._rest + data).split(b"\n")
        self._rest = lines.pop()  # a line being written: read when its newline is there
        return [a for raw in lines if raw.strip() and (a := parse_line(raw)) is not None]
