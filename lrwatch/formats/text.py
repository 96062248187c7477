"""Plain-text training logs of any common shape, read by one general line reader.

nanoGPT, build-nanogpt, llm.c, modded-nanogpt, torchtune, litgpt, OLMo, detectron2, mmengine,
fairseq, timm, Keras, PyTorch's examples, ``logging``-module epochs, ``key=value`` lines and
custom regexes; and, because a console log is often detected as text, Hugging Face dicts and
tqdm bars (inherited from :class:`~lrwatch.formats.hf.HfParser`). No regex per program: each
line shape is read once by :mod:`lrwatch.formats.tokens` into a
:class:`~lrwatch.formats.template.Template`, and every other line of that shape is read by
indexing its numbers (docs/format.md lists the shapes and the step rules). The log's most
common shape is read faster still by one anchored regex (:mod:`lrwatch.formats.fastlines`);
``fast=False`` turns that off (tests compare the two). An evaluation's progress lines (timm's
``Test: [N/M]``, mmengine's ``Epoch(val)``) give one point, at their last batch.

Total steps. The ``M`` of ``step N/M``, ``iter N/M``, ``[step=N/M]`` or a line that starts
``[N/M]`` is the run's total: a ``meta`` event says ``total_steps`` when it is first seen or
changes. An epoch's ``N/M`` and a batch or sample counter within an epoch never give one, and
a step that starts over under the same total withdraws it (it counted one epoch's steps).

Steps. A line's own step token wins (``step N``, ``iter N``, ``N/M batches`` within an epoch,
``Epoch N``, ``global_step``/``num_updates``). A batch counter within an epoch becomes the
global ``(epoch - first epoch) * batches per epoch + batch``. A line with no step takes the
step of the lines before it (OLMo's indented block under ``[step=10/1000]``, the ``Valid``
line after a train line, Keras' lines under ``Epoch 2/20``), and a line that only holds a
step (a header) sets it. A loss line with no step anywhere before it is numbered from 0 and
marked ``steps_inferred``. Once a log counts steps finer than epochs, an ``Epoch N`` line
(``end of epoch 1 | valid loss ...``) is placed at the end of that epoch, not at step N.

What counts as skipped: logs are mostly prose, so a line that holds no named number is simply
not a record. A line is *skipped* (counted) when it starts like a known metric line (``iter
N:``, ``step N:``, ``Step N |``, ``Epoch E | iter I step S``) and mentions ``loss`` but no
loss can be read from it, when a custom regex matches it but no number can be read, when it
is a repr dict that does not parse, or binary junk (NUL bytes, mostly undecodable bytes) or
longer than the line cap.
"""

from __future__ import annotations

import math
import re
from itertools import groupby
from typing import Any

from lrwatch.formats.base import as_step
from lrwatch.formats.fastlines import FastShape, compile_shape, runs
from lrwatch.formats.hf import HfParser
from lrwatch.formats.template import (
    HOLE,
    NUMBER,
    Template,
    build,
    float_or_nan,
    number_pattern,
    to_floats,
)
from lrwatch.records import AnyRecord, Event, MetricBlock, Metrics, NameMap, to_float

