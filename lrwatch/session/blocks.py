"""Slicing record batches by rows when some of them are :class:`MetricBlock` columns.

Block-mode readers yield one block for thousands of plain metric rows; the UI adds records to
the store and feeds the rules in slices of a few thousand rows (a lock hold, an engine call),
so a block is cut into row ranges (numpy views) where a slice ends inside it.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from lrwatch.records import AnyRecord, Event, MetricBlock, count_records


def block_rows(block: MetricBlock, a: int, b: int) -> MetricBlock:
    """Rows ``a:b`` of ``block`` (numpy views, no copy)."""
    return MetricBlock(
        block.steps[a:b],
        {k: v[a:b] for k, v in block.columns.items()},
        None if block.times is None else block.times[a:b],
        block.step_inferred,
    )


def slices(records: list[AnyRecord], size: int) -> Iterator[list[AnyRecord]]:
    """``records`` in consecutive lists of at most ``size`` rows, blocks split where needed.

    A :class:`~lrwatch.records.MetricBlock` counts as its rows (``count_records``): one block
    of a finished log can hold 100k records, which must not be added under one lock hold.
    """
    out: list[AnyRecord] = []
    room = size
    for rec in records:
        if isinstance(rec, MetricBlock):
            a, n = 0, len(rec)
            while n - a > room:
                out.append(block_rows(rec, a, a + room))
                a += room
                yield out
                out, room = [], size
            if a < n:
                out.append(rec if a == 0 else block_rows(rec, a, n))
                room -= n - a
        else:
            out.append(rec)
            room -= 1
        if room <= 0:
            yield out
            out, room = [], size
    if out:
        yield out


def thin_rows(records: list[AnyRecord], keep: int) -> list[AnyRecord]:
    """``records`` with about ``keep`` metric rows: the newest half as they are, the older
    rows sampled at an even stride, and every event and every row with a NaN/Inf kept.

    What the rules judge of a run they cannot read whole (a thousand runs' backlog): its
    recent past in full (open findings are about now) and the shape of the rest (a run that
    converged is not "falling slowly" because only its flat tail was left; on the labelled
    corpus a stride keeps every run's open findings where a tail alone changed a fifth).
    """
    n = count_records(records)
    metric_rows = n - sum(1 for r in records if isinstance(r, Event))
    if metric_rows <= keep:
        return records
    recent = keep // 2
    older = metric_rows - recent
    stride = -(-older // max(1, keep - recent))  # ceil: at most keep - recent older rows
    out: list[AnyRecord] = []
    row = 0
    for rec in records:
        if isinstance(rec, MetricBlock):
            idx = np.arange(row, row + len(rec))
            bad = np.zeros(len(rec), dtype=bool)
            for col in rec.columns.values():
                bad |= ~np.isfinite(col)
            pick = (idx >= older) | ((idx % stride) == 0) | bad
            row += len(rec)
            if pick.all():
                out.append(rec)
            elif pick.any():
                out.append(_block_pick(rec, pick))
        elif isinstance(rec, Event):
            out.append(rec)
        else:
            bad_row = any(v != v or v in (np.inf, -np.inf) for v in rec.values.values())
            if row >= older or row % stride == 0 or bad_row:
                out.append(rec)
            row += 1
    return out


def _block_pick(block: MetricBlock, pick: np.ndarray) -> MetricBlock:
    return MetricBlock(
        block.steps[pick],
        {k: v[pick] for k, v in block.columns.items()},
        None if block.times is None else block.times[pick],
        block.step_inferred,
    )
