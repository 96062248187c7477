"""RunSource: one run, read from one file (followed live) or from a pipe, through one parser.

The source turns bytes into records: it detects the format from the first complete line (or
the file name), drops NUL padding in text formats (what copytruncate leaves when the writer
kept its offset), and hands the parser's markers on: ``restart()`` when the file starts over,
``flush()`` when a stream ends for good.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from lrwatch.records import AnyRecord, NameMap
from lrwatch.sources.errors import SourceError
from lrwatch.sources.stdin import StreamReader
from lrwatch.sources.tail import FLUSH, RESTART, FileTail

if TYPE_CHECKING:
    from lrwatch.formats.base import Parser

#: Bytes one poll reads per source at most: a huge file streams in over several polls, so the
#: first records show up at once and memory stays bounded.
POLL_BUDGET = 16 << 20
#: Detection waits for a complete first line, or this much data without one.
DETECT_HEAD = 64 << 10
#: Formats whose bytes are binary: NUL bytes are data there, not padding.
BINARY_FORMATS = frozenset({"tfevents", "wandb"})

ParserFactory = Callable[..., "Parser"]
Detector = Callable[[str, bytes], "str | None"]


def default_parser(fmt: str, names: NameMap | None = None) -> Parser:
    """A parser of format ``fmt`` from the formats registry (what a source makes by default)."""
    from lrwatch.formats import make_parser

    return make_parser(fmt, names=names)


def _default_detect(path: str, head: bytes) -> str | None:
    from lrwatch.formats import detect

    return detect(path, head)


def detect_format(path: str, head: bytes, detector: Detector | None = None) -> str:
    """The format of the file at ``path`` from its first bytes: ``text`` when nothing fits,
    or when the detector fails."""
    try:
        return (detector or _default_detect)(path, head) or "text"
    except Exception:
        return "text"


class RunSource:
    """One run: a file followed live (or read once to EOF), or ``-`` for stdin."""

    def __init__(
        self,
        path: str,
        name: str,
        fmt: str | None = None,
        *,
        follow: bool = True,
        names: NameMap | None = None,
        fd: int | None = None,
        parser_factory: ParserFactory | None = None,
        detector: Detector | None = None,
        blocks: bool = False,
    ) -> None:
        """``fd`` reads that descriptor as a pipe instead of ``path`` (``-`` means stdin).

        ``blocks=True`` lets the parser yield :class:`~lrwatch.records.MetricBlock` columns
        (parsers that know block mode: JSONL); only for consumers that handle them.
        """
        self.name = name
        self.path = path
        self.format = fmt or ""
        self.follow = follow
        self.blocks = blocks
        self._names = names
        self._factory = parser_factory or default_parser
        self._detect = detector
        self._stream = StreamReader(fd) if (fd is not None or path == "-") else None
        self._tail = None if self._stream else FileTail(path)
        self._head = bytearray()  # bytes held until the format is known
        self._parser: Parser | None = None
        self._errors = 0  # parser exceptions caught here (a parser should never raise)
        self.done = False
        if fmt:
            self._parser = self._make(fmt)

    # -- public ---------------------------------------------------------------------------

    @property
    def skipped(self) -> int:
        """Lines the parser skipped, plus chunks this source dropped after a parser error."""
        return (self._parser.skipped if self._parser else 0) + self._errors

    @property
    def offset(self) -> int | None:
        """Bytes of the file read so far (None for a pipe): how far a backlog has got."""
        return None if self._tail is None else self._tail.offset

    @property
    def unread(self) -> list[str]:
        """The first lines that held numbers but gave no record (what ``inspect`` shows)."""
        return list(getattr(self._parser, "unread", None) or [])

    @property
    def unread_count(self) -> int:
        """How many :attr:`unread` lines there are (no copy: the follower asks every poll)."""
        return len(getattr(self._parser, "unread", None) or ())

    @property
    def steps_inferred(self) -> bool:
        """Whether the parser had to number the records itself (the log carries no step)."""
        return bool(self._parser and self._parser.steps_inferred)

    @property
    def is_stream(self) -> bool:
        """Whether this source reads a pipe (stdin) rather than a file."""
        return self._stream is not None

    def poll(self, budget: int = POLL_BUDGET) -> list[AnyRecord]:
        """The records that are new since the last poll; never raises for bad content."""
        if self.done:
            return []
        out: list[AnyRecord] = []
        read = 0
        for item in self._items(budget):
            if item is FLUSH:
                out += self._flush()
            elif item is RESTART:
                self._restart()
            else:
                assert isinstance(item, bytes)
                read += len(item)
                out += self._feed(item)
        if self._finished(read, budget):
            out += self._flush()
            self.done = True
        return out

    def wait(self, timeout: float) -> None:
        """Block up to ``timeout`` seconds for new data (pipes only; files just sleep)."""
        if self._stream is not None:
            self._stream.wait(timeout)

    def close(self) -> None:
        """Release the file descriptor. A pipe's reader thread is a daemon and ends at EOF."""
        if self._tail is not None:
            self._tail.close()

    # -- internals ------------------------------------------------------------------------

    def _items(self, budget: int) -> Iterator[bytes | str]:
        if self._stream is not None:
            return self._stream.poll(budget)
        assert self._tail is not None
        if not self.follow and not self._tail.opened and not os.path.exists(self.path):
            raise SourceError(f"{self.path}: no such file")
        return self._tail.poll(budget)

    def _finished(self, read: int, budget: int) -> bool:
        """Whether the input is over: a pipe at EOF, or a file read to its end (no follow)."""
        if self._stream is not None:
            return self._stream.done
        return not self.follow and read < budget

    def _make(self, fmt: str) -> Parser:
        try:
            parser = self._factory(fmt, names=self._names)
        except ValueError as exc:
            raise SourceError(f"unknown format {fmt!r} ({exc})") from exc
        if self.blocks and hasattr(parser, "blocks"):
            parser.blocks = True
        return parser

    def _binary(self) -> bool:
        return self.format in BINARY_FORMATS

    def _feed(self, data: bytes) -> list[AnyRecord]:
        parser = self._parser
        if parser is None:
            if not self._head and not self._named_binary():
                # Leading NULs (a copytruncated file) would hide the first line from detection.
                data = data.lstrip(b"\0")
            self._head += data
            if not self._ready_to_detect(data):
                return []
            parser = self._start()
            data, self._head = bytes(self._head), bytearray()
        if not self._binary() and b"\0" in data:
            # NUL padding (copytruncate while the writer kept its offset) is not content.
            data = data.replace(b"\0", b"")
        try:
            return parser.feed(data)
        except Exception:
            self._errors += 1
            return []

    def _named_binary(self) -> bool:
        base = os.path.basename(self.path)
        return "tfevents" in base or base.endswith(".wandb")

    def _ready_to_detect(self, data: bytes) -> bool:
        if self._named_binary():
            return bool(self._head)
        # tqdm redraws with "\r": a progress bar is a complete line for detection too. Only
        # the new bytes are searched: the held ones had no line end (a head fed a byte at a
        # time would otherwise be scanned again at every byte).
        return b"\n" in data or b"\r" in data or len(self._head) >= DETECT_HEAD

    def _start(self) -> Parser:
        """Detect the format from the held head and make the parser."""
        fmt = detect_format(self.path, bytes(self._head[:DETECT_HEAD]), self._detect)
        self.format = fmt
        self._parser = parser = self._make(fmt)
        return parser

    def _flush(self) -> list[AnyRecord]:
        parser = self._parser
        if parser is None:
            if not self._head:
                return []
            parser = self._start()
            out = self._feed(bytes(self._head))
            self._head.clear()
        else:
            out = []
        try:
            return out + parser.flush()
        except Exception:
            self._errors += 1
            return out

    def _restart(self) -> None:
        self._head.clear()
        if self._parser is not None:
            try:
                self._parser.restart()
            except Exception:
                self._errors += 1
