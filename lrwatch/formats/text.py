"""Plain-text training logs: nanoGPT, torchtune, litgpt, generic ``key=value`` lines, custom
regexes, and (because a console log is often detected as text) Hugging Face dicts and tqdm bars.

What counts as skipped: logs are mostly prose, so a line that matches no pattern is simply not
a record. A line is *skipped* (counted) only when it starts like a known metric line (``iter N:``,
``step N:``, ``Step N |``, ``Epoch E | iter I step S``) and mentions ``loss``, or a custom regex
matches it, but no number can be read from it, when it is a repr dict that does not parse, or when it is binary
junk (NUL bytes, mostly undecodable bytes) or longer than the line cap.
"""

from __future__ import annotations

import re
from typing import Any

from lrwatch.formats.base import as_step
from lrwatch.formats.hf import HfParser
from lrwatch.records import STEP_KEYS, Metrics, NameMap, Record, to_float

_NUM = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|nan|inf|NaN|Infinity)"

# nanoGPT: "iter 10: loss 3.2100, time 20.10ms, mfu 1.23%"
_NANOGPT_ITER = re.compile(
    rf"^iter (\d+): loss ({_NUM})(?:, time ({_NUM})ms)?(?:, mfu ({_NUM})%)?", re.IGNORECASE
)
# litgpt finetune validation: "iter 600: val loss 1.1234, val time: 123.45 ms"
_LITGPT_VAL = re.compile(rf"^iter (\d+): val loss ({_NUM})(?:, val time: ({_NUM}) ?ms)?")
# torchtune's progress-bar description: "1|5|Loss: 2.345:  10%|█   | 5/50 [...]"
_TORCHTUNE_BAR = re.compile(rf"^(\d+)\|(\d+)\|Loss: ({_NUM})")
# nanoGPT evaluation: "step 50: train loss 3.0400, val loss 3.0481"
_NANOGPT_EVAL = re.compile(rf"^step (\d+): train loss ({_NUM}), val loss ({_NUM})")
# litgpt: "Epoch 1 | iter 10 step 5 | loss train: 2.345, val: n/a | iter time: 120.45 ms ..."
_LITGPT = re.compile(r"^Epoch (\d+) \| iter (\d+) step (\d+) \|(.*)$")
_LITGPT_LOSS = re.compile(rf"loss train: ({_NUM})(?:, val: ({_NUM}|n/a))?")
_LITGPT_TIME = re.compile(rf"iter time: ({_NUM}) ms")
# torchtune: "Step 5 | loss:2.3456 lr:2e-05 tokens_per_second_per_gpu:1234.5"
_TORCHTUNE = re.compile(r"^Step (\d+) \|(.*)$")
_COLON_PAIR = re.compile(rf"([A-Za-z_][\w/.\-]*):\s*({_NUM})(?![\w.])")
# Generic "key=value" / "key: value" pairs.
_PAIR = re.compile(rf"([A-Za-z_][\w/.\-]*(?: [a-z_]+)?)\s*[=:]\s*({_NUM})(?![\w.:/])")
# Lines that look like metric lines of a known format: failing to read them is a skip.
_METRIC_PREFIX = re.compile(r"^(?:iter \d+:|step \d+:|Step \d+ \||Epoch \d+ \| iter \d+ step)")
_GENERIC_STEP_KEYS = (*STEP_KEYS, "epoch")


