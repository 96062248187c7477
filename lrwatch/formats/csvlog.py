"""CSV metric logs: Lightning ``CSVLogger`` ``metrics.csv`` and Keras ``CSVLogger``.

Lightning writes sorted columns and sparse rows (a train row leaves the val cells empty) with
a ``step`` column, and when a new metric appears it rewrites the whole file in place with a
wider header. After :meth:`CsvParser.restart` the parser therefore compares each re-fed row
with the rows it already emitted (by a hash of its non-empty cells, which a wider header does
not change) and emits only rows past the ones it has seen: no duplicates, nothing lost. The
first row that differs ends the comparison (the file is a different log now).

Keras writes one row per epoch with an ``epoch`` column: the step is the epoch.
"""

from __future__ import annotations

import csv
from array import array
from typing import Any

from lrwatch.formats.base import LineParser, as_step, wall_time
from lrwatch.formats.hf import is_junk
from lrwatch.records import (
    STEP_KEYS,
    TIME_KEYS,
    Event,
    Metrics,
    NameMap,
    Record,
    lightning_optimizer,
    to_float,
)

_STEP_COLUMNS = (*STEP_KEYS, "epoch")


class CsvParser(LineParser):
    """Lightning / Keras CSV logs: a header line, then one row per logging call."""

    name = "csv"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        self._header: list[str] | None = None
        self._step_col: int | None = None
        self._time_col: int | None = None
        self._names: list[str] = []
        self._seen = array("q")  # hashes of emitted rows, in file order
        self._replay: int | None = None  # index into _seen while re-reading a rewritten file
        self._next_step = 0

    def restart(self) -> None:
        """The file was rewritten: re-read it, skipping the rows already emitted."""
        super().restart()
        self._header = None
        self._replay = 0
        self._next_step = 0

    def _parse_line(self, raw: bytes) -> Record | None:
        text = raw.decode("utf-8", "replace").strip("\r\ufeff")
        if is_junk(raw, text):
            self.skipped += 1
            return None
        cells = _split(text)
        if self._header is None:
            self._set_header(cells)
            return _optimizer_event(cells)
        if cells == self._header:
            return None  # a repeated header (a log appended after a restart)
        if len(cells) > len(self._header):
            self.skipped += 1
            return None
        return self._row(cells)

    def _set_header(self, cells: list[str]) -> None:
        old = set(self._header or ())
        self._header = cells
        lower = [c.strip().lower() for c in cells]
        self._step_col = next((lower.index(k) for k in _STEP_COLUMNS if k in lower), None)
        self._time_col = next((lower.index(k) for k in TIME_KEYS if k in lower), None)
        self._names = [self.names(c.strip()) for c in cells]
        if self._replay is not None and old and not old <= set(cells):
            self._replay = None  # a narrower or different header: a new log, not a rewrite

    def _row(self, cells: list[str]) -> Metrics | None:
        filled = [(i, c) for i, c in enumerate(cells) if c.strip()]
        if not filled:
            return None
        assert self._header is not None
        key = hash(tuple((self._header[i], c) for i, c in filled))
        if self._replay is not None:
            if self._replay < len(self._seen) and self._seen[self._replay] == key:
                self._replay += 1
                return None
            self._replay = None  # past the rows we had (or a different file): emit from here
        self._seen.append(key)
        return self._metrics(filled)

    def _metrics(self, filled: list[tuple[int, str]]) -> Metrics | None:
        step: int | None = None
        t: float | None = None
        values: dict[str, float] = {}
        for i, cell in filled:
            if i == self._step_col:
                step = as_step(cell)
                if step is not None:
                    continue
            if i == self._time_col:
                t = wall_time(cell)
                if t is not None:
                    continue
            f = to_float(cell)
            if f is not None:
                values[self._names[i]] = f
        if not values:
            return None
        inferred = step is None
        if step is None:
            step = self._next_step
            self.steps_inferred = True
        self._next_step = step + 1
        return Metrics(step, values, t, inferred)


def _optimizer_event(cells: list[str]) -> Event | None:
    """Lightning's LearningRateMonitor names its column after the optimizer (``lr-SGD``,
    ``lr-AdamW/pg1``): a ``run`` event that tells the rules which optimizer it is."""
    opt = next(filter(None, map(lightning_optimizer, cells)), None)
    return None if opt is None else Event("run", {"optimizer": opt})


def _split(text: str) -> list[str]:
    if '"' not in text:
        return text.split(",")
    try:
        return next(csv.reader([text]))
    except (csv.Error, StopIteration):
        return text.split(",")
