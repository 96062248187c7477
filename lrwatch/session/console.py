"""A run's own output, headless: the tail of a console file as the terminal would show it.

:class:`ConsoleBuffer` tails a file that a program's stdout/stderr go to (``lrwatch run``'s
``NAME.console.log``, or the ``.console`` file of ``Monitor(capture_output=True)``) and keeps
its last lines. Progress bars that redraw with carriage returns (tqdm) are collapsed to their
last state, as a terminal would leave them, so 10,000 redraws are one line, not 10,000. Colour
escapes are dropped: the pane shows plain text and search matches what the user reads.

Thread-safe: a reader thread calls :meth:`ConsoleBuffer.poll`, the UI reads :meth:`snapshot`.
"""

from __future__ import annotations

import codecs
import os
import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import BinaryIO

#: Lines kept (the oldest go first).
MAX_LINES = 2000
#: Bytes read at most when a file is opened: the tail of a big file holds the lines kept.
OPEN_TAIL = 4 << 20
#: Bytes read per poll at most (a burst is read over several polls, the UI never waits long).
READ_CHUNK = 1 << 20

#: ANSI escape sequences (colours, cursor moves): a console file of a coloured program has them.
_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[@-Z\\-_]")
#: The first line of a Python traceback.
TRACEBACK = "Traceback (most recent call last):"


def collapse(line: str) -> str:
    """A line as a terminal leaves it: the last non-empty ``\\r``-separated part.

    ``"  0%|\\r 50%|\\r100%|"`` → ``"100%|"``; a CRLF line ``"abc\\r"`` stays ``"abc"``.
    """
    if "\r" not in line:
        return line
    parts = [p for p in line.split("\r") if p]
    return parts[-1] if parts else ""


def clean(text: str) -> str:
    """``text`` without colour escapes, tabs expanded (the pane draws one cell per char)."""
    return _ANSI.sub("", text).expandtabs(8)


@dataclass(frozen=True)
class Snapshot:
    """What a buffer holds now: its lines (the partial last one included) and its state."""

    lines: list[str]
    exists: bool
    version: int


class ConsoleBuffer:
    """The last :data:`MAX_LINES` lines of ``path`` (which may not exist yet)."""

    def __init__(self, path: str, max_lines: int = MAX_LINES) -> None:
        self.path = path
        self._lines: deque[str] = deque(maxlen=max_lines)
        self._partial = ""  # the line being written (no newline yet): a progress bar, often
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._offset: int | None = None  # None: not opened yet
        self._lock = threading.Lock()
        self.exists = False
        self.version = 0  #: bumped whenever the lines change

    def feed(self, text: str) -> None:
        """Add decoded output (what :meth:`poll` reads; tests feed text directly)."""
        if not text:
            return
        with self._lock:
            pieces = (self._partial + text).split("\n")
            self._partial = pieces.pop()
            self._lines.extend(clean(collapse(p)) for p in pieces)
            self.version += 1

    def poll(self) -> bool:
        """Read what the file gained since the last poll; returns whether the lines changed."""
        try:
            with open(self.path, "rb") as fh:
                size = os.fstat(fh.fileno()).st_size
                data = self._read(fh, size)
        except OSError:
            if self.exists:
                self.exists = False
                self.version += 1
                return True
            return False
        changed = not self.exists
        self.exists = True
        if data:
            self.feed(self._decoder.decode(data))
            changed = True
        return changed

    def _read(self, fh: BinaryIO, size: int) -> bytes:
        """The new bytes of the open file ``fh`` (the tail only, on the first read)."""
        skip_partial = False
        if self._offset is None or size < self._offset:  # first read, or truncated: restart
            if self._offset is not None:
                self._reset()
            self._offset = max(0, size - OPEN_TAIL)
            skip_partial = self._offset > 0
        if size <= self._offset:
            return b""
        fh.seek(self._offset)
        data = fh.read(min(size - self._offset, READ_CHUNK))
        self._offset += len(data)
        if skip_partial:  # started mid-file: the first piece is the end of a line
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""
        return data

    def _reset(self) -> None:
        with self._lock:
            self._lines.clear()
            self._partial = ""
            self._decoder.reset()
            self.version += 1

    def snapshot(self) -> Snapshot:
        """The lines now, the partial last line (a progress bar mid-redraw) collapsed too."""
        with self._lock:
            lines = list(self._lines)
            if self._partial:
                lines.append(clean(collapse(self._partial)))
            return Snapshot(lines, self.exists, self.version)


def find(lines: list[str], query: str) -> list[int]:
    """Indices of the lines containing ``query`` (case-insensitive); none for an empty query."""
    if not query:
        return []
    q = query.lower()
    return [i for i, line in enumerate(lines) if q in line.lower()]


def match_spans(line: str, query: str) -> list[tuple[int, int]]:
    """(start, end) of every case-insensitive occurrence of ``query`` in ``line``."""
    if not query:
        return []
    low, q, spans, i = line.lower(), query.lower(), [], 0
    while (i := low.find(q, i)) >= 0:
        spans.append((i, i + len(q)))
        i += len(q)
    return spans


def traceback_line(lines: list[str]) -> int | None:
    """Index of the last traceback's first line, or None when the output has none."""
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith(TRACEBACK):
            return i
    return None
