"""``Monitor(capture_output=True)``: a copy of the program's stdout and stderr in a file.

``lrwatch attach`` sees a run only through its log and socket; what the program printed (a
warning, a traceback) went to a terminal it cannot read. :class:`ConsoleCapture` replaces
``sys.stdout`` and ``sys.stderr`` with :class:`Tee` wrappers that write to the original stream
first, exactly as before, and then queue the text for ``<log>.console`` (``runs/exp1.jsonl``
→ ``runs/exp1.console``: not ``.log`` or ``.txt``, which a directory watch would take for a
run). A daemon thread appends the queue to the file every ``interval`` seconds, so a print
never waits for the disk; the queue is flushed at close, which the Monitor's atexit handler
reaches after Python printed an uncaught exception's traceback to ``sys.stderr``.

Only Python-level writes are copied: C code writing to file descriptor 1 or 2, and writes
to ``sys.stdout.buffer``, bypass the wrappers; so does a forked child (a DataLoader worker),
whose prints go to the streams only. A file that cannot be written is given up on
quietly (counted in :attr:`ConsoleCapture.dropped`); the program's own streams are unaffected.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import weakref
from pathlib import Path
from typing import Any, TextIO

#: Characters queued at most while the file cannot keep up; beyond, text is dropped, counted.
MAX_PENDING = 4 << 20


def console_path(log: str | os.PathLike[str]) -> Path:
    """Where the console copy of ``log`` goes: its suffix replaced by ``.console``."""
    return Path(log).with_suffix(".console")


class Tee:
    """A text stream that writes to ``stream`` and then hands the text to ``sink``.

    Every other attribute (``encoding``, ``isatty``, ``fileno``, ``buffer``...) is the
    original stream's, so tqdm and logging see the terminal they saw before.
    """

    def __init__(self, stream: TextIO, sink: ConsoleCapture) -> None:
        self._stream = stream
        self._sink = sink

    def write(self, text: str) -> int:
        """Write to the original stream (its errors are the program's, as without us), then
        queue a copy (which never raises)."""
        try:
            return self._stream.write(text)
        finally:
            self._sink.add(text)

    def writelines(self, lines: Any) -> None:
        """Each line through :meth:`write`."""
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """Flush the original stream (the copy is flushed by its own thread)."""
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class ConsoleCapture:
    """Tee ``sys.stdout``/``sys.stderr`` into ``path`` until :meth:`close`."""

    def __init__(self, path: str | os.PathLike[str], interval: float = 0.2) -> None:
        self.path = Path(path)
        self.dropped = 0  #: characters that never reached the file
        self._pending: list[str] = []
        self._size = 0
        # Reentrant: a SIGTERM handler may close us while the main thread is inside add().
        self._lock = threading.RLock()
        self._io = threading.RLock()  # serialises file writes and the close
        self._file: TextIO | None = None
        self._open = False  # accepting text (set once the file is open)
        self._stop = threading.Event()
        self._interval = interval
        self._saved: tuple[TextIO, TextIO] | None = None
        self._tees: tuple[Tee, Tee] | None = None
        self._thread = threading.Thread(target=self._loop, name="lrwatch-console", daemon=True)

    def start(self) -> ConsoleCapture:
        """Open the file (append) and put the wrappers in place. Never raises: a file that
        cannot be opened leaves the streams alone."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8", errors="replace")  # noqa: SIM115
        except OSError:
            return self
        self._open = True
        ref = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _forked(ref))
        self._saved = (sys.stdout, sys.stderr)
        self._tees = (Tee(sys.stdout, self), Tee(sys.stderr, self))
        sys.stdout, sys.stderr = self._tees
        self._thread.start()
        return self

    @property
    def active(self) -> bool:
        """Whether the file is open and being written."""
        return self._file is not None

    def add(self, text: str) -> None:
        """Queue ``text`` for the file; never raises, never waits for the disk."""
        try:
            with self._lock:
                if not self._open:
                    return
                if self._size + len(text) > MAX_PENDING:
                    self.dropped += len(text)
                    return
                self._pending.append(text)
                self._size += len(text)
        except Exception:
            return

    def flush(self) -> None:
        """Append what is queued to the file now."""
        with self._io:
            with self._lock:  # held only to swap the queue: a print never waits for the disk
                pending, self._pending, self._size = self._pending, [], 0
            if self._file is None or not pending:
                return
            try:
                self._file.write("".join(pending))
                self._file.flush()
            except (OSError, ValueError):
                self.dropped += sum(len(p) for p in pending)

    def close(self) -> None:
        """Put the original streams back (unless someone wrapped ours since), flush, close."""
        self._stop.set()
        if self._saved is not None and self._tees is not None:
            out, err = self._saved
            if sys.stdout is self._tees[0]:
                sys.stdout = out
            if sys.stderr is self._tees[1]:
                sys.stderr = err
        with contextlib.suppress(Exception):
            self.flush()
        with self._lock:
            self._open = False
        with self._io:
            if self._file is not None:
                with contextlib.suppress(Exception):
                    self._file.close()
                self._file = None
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(1.0)

    def _after_fork(self) -> None:
        """In a forked child (a DataLoader worker): our locks may have been held by a thread
        that does not exist there, and no thread flushes. Its writes go to the streams only."""
        self._lock, self._io = threading.RLock(), threading.RLock()
        self._open, self._pending, self._size, self._file = False, [], 0, None

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with contextlib.suppress(Exception):  # a daemon that dies would copy nothing more
                self.flush()


def _forked(ref: weakref.ReferenceType[ConsoleCapture]) -> None:
    capture = ref()
    if capture is not None:
        capture._after_fork()
