"""Hugging Face Trainer console output: Python-repr dicts between tqdm redraws.

``{'loss': 2.31, 'grad_norm': 1.2, 'learning_rate': 5e-05, 'epoch': 0.1}`` (4.x floats) or
``{'loss': '2.31', ...}`` (5.x strings), bare ``nan``, mixed with tqdm ``\\r`` redraws and ANSI
escapes. The dicts carry no step. The trainer prints a dict with ``tqdm.write``, which redraws
the bar right after it showing the exact global step; the counter drawn *before* the dict can
lag behind (tqdm's refresh interval). So a dict's step is the main bar's counter on the first
redraw after it, else the nearest one before it, else the records are numbered from 0 and
marked inferred. Nested bars (evaluation, drawn with a cursor-up escape) and bars with a
smaller total than the training bar never give steps.

Total steps. The training bar's total is the run's ``max_steps``: once a dict took its step
from that bar (so the bar is known to count steps, not files or an epoch's batches), a
``meta`` event says ``total_steps``, again whenever the total changes. A bar whose counter
starts over under the same total counted something else: the total is withdrawn
(``total_steps: null``) and the log gives none after.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from lrwatch.formats.base import LineParser
from lrwatch.records import AnyRecord, Event, Metrics, NameMap, to_float

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TQDM = re.compile(r"(?:^|\|\s*|\s)(\d+)/(\d+)\s*\[")
# Where a metrics dict starts; it ends at the line's last "}" (see :func:`dict_text`).
_DICT_START = re.compile(r"\{\s*'")
# Bare nan/inf as values: quote them so literal_eval accepts the dict.
_BARE = re.compile(r"(?<=[:\[,(\s])(-?(?:nan|inf|NaN|Infinity))(?=\s*[,}\])])")
#: Keys of the trainer's final summary dict; its train_loss is a run average, not a point.
SUMMARY_KEYS = frozenset({"train_runtime", "train_samples_per_second", "train_steps_per_second"})
_MAX_DICT = 64 << 10


def parse_repr_dict(text: str) -> dict[str, Any] | None:
    """A Python-repr dict (single quotes, bare ``nan``) -> dict, safely; ``None`` if broken."""
    if len(text) > _MAX_DICT:
        return None
    try:
        obj = ast.literal_eval(_BARE.sub(r"'\1'", text))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    return obj if isinstance(obj, dict) else None


def dict_text(line: str) -> str | None:
    """The ``{'…}`` of a line: from its first ``{'`` to its last ``}`` (``None`` if none).

    What the regex ``\\{\\s*'.*\\}`` matched, in linear time: that regex tried every
    ``{'`` of a line with no ``}`` after it and scanned to the line's end from each, and a
    line of 75,000 nested ``{'a': `` took 20 s (fuzz, seed 11).
    """
    m = _DICT_START.search(line)
    if m is None:
        return None
    end = line.rfind("}", m.end())
    return line[m.start() : end + 1] if end >= 0 else None


def is_junk(raw: bytes, text: str) -> bool:
    """Binary garbage rather than a log line: NUL bytes or mostly undecodable bytes."""
    return b"\x00" in raw or text.count("\ufffd") * 4 > len(text)


class HfParser(LineParser):
    """Hugging Face Trainer console logs (stdout/stderr captured to a file)."""

    name = "hf"
    cr_is_newline = True

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        self._reset()

    def _reset(self) -> None:
        self._main_total = 0  # total of the training bar (the largest non-nested total)
        self._counter: int | None = None  # its last counter
        self._pending: list[tuple[dict[str, Any], int | None]] = []  # dicts awaiting a redraw
        self._last_step: int | None = None
        self._next_inferred = 0
        self._total_sent: int | None = None  # the total_steps the last meta event said
        self._no_totals = False  # a counter started over under its total: it was no step total

    def restart(self) -> None:
        """Start over: forget counters, numbering and dicts awaiting a step."""
        super().restart()
        self._reset()

    def flush(self) -> list[AnyRecord]:
        """Parse the last line and settle dicts that never saw a redraw."""
        out = super().flush()
        self._settle(None, out)
        return out

    def _parse_block(self, block: bytes) -> list[AnyRecord]:
        out: list[AnyRecord] = []
        for raw in block.split(b"\n"):
            if raw.strip():
                try:
                    self._segment(raw, out)
                except Exception:  # never raise: one odd line must not stop the run
                    self.skipped += 1
        return out

    def _segment(self, raw: bytes, out: list[AnyRecord]) -> None:
        text = raw.decode("utf-8", "replace")
        if is_junk(raw, text):
            self.skipped += 1
            return
        self._segment_text(text, out)

    def _segment_text(self, text: str, out: list[AnyRecord]) -> None:
        """One decoded line: a bar, a dict, or (for the text parser) anything else."""
        nested = "\x1b[A" in text
        if "\x1b" in text:
            text = _ANSI.sub("", text)
        if self._hf_segment(text, nested, out):
            return
        self._other_line(text, out)

    def _hf_segment(self, text: str, nested: bool, out: list[AnyRecord]) -> bool:
        """Handle a tqdm redraw or a metrics dict; False when the line is neither."""
        if "{'" in text:
            found = dict_text(text)
            if found is not None:
                obj = parse_repr_dict(found)
                if obj is None:
                    self.skipped += 1
                else:
                    self._settle(None, out)
                    self._pending.append((obj, self._counter))
                    if not self._main_total:
                        # No bar in this log (stdout captured alone): no redraw will come, so
                        # waiting for one would only delay the newest point.
                        self._settle(None, out)
                return True
            if text.lstrip().startswith("{'"):
                self.skipped += 1  # a metrics dict cut short
                return True
        if "/" in text and "[" in text:
            for m in _TQDM.finditer(text):
                self._counter_seen(int(m.group(1)), int(m.group(2)), nested, out)
            return bool(_TQDM.search(text))
        return False

    def _other_line(self, text: str, out: list[AnyRecord]) -> None:
        """A line that is neither a bar nor a dict: prose. (The text parser reads more.)"""

    def _counter_seen(self, n: int, total: int, nested: bool, out: list[AnyRecord]) -> None:
        if nested or total < self._main_total or n > total:
            return
        if total > self._main_total:
            self._main_total = total
        elif self._counter is not None and n < self._counter and self._total_sent == total:
            self._withdraw_total(n, out)  # the bar started over: an epoch's batches
        self._counter = n
        self._settle(n, out)

    def _settle(self, redraw: int | None, out: list[AnyRecord]) -> None:
        """Emit dicts awaiting a step: the redraw's counter, else the one before them."""
        for obj, before in self._pending:
            step = redraw if redraw is not None else before
            self._emit(obj, step, out)
            if step is not None and self._main_total:
                self._send_total(self._main_total, step, out)  # the bar counts steps
        self._pending.clear()

    def _send_total(self, total: int, step: int | None, out: list[AnyRecord]) -> None:
        """A ``meta`` event with ``total_steps`` when it is new or changed (not per line)."""
        if total == self._total_sent or self._no_totals or total < 1:
            return
        self._total_sent = total
        out.append(Event("meta", {"total_steps": total}, step))

    def _withdraw_total(self, step: int | None, out: list[AnyRecord]) -> None:
        """The counter that gave the total started over: it was no step total. Say so once,
        and give no total for the rest of this log (better none than a wrong one)."""
        if not self._no_totals and self._total_sent is not None:
            out.append(Event("meta", {"total_steps": None}, step))
        self._no_totals, self._total_sent = True, None

    def _emit(self, obj: dict[str, Any], step: int | None, out: list[AnyRecord]) -> None:
        values: dict[str, float] = {}
        for key, value in obj.items():
            f = to_float(value)
            if f is not None and isinstance(key, str):
                values[key] = f
        if not values:
            return
        inferred = step is None
        if step is None:
            step = self._infer_step(values)
        if SUMMARY_KEYS & values.keys():
            out.append(Event("summary", values, step))
            return
        self._last_step = step
        canon = {self.names(k): v for k, v in values.items()}
        out.append(Metrics(step, canon, None, inferred))

    def _infer_step(self, values: dict[str, float]) -> int:
        """Number the records: an eval or summary dict shares the last training step."""
        self.steps_inferred = True
        is_train = not any(k.startswith("eval_") for k in values) and not (
            SUMMARY_KEYS & values.keys()
        )
        if is_train or self._last_step is None:
            step = self._next_inferred
            self._next_inferred += 1
            return step
        return self._last_step
