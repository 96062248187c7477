"""Growable step / wall-time columns that one series owns or a group of series shares."""

from __future__ import annotations

from itertools import chain
from typing import Any, Protocol

import numpy as np


class ValueSink(Protocol):
    """What a group member must offer: take a column of values appended in bulk."""

    def _take_values(self, values: np.ndarray) -> None: ...


INITIAL_CAPACITY = 256


def grown(arr: np.ndarray, used: int, need: int) -> np.ndarray:
    """``arr`` or a copy with room for ``need`` items (its first ``used`` kept)."""
    cap = len(arr)
    if need <= cap:
        return arr
    cap = max(cap * 2, need)
    new = np.empty(cap, dtype=arr.dtype)
    new[:used] = arr[:used]
    return new


def readonly(view: np.ndarray) -> np.ndarray:
    view.flags.writeable = False
    return view


class Axis:
    """Step and wall-time columns, owned by one series or shared by a group of series.

    In group mode (``members`` set) the series of one key set are strictly in step: each
    record adds one row and one tuple of values (``rows``), and flushing hands each member its
    column in bulk, so ingest costs a few list appends per record, not per value.
    """

    __slots__ = (
        "breaks",
        "dead",
        "loose",
        "members",
        "n",
        "nf",
        "ps",
        "pt",
        "rows",
        "steps",
        "times",
        "users",
    )

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        self.steps = np.empty(capacity, dtype=np.int64)
        self.times = np.empty(capacity, dtype=np.float64)
        self.nf = 0  # rows in the numpy columns
        self.n = 0  # rows in all, pending included
        self.ps: list[int] = []
        self.pt: list[float | None] = []
        self.breaks: list[int] = []  # rows whose step is below the previous row's
        self.users = 0
        self.dead = False
        # Group mode: one member per key of the key set, None once that member went its own way.
        self.members: list[ValueSink | None] | None = None
        self.loose: tuple[int, ...] = ()  # positions of the keys whose member left
        self.rows: list[tuple[Any, ...]] = []

    def release(self, member: ValueSink) -> None:
        """``member`` leaves the group (it took a copy of its rows); flush first."""
        if self.members is None:
            return
        j = self.members.index(member)
        self.members[j] = None
        self.loose = (*self.loose, j)
        if all(m is None for m in self.members):
            self.members = None
            self.loose = ()

    def flush(self) -> None:
        """Move pending rows (and a group's pending values) into the numpy columns."""
        if not self.ps:
            return
        steps = np.array(self.ps, dtype=np.int64)
        times = np.array(self.pt, dtype=np.float64)  # None becomes NaN
        self.ps.clear()
        self.pt.clear()
        self.put(steps, times)
        if self.rows:
            k, width = len(self.rows), len(self.rows[0])
            # fromiter over the flattened tuples: 2-3x faster than np.array(list of tuples).
            flat = np.fromiter(chain.from_iterable(self.rows), dtype=np.float64, count=k * width)
            block = flat.reshape(k, width)
            self.rows.clear()
            for j, member in enumerate(self.members or ()):
                if member is not None:
                    member._take_values(block[:, j])

    def put(self, steps: np.ndarray, times: np.ndarray | float) -> None:
        """Append numpy rows (no rows may be pending)."""
        k, nf = len(steps), self.nf
        self.steps = grown(self.steps, nf, nf + k)
        self.times = grown(self.times, nf, nf + k)
        self.steps[nf : nf + k] = steps
        self.times[nf : nf + k] = times
        # Rows where the step goes down: compared in place, no diff/prepend temporaries (on
        # a 10M-point extend those two 80 MB arrays cost more than the copy itself).
        down = np.flatnonzero(steps[1:] < steps[:-1]) + 1
        if nf and k and steps[0] < self.steps[nf - 1]:
            self.breaks.append(nf)
        self.breaks.extend((down + nf).tolist())
        self.nf = self.n = nf + k