_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf|NaN|Infinity)"
# torchtune's progress-bar description: "1|5|Loss: 2.345:  10%|█   | 5/50 [...]"
_TORCHTUNE_BAR = re.compile(rf"^(\d+)\|(\d+)\|Loss: ({_NUM})")
# A tqdm-like counter at the start of a line that carries metrics: Keras, not a tqdm bar.
_KERAS = re.compile(r"^\s*\d+/\d+\s*(?:\[|\u2501)")
_TQDM = re.compile(r"\d+/\d+\s*\[")
#: Line shapes remembered at most (prose with numbers makes a new shape per line).
MAX_SHAPES = 4096
#: Lines kept of those that held numbers but gave no record (shown when no loss is found).
MAX_UNREAD = 5
#: Rows of one shape in a row from which block mode yields a MetricBlock.
MIN_BLOCK = 32
#: Line kinds whose step comes from counters on the line (checked before they are used).
_COUNTED = ("step", "iter", "key", "batch", "epoch")
_PER_LINE = Template([])  # marker: lines of this shape go through the bar/dict reader
#: A config line that states the LR (nanoGPT's configurator prints ``Overriding: learning_rate
#: = 0.05``; others print ``lr: 0.05`` or ``learning_rate = 6e-4`` among their settings).
_CONFIG_LR = re.compile(
    rf"^[ \t]*(?:Overriding:[ \t]*)?(?:config\.|args\.)?"
    rf"(?:learning_rate|lr|max_lr|peak_lr|base_lr)[ \t]*[=:][ \t]*({_NUM})[ \t]*\r?$",
    re.M,
)
_CONFIG_LR_BYTES = re.compile(_CONFIG_LR.pattern.encode(), re.M)
#: Bytes of a log's head searched for such a line (configs are printed before training).
CONFIG_HEAD = 1 << 20


