"""File transport, run side: requests appended to ``<log stem>.cmd``, answers written to the log.

For clusters where the UI runs on a login node and the job on a compute node that share only
a filesystem. The run polls the command file at step boundaries (at most every ``interval``
seconds, one ``stat`` when nothing is new); the same protocol module validates each line, and
replies go into the log as ``{"kind": "reply", ...}`` records, which every reader tails anyway.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from lrwatch.control import protocol as P


class CommandFile:
    """Incremental reader of a command file: new complete lines since the last poll."""

    def __init__(self, path: str | os.PathLike[str], interval: float = 0.25) -> None:
        self.path = Path(path)
        self.interval = interval
        self._partial = bytearray()
        self._next_poll = 0.0
        # Commands left from an earlier run are not ours to apply: start at the current end.
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.close(fd)
        st = os.stat(self.path)
        self._ino = st.st_ino
        self._offset = st.st_size

    def due(self, now: float | None = None) -> bool:
        """True when ``interval`` has passed since the last poll (cheap: one clock read)."""
        return (time.monotonic() if now is None else now) >= self._next_poll

    def poll(self) -> list[bytes]:
        """Complete new lines (an over-long line comes back as-is, for validation to reject)."""
        self._next_poll = time.monotonic() + self.interval
        try:
            st = os.stat(self.path)
        except OSError:
            return []
        if st.st_ino != self._ino or st.st_size < self._offset:
            # Replaced or truncated by someone: read the new file from the start.
            self._ino, self._offset = st.st_ino, 0
            self._partial.clear()
        if st.st_size == self._offset:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read(min(st.st_size - self._offset, 4 * P.MAX_LINE))
        except OSError:
            return []
        self._offset += len(data)
        self._partial += data
        lines = self._partial.split(b"\n")
        self._partial = bytearray(lines.pop())
        if len(self._partial) > P.MAX_LINE:
            lines.append(bytes(self._partial))
            self._partial.clear()
        return [bytes(line) for line in lines if line.strip()]
