"""Where a JSON value ends, found over bytes that arrive piece by piece, in linear time.

The streaming ``trainer_state.json`` reader decodes each ``log_history`` entry on its own and
skips the document's other values without decoding them. Both need the end of a value whose
bytes may not all be there yet: :class:`ValueEnd` tracks nesting depth and strings (escapes
included) and resumes where it stopped, so a value fed a byte at a time is still scanned once.
It checks structure only; the bytes of a value it delimits are decoded (and so validated) by
msgspec.
"""

from __future__ import annotations

import re

# Outside strings only brackets and quotes matter; inside a string, its quote or a backslash.
_STRUCT = re.compile(rb'[{}\[\]"]')
_IN_STRING = re.compile(rb'["\\]')
# A top-level number or literal ends at whitespace, a comma or a closing bracket.
_SCALAR_END = re.compile(rb"[\s,}\]]")
_QUOTE, _BACKSLASH = ord('"'), ord("\\")
_OPEN = frozenset(b"{[")


class ValueEnd:
    """Finds the end of the JSON value that starts at ``pos`` of a growing buffer."""

    __slots__ = ("_depth", "_in_string", "_started", "pos", "start")

    def __init__(self, start: int) -> None:
        self.start = start  #: where the value starts
        self.pos = start  #: where the scan resumes
        self._depth = 0
        self._in_string = False
        self._started = False

    def shift(self, k: int) -> None:
        """The buffer lost its first ``k`` bytes: move the offsets with it."""
        self.start -= k
        self.pos -= k

    def scan(self, buf: bytes | bytearray) -> int:
        """The offset just past the value's end, or -1 when ``buf`` ends first.

        Call again with the same buffer grown: the scan resumes where it stopped.
        """
        n = len(buf)
        if not self._started:
            if self.pos >= n:
                return -1
            c = buf[self.pos]
            if c in _OPEN or c == _QUOTE:
                self._started = True
                self._depth = 1 if c != _QUOTE else 0
                self._in_string = c == _QUOTE
                self.pos += 1
            else:
                m = _SCALAR_END.search(buf, self.pos)
                if m is None:
                    self.pos = n
                    return -1
                return m.start()
        return self._scan_nested(buf, n)

    def _scan_nested(self, buf: bytes | bytearray, n: int) -> int:
        pos, depth = self.pos, self._depth
        while True:
            if self._in_string:
                m = _IN_STRING.search(buf, pos)
                if m is None:
                    pos = n
                    break
                i = m.start()
                if buf[i] == _BACKSLASH:
                    if i + 1 >= n:
                        pos = i  # the escaped character has not arrived
                        break
                    pos = i + 2
                    continue
                self._in_string = False
                pos = i + 1
                if depth == 0:
                    return pos  # a top-level string
                continue
            m = _STRUCT.search(buf, pos)
            if m is None:
                pos = n
                break
            pos = m.end()
            c = buf[m.start()]
            if c == _QUOTE:
                self._in_string = True
            elif c in _OPEN:
                depth += 1
            else:
                depth -= 1
                if depth == 0:
                    return pos
        self.pos, self._depth = pos, depth
        return -1
