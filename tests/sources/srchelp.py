"""Helpers shared by the source tests: a tiny line parser and polling with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from lrwatch.records import Metrics, Record
from lrwatch.sources import RunSource

#: Generous: the machine is shared; a passing test returns as soon as its data is in.
DEADLINE = 30.0


class StepParser:
    """Lines ``<step> <value>`` -> Metrics; anything else is a skipped line. No dedupe."""

    name = "steps"

    def __init__(self, names: Any = None, **options: Any) -> None:
        self.skipped = 0
        self.steps_inferred = False
        self.restarts = 0
        self.flushes = 0
        self._buf = b""

    def feed(self, data: bytes) -> list[Record]:
        buf = self._buf + data
        cut = buf.rfind(b"\n")
        if cut < 0:
            self._buf = buf
            return []
        self._buf = buf[cut + 1 :]
        return self._lines(buf[:cut])

    def flush(self) -> list[Record]:
        self.flushes += 1
        rest, self._buf = self._buf, b""
        return self._lines(rest) if rest else []

    def restart(self) -> None:
        self.restarts += 1
        self._buf = b""

    def _lines(self, block: bytes) -> list[Record]:
        out: list[Record] = []
        for line in block.split(b"\n"):
            if line.startswith(b"#"):
                continue
            parts = line.split()
            try:
                out.append(Metrics(step=int(parts[0]), values={"loss": float(parts[1])}))
            except (IndexError, ValueError):
                self.skipped += 1
        return out


class DedupeParser(StepParser):
    """Emits each step once across restarts (as the CSV parser does on Lightning rewrites)."""

    def __init__(self, names: Any = None, **options: Any) -> None:
        super().__init__(names, **options)
        self._last = -1

    def _lines(self, block: bytes) -> list[Record]:
        out = [r for r in super()._lines(block) if r.step > self._last]
        if out:
            self._last = out[-1].step
        return out


def dedupe_factory(fmt: str, names: Any = None) -> DedupeParser:
    return DedupeParser(names)


def step_factory(fmt: str, names: Any = None) -> StepParser:
    return StepParser(names)


def step_detect(path: str, head: bytes) -> str:
    return "steps"


def lines(start: int, stop: int) -> bytes:
    """The log lines for steps [start, stop)."""
    return b"".join(b"%d %d.5\n" % (i, i) for i in range(start, stop))


def make_source(path: str, **kw: Any) -> RunSource:
    kw.setdefault("parser_factory", step_factory)
    kw.setdefault("detector", step_detect)
    return RunSource(path, "run", **kw)


def poll_until(
    src: RunSource, out: list[Record], done: Callable[[], bool], timeout: float = DEADLINE
) -> None:
    """Poll ``src`` into ``out`` until ``done()`` (then one more poll) or the deadline."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out with {len(out)} records")
        out += src.poll()
        time.sleep(0.005)
    out += src.poll()


def steps_of(records: list[Record]) -> list[int]:
    return [r.step for r in records if isinstance(r, Metrics)]


def parser_of(src: RunSource) -> StepParser:
    """The parser instance the source made."""
    return src._parser
