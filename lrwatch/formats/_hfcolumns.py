"""The records of a ``trainer_state.json`` document being read, kept as compact columns.

The streaming reader (:mod:`lrwatch.formats.hf_state`) may emit a document's records only
once the document is complete. Held as Metrics records until then, 600,000 entries would cost
about 400 bytes each; held here, an entry costs its numbers (8 bytes each in an
``array``) plus a hash to recognise it after a rewrite. Consecutive entries with one key set
form a run; a run becomes one :class:`~lrwatch.records.MetricBlock` in block mode, else
Metrics records, when the document ends.
"""

from __future__ import annotations

import math
from array import array
from typing import Any

from lrwatch.formats.base import metrics_from_mapping
from lrwatch.formats.hf import SUMMARY_KEYS
from lrwatch.records import (
    STEP_KEYS,
    TIME_KEYS,
    AnyRecord,
    Event,
    MetricBlock,
    Metrics,
    NameMap,
    to_float,
)

#: Key sets whose plan is remembered (like the JSONL reader's); others take the general path.
MAX_PLANS = 4096
#: Block mode: runs shorter than this stay Metrics records.
MIN_BLOCK = 32
_MAX_STEP = 1 << 62
_MAX_INT = 1 << 1000  # ints beyond this take the general path (float() of them may overflow)
_TIME_KEYS = frozenset(TIME_KEYS)

# A plan for the entries of one key set: (step key, canonical names of the other keys), or
# None when they need the general path (a summary, a time key, no step key, name clashes).
Plan = tuple[str, tuple[str, ...]] | None


class _Run:
    """Consecutive entries with the same metric names, as columns."""

    __slots__ = ("names", "steps", "timed", "times", "values")

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = names
        self.steps = array("q")
        self.times = array("d")
        self.values = array("d")
        self.timed = False

    def __len__(self) -> int:
        return len(self.steps)

    def add(self, step: int, values: Any, t: float | None) -> None:
        self.steps.append(step)
        self.values.extend(values)
        if t is None:
            self.times.append(math.nan)
        else:
            self.times.append(t)
            self.timed = True

    def block(self) -> MetricBlock:
        import numpy as np

        k, w = len(self.steps), len(self.names)
        values = np.frombuffer(self.values, dtype=np.float64).reshape(k, w)
        columns = {name: values[:, j] for j, name in enumerate(self.names)}
        times = np.frombuffer(self.times, dtype=np.float64) if self.timed else None
        return MetricBlock(np.frombuffer(self.steps, dtype=np.int64), columns, times)

    def rows(self) -> list[Metrics]:
        w, names, values = len(self.names), self.names, self.values
        out = []
        for i, (step, t) in enumerate(zip(self.steps, self.times, strict=True)):
            row = dict(zip(names, values[i * w : (i + 1) * w], strict=True))
            out.append(Metrics(step, row, None if math.isnan(t) else t))
        return out


class PendingDoc:
    """What one document gave so far: runs of columns, summary events, entry hashes."""

    def __init__(self, names: NameMap, plans: dict[tuple[str, ...], Plan]) -> None:
        self.names = names
        self.done = False  #: the document's closing brace was read
        self.history = False  #: it has a ``log_history`` list
        self.skipped = 0  #: entries that gave nothing readable (counted when it ends)
        self.keys: set[int] = set()  #: hashes of its entries
        self._plans = plans
        self._items: list[_Run | Event] = []
        self._run: _Run | None = None

    def history_found(self) -> None:
        """The document's ``log_history`` list starts."""
        self.history = True

    def entry(self, key: int, entry: Any) -> None:
        """One decoded ``log_history`` entry whose hash is ``key`` (duplicates are dropped)."""
        if key in self.keys:
            return
        self.keys.add(key)
        if type(entry) is not dict:
            self.skipped += 1
        elif not self._fast(entry):
            self._general(entry)

    def records(self, blocks: bool) -> list[AnyRecord]:
        """The document's records, in entry order (``blocks``: long runs as MetricBlocks)."""
        out: list[AnyRecord] = []
        for item in self._items:
            if isinstance(item, Event):
                out.append(item)
            elif blocks and len(item) >= MIN_BLOCK:
                out.append(item.block())
            else:
                out += item.rows()
        self._items, self._run = [], None
        return out

    def _fast(self, entry: dict[str, Any]) -> bool:
        """A flat entry of plain numbers with an integer step: straight into its run."""
        keys = tuple(entry)
        try:
            plan = self._plans[keys]
        except KeyError:
            plan = self._plan(keys)
            if len(self._plans) < MAX_PLANS:
                self._plans[keys] = plan
        if plan is None:
            return False
        step_key, names = plan
        step = entry[step_key]
        if type(step) is not int or not 0 <= step < _MAX_STEP:
            return False
        values = [v for k, v in entry.items() if k != step_key]
        for v in values:
            if type(v) is not float and (type(v) is not int or not -_MAX_INT < v < _MAX_INT):
                return False  # an int no float holds (msgspec keeps 400 digits) too
        self._run_for(names).add(step, values, None)
        return True

    def _plan(self, keys: tuple[str, ...]) -> Plan:
        step_key = next((k for k in STEP_KEYS if k in keys), None)
        if step_key is None or SUMMARY_KEYS.intersection(keys) or _TIME_KEYS.intersection(keys):
            return None
        names = tuple(self.names(k) for k in keys if k != step_key)
        if not names or len(set(names)) != len(names):
            return None
        return step_key, names

    def _general(self, entry: dict[str, Any]) -> None:
        """Anything else (nested, strings, nulls, a summary), read as the JSONL reader would."""
        step, t, values = metrics_from_mapping(entry, self.names, STEP_KEYS)
        if not values:
            return
        if step is None:
            self.skipped += 1
            return
        if SUMMARY_KEYS & entry.keys():
            raw = {
                k: f
                for k, v in entry.items()
                if isinstance(v, int | float) and (f := to_float(v)) is not None
            }
            self._items.append(Event("summary", raw, step, t))
            self._run = None
            return
        self._run_for(tuple(values)).add(step, values.values(), t)

    def _run_for(self, names: tuple[str, ...]) -> _Run:
        run = self._run
        if run is None or run.names != names:
            run = self._run = _Run(names)
            self._items.append(run)
        return run
