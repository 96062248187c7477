"""FileTail: follow one path by polling ``stat``, as a stream of byte chunks and stream markers.

A poll compares the path's inode, size and mtime with what was read so far and yields:

- ``bytes``: newly appended data, at most ``CHUNK`` bytes per item (a 10 GB file is never one
  bytes object);
- :data:`FLUSH`: the stream being read ended for good (the old file of a rename rotation is
  drained to its end before the switch, so nothing it holds is lost);
- :data:`RESTART`: what follows is a new stream from byte 0 (truncation, copytruncate, an
  in-place rewrite, or the new file after a rotation).

It knows nothing about formats: NUL padding and partial lines are the reader's business.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import Final

#: Marker: the stream read so far is finished (flush the parser's held-back partial line).
FLUSH: Final = "flush"
#: Marker: the data that follows starts again at byte 0 of a (possibly new) file.
RESTART: Final = "restart"

#: Bytes per read: big enough to amortize the syscall, small enough to bound memory.
CHUNK: Final = 4 << 20
#: How many leading bytes identify the file's content (an in-place rewrite changes them).
FINGERPRINT: Final = 1024

Item = bytes | str


class FileTail:
    """Follows ``path``: a missing file is waited for; rotation, truncation and rewrites handled."""

    def __init__(self, path: str, chunk: int = CHUNK) -> None:
        self.path = path
        self.chunk = chunk
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._offset = 0
        self._head = b""  # the first FINGERPRINT bytes of the current file, as read
        self._stat: tuple[int, int] = (-1, -1)  # (size, mtime_ns) at the last poll
        #: How often the stream restarted (truncation / rewrite) or rotated to a new file.
        self.restarts = 0
        self.rotations = 0

    @property
    def opened(self) -> bool:
        """Whether the file has been found and opened."""
        return self._fd is not None

    @property
    def offset(self) -> int:
        """Bytes of the current file read so far."""
        return self._offset

    def poll(self, budget: int) -> Iterator[Item]:
        """Yield what is new since the last poll, reading at most about ``budget`` bytes.

        What is left over when the budget runs out is yielded by the next poll. OS errors
        (a file deleted or made unreadable mid-poll) end the poll quietly: the next one retries.
        """
        try:
            yield from self._poll(budget)
        except OSError:
            return

    def close(self) -> None:
        """Close the file descriptor (the tail can be polled again: it reopens the path)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._ident = None

    def _poll(self, budget: int) -> Iterator[Item]:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        if self._fd is None:
            if st is None or not self._open():
                return
        elif st is None:
            # Renamed away or deleted, and no successor yet: a writer may still be appending
            # to the old inode, so keep reading it.
            yield from self._read(budget)
            return
        elif (st.st_dev, st.st_ino) != self._ident:
            yield from self._rotate(budget)
            return
        elif self._replaced(st.st_size, st.st_mtime_ns):
            self._restart()
            yield RESTART
        yield from self._read(budget)

    def _open(self) -> bool:
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        st = os.fstat(fd)
        self._fd = fd
        # Identity from the descriptor, not the path: the path may have moved in between.
        self._ident = (st.st_dev, st.st_ino)
        self._offset = 0
        self._head = b""
        self._stat = (-1, -1)
        return True

    def _rotate(self, budget: int) -> Iterator[Item]:
        """The path names a new file: drain the old descriptor, then switch to the new file."""
        n = yield from self._read(budget)
        if n >= budget:
            return  # the old file may hold more: the next poll goes on draining it
        yield FLUSH
        self.close()
        if not self._open():
            return
        self.rotations += 1
        yield RESTART
        yield from self._read(budget - n)

    def _replaced(self, size: int, mtime_ns: int) -> bool:
        """Same inode, but is the content read so far still there?"""
        if size < self._offset:
            return True  # truncated (copytruncate, or ``open(path, "w")`` by the writer)
        if (size, mtime_ns) == self._stat or not self._head:
            return False
        # Changed: appended to, or rewritten in place (Lightning's CSVLogger rewrites
        # metrics.csv with a wider header; copytruncate with a writer that kept its offset
        # leaves NULs where the old start was). A rewrite changes the first bytes.
        assert self._fd is not None
        return os.pread(self._fd, len(self._head), 0) != self._head

    def _restart(self) -> None:
        self._offset = 0
        self._head = b""
        self._stat = (-1, -1)
        self.restarts += 1

    def _read(self, budget: int) -> Generator[Item, None, int]:
        """Read from the offset to the end of the file or the budget; returns the bytes read."""
        fd = self._fd
        if fd is None:
            return 0
        # Stat before reading: a change made during the read shows at the next poll.
        st = os.fstat(fd)
        self._stat = (st.st_size, st.st_mtime_ns)
        total = 0
        while total < budget:
            data = os.pread(fd, min(self.chunk, budget - total), self._offset)
            if not data:
                break
            if self._offset and self._head and os.pread(fd, len(self._head), 0) != self._head:
                # Rewritten between the check and this read: the chunk may be new content at
                # the old offset (rows shifted by a wider header). Drop it, start over at 0.
                self._restart()
                yield RESTART
                continue
            if len(self._head) < FINGERPRINT and self._offset == len(self._head):
                self._head += data[: FINGERPRINT - len(self._head)]
            self._offset += len(data)
            total += len(data)
            yield data
        return total
