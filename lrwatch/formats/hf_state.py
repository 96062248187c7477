"""Hugging Face ``trainer_state.json``: one JSON document whose ``log_history`` has real steps.

The trainer rewrites the whole file at every checkpoint, so the parser emits the records of a
document once it is complete (on a feed that completes it) and, after a restart, only the
``log_history`` entries it has not emitted before. A document that is cut short or broken
gives no records and counts one skipped; a ``log_history`` entry that does not decode, or is
longer than :data:`MAX_ENTRY`, is skipped and counted alone and the rest is read. Every such
judgement rests on the bytes of the value alone, so any chunking gives the same result.

Streaming. The document is never decoded whole: a 100 MB file would become gigabytes of
Python objects. The bytes are walked as they arrive: the top-level keys, then each entry of
``log_history`` is cut out (its first ``}`` usually ends it; else :mod:`._jsonscan` finds the
end) and decoded alone by msgspec, and the other values are skipped (decoded only when small,
to catch a broken document). What an entry gives is kept as compact columns until the
document ends. Memory then grows with the records kept (about 8 bytes per value, plus a hash
per entry to skip it after a rewrite), not with the document, and each byte is looked at a
bounded number of times whatever the chunk size.

Total steps. The document's ``max_steps`` (a small top-level value, decoded as it is passed
over) is the run's total: a ``meta`` event with ``total_steps`` comes before the records of
the first document that states it, and again when a rewrite changes it.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from lrwatch.formats._hfcolumns import PendingDoc, Plan
from lrwatch.formats._jsonscan import ValueEnd
from lrwatch.formats.base import Parser
from lrwatch.records import AnyRecord, Event, NameMap

#: Longest ``log_history`` entry read (a longer one is passed over and counted as skipped).
MAX_ENTRY = 1 << 20
#: Other values up to this size are decoded to check the document; longer ones only scanned.
MAX_CHECKED = 64 << 10
#: Longest top-level key read, quotes included (a longer one is passed over with its value).
MAX_KEY = 4096
#: Bytes of consecutive entries decoded by one msgspec call (as a JSON array) at most (not
#: over MAX_ENTRY: an entry read in a batch must be one that is read alone).
MAX_BATCH = 1 << 20
HISTORY = "log_history"
#: The top-level key that holds the run's total steps.
MAX_STEPS = "max_steps"

_BAD = object()  # what _try_decode returns for bytes that are not JSON (null is None)
_WS = re.compile(rb"[ \t\r\n]*")
_BOM = b"\xef\xbb\xbf"

# Where the walk is. A state's handler returns False when it needs more bytes.
_DOC, _KEY, _COLON, _VALUE, _AFTER = "doc", "key", "colon", "value", "after"
_ITEM, _ENTRY, _ITEM_AFTER, _SKIP, _BROKEN = "item", "entry", "item_after", "skip", "broken"


class HfStateParser(Parser):
    """``trainer_state.json`` files, streamed, and re-read on every rewrite.

    Option ``blocks=True`` (block mode) yields runs of entries with one key set as
    :class:`~lrwatch.records.MetricBlock` columns.
    """

    name = "hf_state"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        self.blocks = bool(options.get("blocks", False))
        self._decoder = msgspec.json.Decoder()
        self._encode = msgspec.json.Encoder().encode
        self._emitted: set[int] = set()  # hashes of the entries emitted so far
        self._plans: dict[tuple[str, ...], Plan] = {}  # per key set, shared by the documents
        self._copied = 0
        self._total_sent: int | None = None  # the max_steps the last meta event said
        # State -> handler: the punctuation states get the next non-blank byte, the others
        # (the document's start, an entry, a value passed over) read the buffer themselves.
        self._at_char = {
            _KEY: self._at_key,
            _COLON: self._at_colon,
            _VALUE: self._at_value,
            _AFTER: self._at_after,
            _ITEM: self._at_item,
            _ITEM_AFTER: self._at_item_after,
        }
        self._at_bytes = {_DOC: self._at_doc, _ENTRY: self._at_entry, _SKIP: self._at_skip}
        self._reset()

    def _reset(self) -> None:
        """Forget the document being read (not what was emitted)."""
        self._buf = bytearray()
        self._pos = 0
        self._state = _DOC
        self._first = True  # no key (or entry) yet in the object (or list) being read
        self._key = ""
        self._scan: ValueEnd | None = None  # the value being delimited
        self._checked = True  # the skipped value is still short enough to decode
        self._skip_next = _AFTER  # where the walk goes after the skipped value
        self._search = 0  # where to look for the ``}`` that may end the current entry
        self._solo = 0  # bytes of entries to read one by one before batching again
        self._doc = PendingDoc(self.names, self._plans)
        self._max_steps: int | None = None  # the document's max_steps, once passed over

    @property
    def copied(self) -> int:
        """Bytes appended to the buffer or handed to the decoder (see :attr:`Parser.copied`)."""
        return self._copied

    def feed(self, data: bytes) -> list[AnyRecord]:
        """Walk the new bytes; the records of a document come when it is complete."""
        try:
            if self._state == _BROKEN:
                return []  # until the file is rewritten (restart) or the input ends
            self._buf += data
            self._copied += len(data)
            out: list[AnyRecord] = []
            self._walk(out)
            self._trim()
            return out
        except Exception:  # never raise out of a reader
            self._broken()
            return []

    def flush(self) -> list[AnyRecord]:
        """End of input: a document still incomplete is counted as skipped."""
        if self._state not in (_DOC, _BROKEN) or self._buf[self._pos :].strip(_BOM + b" \t\r\n"):
            self.skipped += 1
        self._reset()
        return []

    def restart(self) -> None:
        """The trainer rewrote the file: read it again, emitting only new entries."""
        self._reset()

    # -- the walk ---------------------------------------------------------------------------

    def _walk(self, out: list[AnyRecord]) -> None:
        while self._state != _BROKEN:
            state = self._state
            if state == _DOC and self._doc.done:
                self._total(out)
                out += self._doc.records(self.blocks)
                self._finish_doc()
                continue
            at_char = self._at_char.get(state)
            if at_char is not None:
                # The punctuation states read the next byte past whitespace first.
                c = self._next_char()
                if c < 0 or not at_char(c):
                    return
            elif not self._at_bytes[state]():
                return

    def _next_char(self) -> int:
        """The next byte after whitespace (the position moves to it), or -1 if none yet."""
        # _WS (``[...]*``) always matches; a None check would cost a branch per byte walked.
        pos = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
        self._pos = pos
        return self._buf[pos] if pos < len(self._buf) else -1

    def _at_doc(self) -> bool:
        head = bytes(self._buf[self._pos : self._pos + len(_BOM)])
        if head == _BOM:
            self._pos += len(_BOM)
        elif head and _BOM.startswith(head):
            return False  # a byte-order mark cut short: wait for the rest
        c = self._next_char()
        if c < 0:
            return False
        if c != ord("{"):
            return self._broken()
        self._pos += 1
        self._state, self._first = _KEY, True
        return True

    def _at_key(self, c: int) -> bool:
        if c == ord("}") and self._first:
            return self._end_doc()
        if c != ord('"'):
            return self._broken()
        scan = self._scan or ValueEnd(self._pos)
        end = scan.scan(self._buf)
        # A key longer than MAX_KEY (by its own length, not by how much of it a feed brought)
        # is not log_history: it is passed over unread, and its value with it.
        if end < 0:
            self._scan = scan
            if len(self._buf) - self._pos < MAX_KEY:
                return False
            self._key, self._checked, self._skip_next, self._state = "", False, _COLON, _SKIP
            return True
        self._scan = None
        self._key = "" if end - self._pos > MAX_KEY else self._decode(self._pos, end)
        self._pos, self._state = end, _COLON
        return True

    def _at_colon(self, c: int) -> bool:
        if c != ord(":") or not isinstance(self._key, str):
            return self._broken()
        self._pos += 1
        self._state = _VALUE
        return True

    def _at_value(self, c: int) -> bool:
        if self._key == HISTORY and c == ord("["):
            self._doc.history_found()
            self._pos += 1
            self._state, self._first = _ITEM, True
            return True
        return self._start_skip(_AFTER)

    def _at_after(self, c: int) -> bool:
        self._pos += 1
        if c == ord(","):
            self._state, self._first = _KEY, False
            return True
        if c == ord("}"):
            return self._end_doc()
        return self._broken()

    # -- log_history ------------------------------------------------------------------------

    def _at_item(self, c: int) -> bool:
        if c == ord("]") and self._first:
            self._pos += 1
            self._state = _AFTER
            return True
        self._first = False
        if c == ord("{"):
            self._state, self._search = _ENTRY, self._pos
            return True
        self._doc.skipped += 1  # an entry that is not an object: skipped unread
        return self._start_skip(_ITEM_AFTER, check=False)

    def _at_entry(self) -> bool:
        """Cut out one entry: up to its first ``}`` when that decodes, else as scanned.

        An entry is judged by its own bytes, never by where a feed ended: one longer than
        MAX_ENTRY is passed over whether its end has come or not, and one that does not decode
        (not JSON, nested too deep) is skipped alone; both count one skipped.
        """
        if self._scan is None and self._solo <= 0 and self._batch():
            return True
        buf, start = self._buf, self._pos
        if self._scan is None:
            limit = start + MAX_ENTRY  # a "}" at or past it ends an entry too long to read
            close = buf.find(b"}", self._search, limit)
            if close < 0:
                self._search = min(len(buf), limit)
                return self._entry_fits()
            raw = self._slice(start, close + 1)
            entry = self._try_decode(raw)
            if entry is not _BAD:
                return self._entry_done(entry, close + 1)
            self._scan = ValueEnd(start)  # nested, or a "}" inside a string: scan it
        end = self._scan.scan(buf)
        if end < 0:
            return self._entry_fits()
        self._scan = None
        entry = _BAD if end - start > MAX_ENTRY else self._try_decode(self._slice(start, end))
        if entry is _BAD:
            self._doc.skipped += 1
            self._pos, self._state = end, _ITEM_AFTER
            return True
        return self._entry_done(entry, end)

    def _entry_fits(self) -> bool:
        """Waiting for more of an entry: pass it over once it is longer than MAX_ENTRY."""
        if len(self._buf) - self._pos < MAX_ENTRY:
            return False
        self._doc.skipped += 1
        self._scan = None
        return self._start_skip(_ITEM_AFTER, check=False)

    def _batch(self) -> bool:
        """Decode the complete entries ahead with one msgspec call (most of the time).

        Up to the last ``}`` before a ``]`` (the list's end) within MAX_BATCH bytes: when that
        span with brackets around it decodes as a list, it is exactly a run of whole entries
        (JSON values have one parse). When it does not (nested entries, a brace in a string),
        the entries of that span are read one by one, so a failed try costs its span once.
        """
        buf, start = self._buf, self._pos
        stop = min(len(buf), start + MAX_BATCH)
        bracket = buf.find(b"]", start, stop)
        end = buf.rfind(b"}", start, stop if bracket < 0 else bracket) + 1
        if end <= 0:
            return False
        entries = self._try_decode(b"[" + self._slice(start, end) + b"]")
        if type(entries) is not list:
            self._solo = end - start
            return False
        for entry in entries:
            self._entry(entry)
        self._pos, self._state = end, _ITEM_AFTER
        return True

    def _entry(self, entry: Any) -> None:
        if type(entry) is not dict:
            # Counted each time, as when read one by one (_at_item): never deduplicated.
            self._doc.skipped += 1
            return
        # An entry is known by its content, as msgspec writes it back (the same for the same
        # entry in every rewrite of the file, whatever its whitespace).
        key = hash(self._encode(entry))
        if key not in self._emitted:
            self._doc.entry(key, entry)

    def _entry_done(self, entry: Any, end: int) -> bool:
        self._entry(entry)
        self._solo -= end - self._pos
        self._pos, self._state = end, _ITEM_AFTER
        return True

    def _at_item_after(self, c: int) -> bool:
        self._pos += 1
        if c == ord(","):
            self._state = _ITEM
            return True
        if c == ord("]"):
            self._state = _AFTER
            return True
        return self._broken()

    # -- values passed over -----------------------------------------------------------------

    def _start_skip(self, then: str, check: bool = True) -> bool:
        self._scan = ValueEnd(self._pos)
        self._checked, self._skip_next, self._state = check, then, _SKIP
        return True

    def _at_skip(self) -> bool:
        scan = self._scan
        assert scan is not None
        end = scan.scan(self._buf)
        if end < 0:
            if self._checked and scan.pos - scan.start > MAX_CHECKED:
                self._checked = False  # too long to decode: its bytes need not be kept
            return False
        self._scan = None
        # Decoded only when short, whether it came in one feed or many: a long value's bytes
        # are dropped as they are scanned, so it is never decoded.
        checked = self._checked and end - scan.start <= MAX_CHECKED
        value = self._try_decode(self._slice(scan.start, end)) if checked else _BAD
        if checked and value is _BAD:
            return self._broken()
        if self._skip_next == _AFTER and self._key == MAX_STEPS and type(value) is int:
            self._max_steps = value
        self._pos, self._state = end, self._skip_next
        return True

    # -- helpers ----------------------------------------------------------------------------

    def _slice(self, start: int, end: int) -> bytes:
        """A copy of ``buf[start:end]`` (counted in :attr:`copied`)."""
        self._copied += end - start
        with memoryview(self._buf) as mv:
            return bytes(mv[start:end])

    def _try_decode(self, raw: bytes) -> Any:
        """The JSON value in ``raw``, or ``_BAD`` when it does not decode."""
        try:
            return self._decoder.decode(raw)
        except (msgspec.DecodeError, ValueError, RecursionError):
            return _BAD

    def _decode(self, start: int, end: int) -> Any:
        return self._try_decode(self._slice(start, end))  # not a str: the colon check fails

    def _end_doc(self) -> bool:
        self._pos += 1
        self._doc.done = True
        self._state = _DOC
        return True

    def _total(self, out: list[AnyRecord]) -> None:
        """A ``meta`` event when the finished document's ``max_steps`` is new (HF writes -1
        or 0 where it has none: no event then)."""
        total = self._max_steps
        if total is not None and total > 0 and total != self._total_sent:
            self._total_sent = total
            out.append(Event("meta", {"total_steps": total}))

    def _finish_doc(self) -> None:
        """The document ended (its records were taken): remember its entries as emitted."""
        doc = self._doc
        self.skipped += doc.skipped if doc.history else 1
        if doc.history and self._emitted:
            self._emitted.update(doc.keys)
        elif doc.history:
            self._emitted = doc.keys  # the first document: its set, not a copy
        self._doc = PendingDoc(self.names, self._plans)

    def _broken(self) -> bool:
        """Not a JSON document: count it once and read nothing more until a rewrite."""
        self.skipped += 1
        self._buf = bytearray()
        self._pos = 0
        self._scan = None
        self._state = _BROKEN
        self._doc = PendingDoc(self.names, self._plans)
        return False

    def _trim(self) -> None:
        """Drop the bytes read: all before the value being delimited, if it must be kept."""
        keep = self._pos
        scan = self._scan
        if scan is not None and self._state == _SKIP and not self._checked:
            keep = scan.pos  # a long skipped value: its bytes are never decoded
        if keep:
            del self._buf[:keep]  # bytearray drops a prefix by moving its start: no copy
            self._pos -= keep
            self._search = max(self._search - keep, 0)
            if scan is not None:
                scan.shift(keep)
