"""Held: the partial input a parser holds back between feeds, at a cost linear in the input.

A parser fed in small chunks (a pipe read 64 KiB at a time, a live file a few bytes per poll)
must not copy what it holds back on every chunk: ``buf = held + data`` copies the held bytes
again at each feed, so a record that arrives in k pieces costs O(k × its size), and a 1 MiB
line fed a byte at a time costs 10^12 byte copies. :class:`Held` keeps the pieces as they
came and joins them once, when the caller knows enough has arrived (a newline, the length a
record header announced). Each byte is then copied a bounded number of times whatever the
chunk size.

``copied`` counts the bytes joined: tests feed inputs one byte at a time and check that it
stays within a small multiple of the input's size (a count, not a time).
"""

from __future__ import annotations


class Held:
    """Byte pieces held back, joined only on :meth:`take`."""

    __slots__ = ("_parts", "_size", "copied")

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        #: Bytes copied by :meth:`take` and :meth:`keep` so far (a measure for tests).
        self.copied = 0

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return self._size > 0

    def add(self, data: bytes) -> None:
        """Hold ``data`` too (no copy: the piece is kept as it is)."""
        if data:
            self._parts.append(data)
            self._size += len(data)

    def take(self, data: bytes = b"") -> bytes:
        """Everything held followed by ``data``, as one bytes object; nothing is held after."""
        if not self._parts:
            return data
        parts = self._parts
        if data:
            parts.append(data)
        out = parts[0] if len(parts) == 1 else b"".join(parts)
        if len(parts) > 1:
            self.copied += len(out)
        self._parts = []
        self._size = 0
        return out

    def keep(self, buf: bytes, start: int) -> None:
        """Hold ``buf[start:]`` instead of whatever was held (the unread tail of a parse)."""
        self._parts = []
        self._size = 0
        if start < len(buf):
            rest = buf[start:] if start else buf
            if start:
                self.copied += len(rest)
            self._parts.append(rest)
            self._size = len(rest)

    def clear(self) -> None:
        """Drop what is held."""
        self._parts = []
        self._size = 0
