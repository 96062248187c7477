"""The JSONL writer behind :class:`lrwatch.Monitor`: cheap per record, whole lines only.

``write()`` only appends a finished line to an in-memory list (a few hundred ns); a daemon
thread hands the batch to the OS every ``interval / 2`` seconds, so a reader sees each record
within ``interval`` even when training then blocks for minutes. Each flush is one ``write(2)``
of complete lines on an ``O_APPEND`` descriptor: a crash loses at most the last batch, never
leaves half a line. A ring of recent lines feeds ``subscribe`` backlogs.

The disk is outside the run's control, so nothing here raises: when the log cannot be opened
(read-only directory) or written (full disk, quota), the problem is reported once, each batch
that cannot be written is dropped whole (a half-written batch is cut back) and counted, and the
writer retries every ``retry`` seconds. When it can write again it first writes a ``dropped``
record saying how many records were lost and why. A log deleted or replaced under the run is
re-created (with the run header again) at the next check.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import json
import os
import threading
import time
from pathlib import Path

from lrwatch.control import owned
from lrwatch.control.dispatch import Report, no_report


class JsonlWriter:
    """Append JSON lines to ``path`` with a time-bounded flush and a ring of recent lines."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        ring: int = 10_000,
        interval: float = 0.1,
        report: Report | None = None,
        retry: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.report = report or no_report
        self.dropped = 0  # records that never reached the disk, over the whole run
        self._fd: int | None = None
        self._ino: int | None = None
        self._pending: list[str] = []
        self._lock = (
            threading.RLock()
        )  # guards _pending, _ring, _seq; reentrant: a SIGTERM handler may close mid-write
        self._io_lock = threading.RLock()  # serialises flushes so batches keep their order
        self._ring: collections.deque[str] = collections.deque(maxlen=max(1, ring))
        self._seq = 0
        self._interval = interval
        self._retry = retry
        self._next_try = 0.0  # monotonic time of the next open / write attempt while failing
        self._next_check = 0.0  # monotonic time of the next deleted-or-replaced check
        # The ``dropped`` record still to write.
        self._gap: dict[str, str | int | float] | None = None
        self._header: str | None = None
        self._header_on_disk = False
        self._torn = False  # a failed write may have left half a line that we could not cut
        self._closed = False
        with self._io_lock:
            self._open()
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

    def write_header(self, line: str) -> None:
        """The run header: written first, and again at the top of a re-created log."""
        with self._lock:
            self._header = line
            self._header_on_disk = False
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
        """Hand every queued line to the OS now (or drop and count them while it fails)."""
        with self._io_lock:
            with self._lock:
                lines, self._pending = self._pending, []
            if not lines and (self._header_on_disk or self._header is None):
                return
            if not self._ready():
                self._drop(len(lines))
                return
            with self._lock:  # read after _ready(): a re-created log needs the header again
                header = None if self._header_on_disk else self._header
            head = [] if header is None else [header]
            if self._gap is not None:
                head.append(json.dumps({**self._gap, "t": round(time.time(), 3)}))
            if self._write(head + lines):
                if header is not None:
                    self._header_on_disk = True
                if self._gap is not None:
                    self._gap = None
                    self.report("log_resumed", f"writing {self.path} again")
            else:
                self._drop(len(lines))

    def close(self) -> None:
        """Flush and close; further writes are dropped. Never raises."""
        self._stop.set()
        with contextlib.suppress(Exception):
            self.flush()
        with self._io_lock:
            self._closed = True
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.fsync(self._fd)
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)

    # -- internals (under _io_lock) ------------------------------------------------------

    def _open(self) -> bool:
        """Open (or re-create) the log; False, reported, when the OS refuses."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, path, refusal = owned.open_owned_or_fresh(
                self.path, os.O_WRONLY | os.O_APPEND, 0o644
            )
        except OSError as exc:
            self._fail("log_unwritable", f"cannot open {self.path}: {_why(exc)}")
            return False
        if refusal is not None:
            self.report("log_untrusted", f"{refusal}: not writing there; this run logs to {path}")
        recreated = self._ino is not None  # a log was open before: this one replaces it
        self._fd, self.path = fd, path
        self._ino = os.fstat(fd).st_ino
        self._header_on_disk = False
        self._torn = False
        if recreated:
            self.report("log_recreated", f"{self.path} was deleted or replaced: re-created it")
        return True

    def _ready(self) -> bool:
        """A descriptor to write to: retry a failed open, notice a deleted or replaced log."""
        now = time.monotonic()
        if self._closed:
            return False
        if self._gap is not None and now < self._next_try:
            return False
        if self._fd is not None and now >= self._next_check:
            self._next_check = now + self._retry
            if not owned.same_file(self.path, self._ino):
                with contextlib.suppress(OSError):
                    os.close(self._fd)
                self._fd = None
        if self._fd is None:
            return self._open()
        return True

    def _write(self, lines: list[str]) -> bool:
        """One batch of whole lines, all or nothing: a partial write is cut back."""
        data = ("\n".join(lines) + "\n").encode()
        if self._torn:
            data = b"\n" + data  # end the half line a failed cut left, so ours stay whole
        fd = self._fd
        assert fd is not None
        start: int | None = None
        done = 0
        try:
            start = os.lseek(fd, 0, os.SEEK_END)
            view = memoryview(data)
            while done < len(data):
                done += os.write(fd, view[done:])
        except OSError as exc:
            if done and start is not None:  # bytes were written, so the seek went through
                try:
                    os.ftruncate(fd, start)
                except OSError:
                    self._torn = True
            self._fail("log_write_failed", f"cannot write {self.path}: {_why(exc)}")
            return False
        self._torn = False
        return True

    def _fail(self, code: str, message: str) -> None:
        self._next_try = time.monotonic() + self._retry
        if self._gap is None:
            self._gap = {"kind": "dropped", "records": 0, "since": round(time.time(), 3)}
            self._gap["reason"] = message
            self.report(code, f"{message}; training goes on, records are dropped and counted")

    def _drop(self, n: int) -> None:
        self.dropped += n
        if self._closed:
            return
        if self._gap is None:
            self._fail("log_closed", f"{self.path} is closed")
        gap = self._gap
        assert gap is not None  # _fail opened it
        gap["records"] = int(gap["records"]) + n

    def _flusher(self) -> None:
        while not self._stop.wait(self._interval / 2):
            with contextlib.suppress(Exception):  # a daemon that dies would drop everything
                self.flush()


def _why(exc: OSError) -> str:
    if isinstance(exc, owned.UntrustedFile):
        return exc.reason
    return exc.strerror or str(exc)
