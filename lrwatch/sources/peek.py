"""A first look at a run from its file's head and tail, before its backlog is read.

A directory of a thousand 10k-step runs holds close to a gigabyte of logs: reading it all takes
tens of seconds, but a runs table wants each run's last step, loss and LR, and whether it ended,
at once. :func:`peek` reads the first and the last few kilobytes of a file through the same
parser a :class:`~lrwatch.sources.run.RunSource` uses and returns those few numbers; the full
read then replaces them run by run. Binary formats (TensorBoard, W&B) are not peeked: their
records cannot be found from an arbitrary offset.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from lrwatch.losschoice import LossChooser
from lrwatch.records import AnyRecord, Event, NameMap, expand
from lrwatch.sources.run import (
    BINARY_FORMATS,
    Detector,
    ParserFactory,
    default_parser,
    detect_format,
)

#: Bytes read from the start of a file (to know its format) and from its end (~150 lines).
HEAD_BYTES = 4 << 10
TAIL_BYTES = 12 << 10
#: Trailing losses averaged into the peeked loss (the table's "last smoothed loss").
LOSS_POINTS = 25
#: Trailing records the pace is measured over.
PACE_POINTS = 100


@dataclass(frozen=True)
class Peek:
    """What a file's head and tail say of its run (every field may be unknown)."""

    size: int
    last_step: int | None = None
    last_t: float | None = None
    loss: float | None = None
    lr: float | None = None
    #: ``finished`` / ``crashed`` when the tail holds the run's ``end`` record.
    status: str | None = None
    steps_per_s: float | None = None


def peek(
    path: str,
    fmt: str | None = None,
    *,
    names: NameMap | None = None,
    parser_factory: ParserFactory | None = None,
    detector: Detector | None = None,
) -> Peek | None:
    """The :class:`Peek` of the log at ``path``; None when it cannot be had (unreadable, binary).

    ``fmt``/``names``/``parser_factory``/``detector`` are the source's own (see RunSource).
    """
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(HEAD_BYTES)
            start = max(len(head), size - TAIL_BYTES)
            fh.seek(start)
            tail = fh.read(TAIL_BYTES)
    except OSError:
        return None
    fmt = fmt or detect_format(path, head, detector)
    if fmt in BINARY_FORMATS:
        return None
    try:
        # A small file is all head; a tail that starts mid-line has a fragment first.
        data, cut = (head + tail, False) if start <= len(head) else (tail, True)
        records = _parse(fmt, data, names, parser_factory, cut_first=cut)
    except Exception:  # a parser should never raise; a peek must not stop a read either
        return None
    return _summarize(size, records)


def _parse(
    fmt: str,
    data: bytes,
    names: NameMap | None,
    factory: ParserFactory | None,
    cut_first: bool,
) -> list[AnyRecord]:
    if not data:
        return []
    if cut_first:
        cut = data.find(b"\n")
        data = data[cut + 1 :] if cut >= 0 else b""
    parser = (factory or default_parser)(fmt, names=names)
    return parser.feed(data) + parser.flush()


def _summarize(size: int, records: list[AnyRecord]) -> Peek:
    """The peek of ``records`` (head then tail, in file order)."""
    # The last records say it all (the loss's mean over 25, the pace over the rest); the
    # events are kept for the end record. Choosing the loss costs per record: a thousand
    # files are peeked before the table shows.
    rows: list[AnyRecord] = list(expand(records))
    events = [r for r in rows if isinstance(r, Event)]
    metrics = [r for r in rows if not isinstance(r, Event)][-PACE_POINTS:]
    records = LossChooser().apply([*events, *metrics])
    status: str | None = None
    steps: list[tuple[int, float | None]] = []
    losses: list[float] = []
    lr: float | None = None
    for rec in expand(records):
        if isinstance(rec, Event):
            if rec.kind == "end":
                status = "crashed" if rec.data.get("status") == "crashed" else "finished"
            continue
        if rec.step is not None:
            steps.append((int(rec.step), rec.t))
        loss = rec.values.get("loss")
        if loss is not None and math.isfinite(loss):
            losses.append(loss)
        if "lr" in rec.values:
            lr = rec.values["lr"]
    last_step, last_t = steps[-1] if steps else (None, None)
    tail = losses[-LOSS_POINTS:]
    return Peek(
        size,
        last_step,
        last_t,
        sum(tail) / len(tail) if tail else None,
        lr,
        status,
        _pace(steps),
    )


def _pace(steps: list[tuple[int, float | None]]) -> float | None:
    """Steps per second over the timed steps of the tail."""
    timed = [(s, t) for s, t in steps[-PACE_POINTS:] if t is not None and math.isfinite(t)]
    if len(timed) < 2:
        return None
    (s0, t0), (s1, t1) = timed[0], timed[-1]
    return (s1 - s0) / (t1 - t0) if t1 > t0 else None