class TextParser(HfParser):
    """Text logs; option ``regex``: a pattern (or list) with a ``step`` group and metric groups.

    Option ``blocks=True`` (set by sources for consumers that take them) yields long runs of
    lines of one shape as :class:`~lrwatch.records.MetricBlock` columns.
    """

    name = "text"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        patterns = options.get("regex") or []
        if isinstance(patterns, str | re.Pattern):
            patterns = [patterns]
        self._custom = [re.compile(p) if isinstance(p, str) else p for p in patterns]
        self.blocks = bool(options.get("blocks", False))
        self._templates: dict[str, Template] = {}
        #: Option ``fast=False`` reads every line on the general path (tests compare them).
        self.fast = bool(options.get("fast", True))

    def _reset(self) -> None:
        super()._reset()
        self._bar_step: int | None = None
        self._ctx_step: int | None = None  # the step carried to lines that have none
        self._fine = False  # the log counts steps finer than epochs
        self._epoch0: int | None = None  # the first epoch number seen
        self._epoch: int | None = None  # the current epoch
        self._per_epoch = 0  # batches per epoch, from the last batch counter
        self._fast: FastShape | None = None  # the log's common shape (fastlines)
        self._config_left = CONFIG_HEAD  # bytes left in which to look for a config LR
        self._total_step: int | None = None  # the step of the last line that gave a total

    # -- lines --------------------------------------------------------------------------

    def _parse_block(self, block: bytes) -> list[AnyRecord]:
        if self._custom and self._config_left <= 0:
            return super()._parse_block(block)  # custom regexes: line by line, no decode here
        if self._config_left > 0:
            found = self._config_lr(block)
            if found is not None:
                # The event goes where its line is: what comes before it, it, the rest. So a
                # log read whole or in pieces gives the same records in the same order.
                event, cut = found
                return self._parse_bytes(block[:cut]) + event + self._parse_bytes(block[cut:])
        return self._parse_bytes(block)

    def _parse_bytes(self, block: bytes) -> list[AnyRecord]:
        return self._parse_text(block, block.decode("utf-8", "replace")) if block else []

    def _config_lr(self, block: bytes) -> tuple[list[AnyRecord], int] | None:
        """A ``run`` event with the LR the first config line of the log's head states, and
        where that line starts in ``block``: the rules then know how large the LR is when the
        log does not print it per step. Searched once per log, in its first CONFIG_HEAD bytes
        (metrics or not: a finished log's first block holds config and training lines)."""
        m = _CONFIG_LR_BYTES.search(block, 0, self._config_left)
        self._config_left -= len(block)
        if m is None:
            return None
        self._config_left = 0
        lr = to_float(m.group(1).decode())
        event: list[AnyRecord] = []
        if lr is not None and lr > 0:
            event.append(Event("run", {"lr": [lr], "lr_from": "config"}))
        return event, block.rfind(b"\n", 0, m.start()) + 1

    def _parse_text(self, block: bytes, text: str) -> list[AnyRecord]:
        """``block`` (decoded: ``text``) on the block path, or line by line when it has
        custom regexes, escapes or junk."""
        if self._custom:
            return super()._parse_block(block)  # custom regexes: line by line
        if "\x1b" in text or "\x00" in text or "\ufffd" in text or HOLE in text:
            return super()._parse_block(block)  # escapes or junk: the careful line reader
        out: list[AnyRecord] = []
        try:
            self._lines(text, out)
        except Exception:  # never raise: count the block and go on
            self.skipped += 1
        return out

    def _lines(self, text: str, out: list[AnyRecord]) -> None:
        """Every line of ``text``: the log's common shape on the fast path, the rest general."""
        fast = self._fast
        if fast is None or not self.fast:
            self._general(text, out)
            return
        matched = 0
        for other, cols, k in runs(fast, text):
            if k:
                matched += k
                self._rows(fast.template, k, _values(fast.template, cols), out)
            else:
                self._general(other, out)
        if matched * 2 < text.count("\n"):
            self._fast = None  # the log has changed its shape: learn the new one

    def _general(self, text: str, out: list[AnyRecord]) -> None:
        """Every line of ``text``, consecutive lines of one shape together; learns the fast
        path's shape from the most common one."""
        lines = text.split("\n")
        parts = number_pattern(text).split(text)
        numbers = parts[1::2]
        pos = i = 0
        seen: dict[str, int] = {}
        for shape, group in groupby(HOLE.join(parts[0::2]).split("\n")):
            k = sum(1 for _ in group)
            c = shape.count(HOLE)
            if c:
                self._group(shape, lines, i, k, numbers[pos : pos + k * c], out)
                seen[shape] = seen.get(shape, 0) + k
            pos += k * c
            i += k
        if self._fast is None and seen:
            self._learn(seen, len(lines) - 1)

    def _learn(self, seen: dict[str, int], lines: int) -> None:
        shape = max(seen, key=seen.__getitem__)
        tpl = self._templates.get(shape)
        if tpl is None or tpl is _PER_LINE:
            return
        if seen[shape] * 2 >= lines and not (tpl.broken or tpl.empty or tpl.header):
            self._fast = compile_shape(shape, tpl)

    def _other_line(self, text: str, out: list[AnyRecord]) -> None:
        """A line the bar/dict reader did not take (the line-by-line path)."""
        line = text.strip()
        if not line:
            return
        if self._custom_line(line, out):
            return
        numbers = NUMBER.findall(line)
        if numbers:
            tpl = self._template(NUMBER.sub(HOLE, line), line, per_line=False)
            if not self._apply(tpl, 1, numbers, out) and len(self.unread) < MAX_UNREAD:
                self.unread.append(line[:200])

    def _hf_segment(self, text: str, nested: bool, out: list[AnyRecord]) -> bool:
        """torchtune's bar description carries epoch|step|loss; Keras lines are metric lines."""
        if "|Loss: " in text:
            m = _TORCHTUNE_BAR.match(text.strip())
            if m:
                self._torchtune(m, out)
                return True
        if _KERAS.match(text):
            return False
        return super()._hf_segment(text, nested, out)

    def _torchtune(self, m: re.Match[str], out: list[AnyRecord]) -> None:
        step = as_step(m.group(2))
        loss = to_float(m.group(3))
        # The bar redraws the same description until the next step: one point each.
        if step is None or loss is None or step == self._bar_step:
            return
        self._bar_step = step
        self._settle(None, out)
        self._last_step = step
        out.append(Metrics(step, {self.names("loss"): loss}))

    # -- shapes -------------------------------------------------------------------------

    def _group(
        self, shape: str, lines: list[str], i: int, k: int, numbers: list[str], out: list[AnyRecord]
    ) -> None:
        tpl = self._template(shape, lines[i])
        if tpl is _PER_LINE:
            for line in lines[i : i + k]:
                self._segment_text(line, out)
            return
        if not self._apply(tpl, k, numbers, out) and len(self.unread) < MAX_UNREAD:
            self.unread.append(lines[i][:200])

    def _template(self, shape: str, line: str, per_line: bool = True) -> Template:
        tpl = self._templates.get(shape)
        if tpl is None or (tpl is _PER_LINE and not per_line):
            if per_line and ("{'" in line or "|Loss: " in line or self._is_bar(line)):
                tpl = _PER_LINE
            else:
                tpl = build(line, self.names)
            if len(self._templates) >= MAX_SHAPES:
                self._templates.clear()
            self._templates[shape] = tpl
        return tpl

    @staticmethod
    def _is_bar(line: str) -> bool:
        return "/" in line and "[" in line and bool(_TQDM.search(line)) and not _KERAS.match(line)

    def _apply(self, tpl: Template, k: int, numbers: list[str], out: list[AnyRecord]) -> bool:
        """``k`` lines of template ``tpl`` whose numbers (row after row) are ``numbers``.

        False when the lines gave nothing: prose with numbers, or a broken metric line.
        """
        if tpl.broken:
            self.skipped += k
            return False
        if tpl.empty:
            return False
        return self._rows(tpl, k, _values(tpl, _texts(tpl, numbers, len(numbers) // k)), out)

    def _rows(
        self, tpl: Template, k: int, cols: dict[int, list[float]], out: list[AnyRecord]
    ) -> bool:
        """Records of ``k`` rows whose numbers the template uses are ``cols``."""
        if tpl.kind in _COUNTED:
            cols, k = self._valid_steps(tpl, cols, k)
            if not k:
                return False
        steps, carried = self._steps(tpl, cols, k)
        if steps is None:
            return False
        # (row, event): a total's meta event goes before the metrics of the line that gave it
        events = self._totals(cols[tpl.total], steps) if tpl.total >= 0 and steps else []
        if tpl.header or not tpl.metrics or not steps:
            out.extend(event for _, event in events)
            return True
        out.extend(event for row, event in events if row == 0)
        self._settle(None, out)
        inferred = tpl.kind == "" and not carried
        if not (inferred and _only_validation(tpl)):
            # A validation line with no step of its own shares the step of the train line
            # before it (see _stepless), never gives one: consecutive ``val loss`` lines
            # before any train line are points of their own, read whole or line by line.
            self._last_step = steps[-1]
        names = [name for _, name in tpl.metrics]
        metric_cols = [cols[idx] for idx, _ in tpl.metrics]
        # An event within the rows splits them, so that the records come in line order
        # however the log was cut into reads.
        start = 0
        for row, event in events:
            if row > start:
                self._emit_rows(
                    names, [c[start:row] for c in metric_cols], steps[start:row], inferred, out
                )
                start = row
            if row > 0:
                out.append(event)
        self._emit_rows(names, [c[start:] for c in metric_cols], steps[start:], inferred, out)
        return True

    def _emit_rows(
        self,
        names: list[str],
        metric_cols: list[list[float]],
        steps: list[int],
        inferred: bool,
        out: list[AnyRecord],
    ) -> None:
        if self.blocks and len(steps) >= MIN_BLOCK:
            out.append(_block(names, metric_cols, steps, inferred))
            return
        for step, row in zip(steps, zip(*metric_cols, strict=True), strict=True):
            out.append(Metrics(step, dict(zip(names, row, strict=True)), None, inferred))

    def _totals(self, totals: list[float], steps: list[int]) -> list[tuple[int, AnyRecord]]:
        """``meta`` events for the ``M`` of ``step N/M`` lines: when first seen or changed,
        each with the row (of ``steps``) whose line gave it.

        A step that goes back under the same total means the counter started over (the
        steps of one epoch, not of the run): the total is withdrawn for good.
        """
        total, last = self._total_sent, self._total_step
        if (
            min(totals) == max(totals) == total
            and (last is None or steps[0] >= last)
            and sorted(steps) == steps  # C-speed checks: the common block changes nothing
        ):
            self._total_step = steps[-1]
            return []
        events: list[tuple[int, AnyRecord]] = []
        for row, (step, value) in enumerate(zip(steps, totals, strict=True)):
            if self._no_totals:
                break
            m = as_step(value)
            if m is None or m < step:
                continue  # "step 12/10": not a total
            said: list[AnyRecord] = []
            if m == self._total_sent and last is not None and step < last:
                self._withdraw_total(step, said)
            else:
                self._send_total(m, step, said)
                last = self._total_step = step
            events.extend((row, event) for event in said)
        return events

    def _valid_steps(
        self, tpl: Template, cols: dict[int, list[float]], k: int
    ) -> tuple[dict[int, list[float]], int]:
        """Drop (and count) the rows whose step is no step (as :func:`as_step` judges): one
        such line must not take the lines of its shape read with it down too. A batch
        counter's epoch and batches per epoch count too (``Epoch 1e400/100`` is no epoch)."""
        parts = [tpl.step]
        if tpl.kind in ("batch", "epoch"):
            parts += [i for i in (tpl.epoch, tpl.per_epoch) if i >= 0 and i != tpl.step]
        if all(_all_steps(cols[i]) for i in parts):
            return cols, k
        keep = [r for r in range(k) if all(as_step(cols[i][r]) is not None for i in parts)]
        self.skipped += k - len(keep)
        return {idx: [c[r] for r in keep] for idx, c in cols.items()}, len(keep)

    def _steps(
        self, tpl: Template, cols: dict[int, list[float]], k: int
    ) -> tuple[list[int] | None, bool]:
        """The steps of ``k`` rows, and whether they were carried from an earlier line."""
        kind = tpl.kind
        if kind in ("step", "iter", "key"):
            steps = [int(v) for v in cols[tpl.step]]
        elif kind == "batch":
            steps = self._batch_steps(tpl, cols, k)
        elif kind == "epoch":
            return self._epoch_steps(tpl, cols), False
        elif kind == "evalbatch":
            return self._eval_steps(tpl, cols)
        else:
            return self._stepless(tpl, k)
        self._fine = True
        self._ctx_step = steps[-1]
        return steps, False

    def _batch_steps(self, tpl: Template, cols: dict[int, list[float]], k: int) -> list[int]:
        batch, per = cols[tpl.step], cols[tpl.per_epoch]
        # Keras: without an epoch on the line, it comes from the "Epoch 2/20" line above.
        epochs = [int(e) for e in cols[tpl.epoch]] if tpl.epoch >= 0 else [self._epoch or 0] * k
        e0 = self._first_epoch(epochs[0])
        self._epoch = epochs[-1]
        self._per_epoch = int(per[-1])
        rows = zip(epochs, per, batch, strict=True)
        if min(epochs) >= e0:
            return [int((e - e0) * m + b) for e, m, b in rows]
        steps = []
        for e, m, b in rows:
            e0 = self._first_epoch(e)
            steps.append(int((e - e0) * m + b))
        return steps

    def _first_epoch(self, epoch: int) -> int:
        """The epoch that steps count from: the first seen, or a lower one seen after it (a
        run started again in the same log), so that no step comes out negative."""
        if self._epoch0 is None or epoch < self._epoch0:
            self._epoch0 = epoch
        return self._epoch0

    def _epoch_steps(self, tpl: Template, cols: dict[int, list[float]]) -> list[int]:
        epochs = [int(e) for e in cols[tpl.epoch]]
        if self._epoch0 is None:
            self._epoch0 = epochs[0]
        if not self._fine:
            self._epoch = epochs[-1]
            self._ctx_step = epochs[-1]
            return epochs
        steps = []
        for e in epochs:
            if self._per_epoch and e == self._epoch:  # "end of epoch E": the epoch's last step
                self._ctx_step = (e - self._first_epoch(e) + 1) * self._per_epoch
            self._epoch = e
            steps.append(self._ctx_step if self._ctx_step is not None else e)
        return steps

    def _eval_steps(
        self, tpl: Template, cols: dict[int, list[float]]
    ) -> tuple[list[int] | None, bool]:
        """An evaluation's progress lines: only its last batch (N == M) is a point."""
        pairs = zip(cols[tpl.step], cols[tpl.per_epoch], strict=True)
        done = [r for r, (n, m) in enumerate(pairs) if n == m]
        step = self._ctx_step if self._ctx_step is not None else self._last_step
        if not done or step is None:
            return [], False  # an evaluation under way: its last line is the point
        for idx, col in cols.items():
            cols[idx] = [col[r] for r in done]
        return [step] * len(done), True

    def _stepless(self, tpl: Template, k: int) -> tuple[list[int] | None, bool]:
        if self._ctx_step is not None:
            return [self._ctx_step] * k, True
        if not tpl.has_loss:
            return None, False  # numbers in prose before any step: not a record
        self.steps_inferred = True
        if self._last_step is not None and _only_validation(tpl):
            return [self._last_step] * k, False  # the Valid line shares the train line's step
        first = self._next_inferred
        self._next_inferred += k
        return list(range(first, first + k)), False

    # -- custom regexes -----------------------------------------------------------------

    def _custom_line(self, line: str, out: list[AnyRecord]) -> bool:
        for pattern in self._custom:
            m = pattern.search(line)
            if not m:
                continue
            groups = {k: v for k, v in m.groupdict().items() if v is not None}
            step = as_step(groups.pop("step", None))
            values: dict[str, float] = {}
            for key, text in groups.items():
                f = to_float(text)
                if f is not None:
                    values[self.names(key)] = f
            if step is None or not values:
                self.skipped += 1
                return True
            self._settle(None, out)
            self._last_step = step
            out.append(Metrics(step, values))
            return True
        return False


def _texts(tpl: Template, numbers: list[str], c: int) -> dict[int, list[str]]:
    """The texts of the numbers the template uses (index -> one per row), from a block's
    numbers; a number written with thousands separators joined with its digit groups."""
    texts = {idx: numbers[idx::c] for idx in tpl.used}
    for idx, n in tpl.groups:
        groups = zip(*(numbers[idx + j :: c] for j in range(n + 1)), strict=True)
        texts[idx] = ["".join(parts) for parts in groups]
    return texts


def _values(tpl: Template, texts: dict[int, list[str]]) -> dict[int, list[float]]:
    """Number texts as float columns, with the sign or leading dot written before them (they
    are in the shape, so every row has them). Only the numbers the template uses come here."""
    cols = {idx: to_floats(col) for idx, col in texts.items()}
    for idx, sign, dot in tpl.signs:
        col = cols[idx]
        if dot:
            col[:] = [
                float_or_nan("." + t.split("e")[0]) if v == v else v
                for t, v in zip(texts[idx], col, strict=True)
            ]
        if sign < 0:
            col[:] = [-v for v in col]
    return cols


def _only_validation(tpl: Template) -> bool:
    names = [n for _, n in tpl.metrics if "loss" in n.lower()]
    return bool(names) and all(n.startswith(("val", "eval", "valid")) for n in names)


def _all_steps(col: list[float]) -> bool:
    """Whether every value of ``col`` is a step (C-speed passes; the usual case)."""
    total = sum(col)  # NaN or inf anywhere makes the sum non-finite
    return math.isfinite(total) and min(col) >= 0 and max(col) < 2**62


def _block(
    names: list[str], cols: list[list[float]], steps: list[int], inferred: bool
) -> MetricBlock:
    """Rows of one shape as numpy columns."""
    import numpy as np

    columns = {name: np.array(col, dtype=np.float64) for name, col in zip(names, cols, strict=True)}
    return MetricBlock(np.array(steps, dtype=np.int64), columns, None, inferred)
