"""The JSONL writer behind :class:`lrwatch.Monitor`: cheap per record, whole lines only.

``write()`` only appends a finished line to an in-memory list (a few hundred ns); a daemon
thread hands the batch to the OS every ``interval / 2`` seconds, so a reader sees each record
within ``interval`` even when training then blocks for minutes. Each flush is one ``write(2)``
of complete lines on an ``O_APPEND`` descriptor: a crash loses at most the last batch, never
leaves half a line. A ring of recent lines feeds ``subscribe`` backlogs.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import os
import threading
from pathlib import Path


class JsonlWriter:
    """Append JSON lines to ``path`` with a time-bounded flush and a ring of recent lines."""

    def __init__(self, path: str | os.PathLike[str], ring: int = 10_000, interval: float = 0.1):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._pending: list[str] = []
        self._lock = (
            threading.RLock()
        )  # guards _pending, _ring, _seq; reentrant: a SIGTERM handler may close mid-write
        self._io_lock = threading.RLock()  # serialises flushes so batches keep their order
        self._ring: collections.deque[str] = collections.deque(maxlen=max(1, ring))
        self._seq = 0
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._flusher, name="lrwatch-writer", daemon=True)
        self._thread.start()

    @property
    def seq(self) -> int:
        """Number of lines written so far."""
        return self._seq

    def write(self, line: str) -> None:
        """Queue one complete JSON line (without newline)."""
        with self._lock:
            self._pending.append(line)
            self._ring.append(line)
            self._seq += 1

    def since(self, seq: int | None, backlog: int) -> tuple[list[str], int]:
        """Lines after ``seq`` still in the ring (or the last ``backlog`` when None)."""
        with self._lock:
            end = self._seq
            n = min(backlog, len(self._ring)) if seq is None else min(end - seq, len(self._ring))
            if n <= 0:
                return [], end
            lines = list(itertools.islice(reversed(self._ring), n))
        lines.reverse()
        return lines, end

    def flush(self) -> None:
        """Hand every queued line to the OS now."""
        with self._io_lock:
            with self._lock:
                if not self._pending:
                    return
                data = ("\n".join(self._pending) + "\n").encode()
                self._pending.clear()
            fd = self._fd
            if fd is None:
                return
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]

    def close(self) -> None:
        """Flush and close; further writes are dropped."""
        self._stop.set()
        self.flush()
        with self._io_lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
                os.close(self._fd)
                self._fd = None
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)

    def _flusher(self) -> None:
        while not self._stop.wait(self._interval / 2):
            with contextlib.suppress(OSError):
                self.flush()
