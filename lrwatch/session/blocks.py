"""Slicing record batches by rows when some of them are :class:`MetricBlock` columns.

Block-mode readers yield one block for thousands of plain metric rows; the UI adds records to
the store and feeds the rules in slices of a few thousand rows (a lock hold, an engine call),
so a block is cut into row ranges (numpy views) where a slice ends inside it.
"""

from __future__ import annotations

from collections.abc import Iterator

from lrwatch.records import AnyRecord, MetricBlock


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
