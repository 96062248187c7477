"""Shared helpers for the format parser tests: feeding in chunks, fixture paths."""

from __future__ import annotations

import random
from pathlib import Path

from lrwatch.formats.base import Parser
from lrwatch.records import Event, Metrics, Record

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def fixture(name: str) -> bytes:
    """The bytes of a fixture log."""
    return (FIXTURES / name).read_bytes()


def feed_all(parser: Parser, data: bytes, sizes: list[int] | None = None) -> list[Record]:
    """Feed ``data`` in chunks of ``sizes`` (cycled; whole when None), then flush."""
    out: list[Record] = []
    if not sizes:
        out.extend(parser.feed(data))
    else:
        pos, i = 0, 0
        while pos < len(data):
            n = max(1, sizes[i % len(sizes)])
            out.extend(parser.feed(data[pos : pos + n]))
            pos += n
            i += 1
    out.extend(parser.flush())
    return out


def random_sizes(seed: int, n: int = 50, hi: int = 200) -> list[int]:
    """Reproducible random chunk sizes."""
    rng = random.Random(seed)
    return [rng.randint(1, hi) for _ in range(n)]


def metrics(records: list[Record]) -> list[Metrics]:
    """Only the metric records."""
    return [r for r in records if isinstance(r, Metrics)]


def events(records: list[Record], kind: str | None = None) -> list[Event]:
    """Only the events (of one kind when given)."""
    return [r for r in records if isinstance(r, Event) and (kind is None or r.kind == kind)]


def series(records: list[Record], name: str) -> list[tuple[int, float]]:
    """(step, value) of one metric, in order."""
    return [(r.step, r.values[name]) for r in metrics(records) if name in r.values]


def canon(records: list[Record]) -> list[tuple]:
    """Records as comparable tuples (NaN-safe: floats by repr)."""
    out: list[tuple] = []
    for r in records:
        if isinstance(r, Metrics):
            vals = tuple(sorted((k, repr(float(v))) for k, v in r.values.items()))
            out.append(("m", r.step, vals, repr(r.t), r.step_inferred))
        else:
            out.append(("e", r.kind, repr(r.data), r.step, repr(r.t)))
    return out
