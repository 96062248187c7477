"""File transport, run side: requests appended to ``<log stem>.cmd``, answers written to the log.

For clusters where the UI runs on a login node and the job on a compute node that share only
a filesystem. The run polls the command file at step boundaries (at most every ``interval``
seconds, one ``stat`` when nothing is new); the same protocol module validates each line, and
replies go into the log as ``{"kind": "reply", ...}`` records, which every reader tails anyway.

Whoever can append to the file steers the run, so the run only reads a file it created (mode
0600, exclusive create, no link followed) or an existing one that passes
:func:`lrwatch.control.owned.untrusted_reason`; a file somebody else prepared makes the run
take a fresh name (the run header's ``cmd`` names it). A command file deleted under the run is
created again; one replaced by a file that cannot be trusted is never read.
"""

from __future__ import annotations

import contextlib
import os
import time

from lrwatch.control import owned
from lrwatch.control import protocol as P
from lrwatch.control.dispatch import Report, no_report


class CommandFile:
    """Incremental reader of a command file: new complete lines since the last poll."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        interval: float = 0.25,
        report: Report | None = None,
    ) -> None:
        self.report = report or no_report
        self.interval = interval
        self._partial = bytearray()
        self._skipping = False  # inside an over-long line, dropping up to its newline
        self._next_poll = 0.0
        # Raises OSError when the directory refuses a new file: the caller disables the
        # transport. An untrusted existing file is left alone and a fresh name taken.
        fd, self.path, refusal = owned.open_owned_or_fresh(path, os.O_RDONLY, 0o600)
        if refusal is not None:
            self.report("cmd_untrusted", f"{refusal}: not obeying it; commands go to {self.path}")
        self._fd: int | None = fd
        st = os.fstat(fd)
        self._ino = st.st_ino
        # Commands left from an earlier run are not ours to apply: start at the current end.
        self._offset = st.st_size

    def due(self, now: float | None = None) -> bool:
        """True when ``interval`` has passed since the last poll (cheap: one clock read)."""
        return (time.monotonic() if now is None else now) >= self._next_poll

    def poll(self) -> list[bytes]:
        """Complete new lines (an over-long line comes back as-is, for validation to reject)."""
        self._next_poll = time.monotonic() + self.interval
        if self._fd is None or not self._follow_path():
            return []
        try:
            size = os.fstat(self._fd).st_size
            if size < self._offset:  # truncated by its owner: read from the start
                self._rewind()
            if size == self._offset:
                return []
            data = os.pread(self._fd, min(size - self._offset, 4 * P.MAX_LINE), self._offset)
        except OSError:
            return []
        self._offset += len(data)
        if self._skipping:  # the rest of an over-long line: never a request of its own
            nl = data.find(b"\n")
            if nl < 0:
                return []
            data, self._skipping = data[nl + 1 :], False
        self._partial += data
        lines = self._partial.split(b"\n")
        self._partial = bytearray(lines.pop())
        if len(self._partial) > P.MAX_LINE:
            # Answered as too long (its head comes back as-is); whatever follows up to the
            # newline belongs to the same line and is dropped, or a request hidden at the end
            # of a long line would be obeyed.
            lines.append(self._partial[: P.MAX_LINE + 1])  # a copy: the clear() keeps it
            self._partial.clear()
            self._skipping = True
        return [bytes(line) for line in lines if line.strip()]

    def close(self) -> None:
        """Stop reading (the file itself stays: a client may still be appending to it)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None

    def _rewind(self) -> None:
        """Read the file from its start again, with nothing held back."""
        self._offset = 0
        self._partial.clear()
        self._skipping = False

    def _follow_path(self) -> bool:
        """Keep reading the file the path names: re-create a deleted one, refuse a stranger's."""
        if owned.same_file(self.path, self._ino):
            return True
        try:
            fd, created = owned.open_owned(self.path, os.O_RDONLY, 0o600)
        except owned.UntrustedFile as exc:
            self.report("cmd_untrusted", f"{exc}: it replaced the command file; not obeying it")
            self.close()
            return False
        except OSError as exc:
            self.report("cmd_lost", f"cannot re-create {self.path}: {exc.strerror or exc}")
            return False
        assert self._fd is not None
        os.close(self._fd)
        self._fd, self._ino = fd, os.fstat(fd).st_ino
        # A file its owner put back holds requests meant for this run: read it from the start.
        self._rewind()
        if created:
            self.report("cmd_recreated", f"{self.path} was deleted: created it again")
        return True