class TextParser(HfParser):
    """Text logs; option ``regex``: a pattern (or list) with a ``step`` group and metric groups."""

    name = "text"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        patterns = options.get("regex") or []
        if isinstance(patterns, str | re.Pattern):
            patterns = [patterns]
        self._custom = [re.compile(p) if isinstance(p, str) else p for p in patterns]

    def _hf_segment(self, text: str, nested: bool, out: list[Record]) -> bool:
        """torchtune's bar description carries epoch|step|loss; other bars as in ``hf``."""
        if "|Loss: " in text:
            m = _TORCHTUNE_BAR.match(text.strip())
            if m:
                rec = self._metrics(m.group(2), [("loss", m.group(3))])
                # The bar redraws the same description until the next step: one point each.
                if rec is not None and rec.step != self._bar_step:
                    self._bar_step = rec.step
                    self._settle(None, out)
                    out.append(rec)
                return True
        return super()._hf_segment(text, nested, out)

    def _reset(self) -> None:
        super()._reset()
        self._bar_step: int | None = None

    def _other_line(self, text: str, out: list[Record]) -> None:
        line = text.strip()
        if not line:
            return
        rec = self._custom_line(line)
        if rec is None:
            rec = self._known_line(line)
        if rec is None:
            rec = self._generic_line(line)
        if isinstance(rec, Metrics):
            self._settle(None, out)
            self._last_step = rec.step
            out.append(rec)

    def _custom_line(self, line: str) -> Metrics | None:
        for pattern in self._custom:
            m = pattern.search(line)
            if not m:
                continue
            groups = {k: v for k, v in m.groupdict().items() if v is not None}
            step = as_step(groups.pop("step", None))
            values = self._numbers(groups.items())
            if step is None or not values:
                self.skipped += 1
                return None
            return Metrics(step, values)
        return None

    def _known_line(self, line: str) -> Metrics | None:
        head = line[:6]
        if head.startswith("iter "):
            m = _NANOGPT_ITER.match(line)
            if m:
                pairs = [("loss", m.group(2)), ("time_ms", m.group(3)), ("mfu", m.group(4))]
                return self._metrics(m.group(1), pairs)
            m = _LITGPT_VAL.match(line)
            if m:
                pairs = [("val_loss", m.group(2)), ("val_time_ms", m.group(3))]
                return self._metrics(m.group(1), pairs)
        elif head.startswith("step "):
            m = _NANOGPT_EVAL.match(line)
            if m:
                # The eval-time train loss is an average over eval batches, not a step's loss:
                # kept apart so the per-iteration loss series has one point per step.
                pairs = [("train_loss_eval", m.group(2)), ("val loss", m.group(3))]
                return self._metrics(m.group(1), pairs)
        elif head.startswith("Epoch "):
            m = _LITGPT.match(line)
            if m:
                return self._litgpt(m)
        elif head.startswith("Step "):
            m = _TORCHTUNE.match(line)
            if m:
                return self._metrics(m.group(1), _COLON_PAIR.findall(m.group(2)))
        if _METRIC_PREFIX.match(line) and "loss" in line.lower():
            self.skipped += 1
        return None

    def _litgpt(self, m: re.Match[str]) -> Metrics | None:
        rest = m.group(4)
        pairs: list[tuple[str, str | None]] = [("epoch", m.group(1)), ("iter", m.group(2))]
        loss = _LITGPT_LOSS.search(rest)
        if loss:
            pairs += [("loss", loss.group(1)), ("val_loss", loss.group(2))]
        t = _LITGPT_TIME.search(rest)
        if t:
            pairs.append(("iter_time_ms", t.group(1)))
        return self._metrics(m.group(3), pairs, need=loss is not None)

    def _generic_line(self, line: str) -> Metrics | None:
        if "=" not in line and ":" not in line:
            return None
        pairs = _PAIR.findall(line)
        if len(pairs) < 2:
            return None
        step: int | None = None
        rest: list[tuple[str, str]] = []
        for key, value in pairs:
            if step is None and key.lower() in _GENERIC_STEP_KEYS:
                step = as_step(value)
            else:
                rest.append((key, value))
        if step is None:
            return None
        values = self._numbers(rest)
        return Metrics(step, values) if values else None

    def _metrics(
        self, step_text: str, pairs: list[tuple[str, str | None]], need: bool = True
    ) -> Metrics | None:
        step = as_step(step_text)
        values = self._numbers(pairs)
        if step is None or not values or not need:
            self.skipped += 1
            return None
        return Metrics(step, values)

    def _numbers(self, pairs: Any) -> dict[str, float]:
        values: dict[str, float] = {}
        for key, text in pairs:
            f = to_float(text) if text is not None else None
            if f is not None:
                values[self.names(key)] = f
        return values
