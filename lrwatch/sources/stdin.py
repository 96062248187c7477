"""StreamReader: a pipe (stdin) read in a daemon thread, so polling it never blocks the UI.

``ssh host tail -F log | lrwatch watch -`` hands lrwatch a pipe that may stay silent for
minutes; a blocking read in the UI thread would freeze it. The thread reads with ``os.read``
(which returns whatever is available, unlike ``BufferedReader.read(n)`` that waits for ``n``
bytes) and queues the chunks; :meth:`StreamReader.poll` takes what has arrived.
"""

from __future__ import annotations

import os
import sys
import threading
from collections import deque
from collections.abc import Iterator

_READ = 1 << 16


class StreamReader:
    """Reads a file descriptor to EOF in a daemon thread; chunks are taken with :meth:`poll`."""

    def __init__(self, fd: int | None = None) -> None:
        self.fd = sys.stdin.fileno() if fd is None else fd
        self._chunks: deque[bytes] = deque()
        self._arrived = threading.Event()
        self._eof = False
        self.error: str | None = None
        self._thread = threading.Thread(target=self._run, name="lrwatch-stdin", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                data = os.read(self.fd, _READ)
                if not data:
                    break
                self._chunks.append(data)  # deque append/popleft are thread-safe
                self._arrived.set()
        except OSError as exc:
            self.error = str(exc)
        finally:
            self._eof = True
            self._arrived.set()

    @property
    def eof(self) -> bool:
        """Whether the writer closed the pipe (chunks may still be waiting in the queue)."""
        return self._eof

    @property
    def done(self) -> bool:
        """EOF reached and every chunk taken."""
        return self._eof and not self._chunks

    def wait(self, timeout: float) -> bool:
        """Block until data or EOF is there (or ``timeout`` seconds pass); True when it is."""
        if self._chunks or self._eof:
            return True
        self._arrived.clear()
        # Checked again after clearing: the thread may have set the event in between.
        if self._chunks or self._eof:
            return True
        return self._arrived.wait(timeout)

    def poll(self, budget: int) -> Iterator[bytes]:
        """Yield the chunks that arrived, about ``budget`` bytes at most."""
        while budget > 0 and self._chunks:
            data = self._chunks.popleft()
            budget -= len(data)
            yield data
