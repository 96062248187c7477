"""lrwatch's own JSONL and any JSONL of flat numeric objects.

Speed matters here (multi-million-record logs): a block of complete lines is decoded by one
``msgspec`` ``decode_lines`` call, and records with the same key set share a precomputed plan
(which key is the step, which the time, each key's canonical name). Only lines that hold
``NaN``/``Infinity`` tokens (which msgspec rejects) are rewritten before decoding, and only a
block that still fails to decode falls back to one line at a time.
"""

from __future__ import annotations

import gc
import re
from typing import Any

import msgspec

from lrwatch.formats._rows import Convert, build_rows
from lrwatch.formats.base import MIN_WALL_TIME, LineParser, as_step, metrics_from_mapping, wall_time
from lrwatch.records import STEP_KEYS, TIME_KEYS, Event, Metrics, NameMap, Record

# Non-standard number tokens as bare values (not inside a word or a string's quotes).
_TOKEN_RE = re.compile(rb'(?<![\w"])(-?(?:Infinity|inf|NaN|nan))(?![\w"])')
_TOKENS = (b"NaN", b"Infinity", b"nan", b"inf")
_MAX_STEP = 1 << 62
_MIN_T = MIN_WALL_TIME

# A plan for one key set: (step key, time key, key -> canonical name or None if all equal).
_Plan = tuple[str | None, str | None, dict[str, str] | None]


def patch_tokens(block: bytes) -> bytes:
    """Quote NaN/Infinity tokens (``NaN`` -> ``"NaN"``) in the lines that contain them.

    Quoted, they decode as strings that :func:`lrwatch.records.to_float` turns back into
    floats. Lines without tokens are copied untouched, so the cost follows the number of hits.
    """
    n = len(block)
    nxt = {tok: block.find(tok) for tok in _TOKENS}
    pieces: list[bytes] = []
    pos = 0
    while True:
        hits = [i for i in nxt.values() if i >= 0]
        if not hits:
            break
        i = min(hits)
        start = block.rfind(b"\n", 0, i) + 1
        end = block.find(b"\n", i)
        end = n if end < 0 else end
        pieces.append(block[pos:start])
        pieces.append(_TOKEN_RE.sub(rb'"\1"', block[start:end]))
        pos = end
        for tok, j in nxt.items():
            if 0 <= j < pos:
                nxt[tok] = block.find(tok, pos)
    if not pieces:
        return block
    pieces.append(block[pos:])
    return b"".join(pieces)


class JsonlParser(LineParser):
    """lrwatch JSONL (header, metrics, events) and generic JSONL of numeric objects."""

    name = "jsonl"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        # Numbers only (numeric strings such as "NaN" or "2.5" coerced): a block of plain
        # metric lines decodes straight into dicts whose values need no checking.
        self._numeric = msgspec.json.Decoder(dict[str, int | float], strict=False)
        self._any = msgspec.json.Decoder()
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._next_step = 0
        # The typed row decoder for the metric key sets seen (their union; keys on every
        # line required), and how often it fit a whole block.
        self._shapes: set[tuple[str, ...]] = set()  # key sets of the block read slowly
        self._union: dict[str, str] = {}
        self._required: set[str] | None = None
        self._rows_keys: tuple[str, str | None] | None = None  # (step key, time key)
        self._rows: tuple[msgspec.json.Decoder, Convert] | None = None
        self._rows_hits = self._rows_misses = 0
        self._rows_off = False

    def restart(self) -> None:
        """Start over at byte 0: inferred steps count from 0 again."""
        super().restart()
        self._next_step = 0

    def _parse_block(self, block: bytes) -> list[Record]:
        # Millions of small dicts and records trip the cyclic GC over and over although none
        # of them can form a cycle; pausing it for one block more than doubles throughput.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            out = self._parse_rows(block)
            if out is None:
                out = self._parse_dicts(block)
                self._learn_rows()
            return out
        finally:
            if was_enabled:
                gc.enable()

    def _parse_dicts(self, block: bytes) -> list[Record]:
        """The general path: numeric dicts in one call, else one line at a time."""
        try:
            objs = self._numeric.decode_lines(block)
        except (msgspec.DecodeError, ValueError):
            # Scanning for NaN tokens only after a failure keeps clean blocks at full speed.
            patched = patch_tokens(block)
            try:
                objs = self._numeric.decode_lines(patched)
            except (msgspec.DecodeError, ValueError):
                return self._parse_each(patched)
        return self._numeric_records(objs)

    def _parse_rows(self, block: bytes) -> list[Record] | None:
        """The fast path, when every line of the block fits the learned rows; else ``None``."""
        if self._rows is None:
            return None
        decoder, convert = self._rows
        try:
            rows = decoder.decode_lines(block)
        except (msgspec.DecodeError, ValueError):
            rows = self._rows_patched(block, decoder)
        if rows is None:
            self._rows_misses += 1
            if self._rows_misses > 4 and self._rows_misses * 4 > self._rows_hits:
                self._rows = None  # lines vary too much for this to pay off
                self._rows_off = True
            return None
        self._rows_hits += 1
        out, skipped = convert(rows)
        self.skipped += skipped
        if out:
            self._next_step = out[-1].step + 1
        return out

    def _rows_patched(self, block: bytes, decoder: msgspec.json.Decoder) -> list[Any] | None:
        """Rows of a block whose only trouble is NaN/Infinity tokens, else ``None``."""
        patched = patch_tokens(block)
        if patched is block:
            return None
        try:
            return decoder.decode_lines(patched)
        except (msgspec.DecodeError, ValueError):
            return None

    def _learn_rows(self) -> None:
        """Widen the fast path to the metric key sets of the block just read slowly."""
        shapes, self._shapes = self._shapes, set()
        if self._rows_off:
            return
        union = dict(self._union)
        required = self._required
        for keys in shapes:
            step_key, time_key, rename = self._plan(keys)
            if step_key is None or (union and (step_key, time_key) != self._rows_keys):
                continue  # events, step-less lines, other step/time keys: the general path
            self._rows_keys = (step_key, time_key)
            values = rename or {k: k for k in keys if k not in (step_key, time_key)}
            union.update(values)
            required = set(values) if required is None else required & set(values)
        if not union or (union == self._union and required == self._required):
            return  # nothing new (or step/time-only lines: no values, they are skipped)
        if len(set(union.values())) != len(union) or len(union) > 512:
            self._rows_off = True  # name clashes are decided by key order: general path
            return
        self._union, self._required = union, required
        step_key, time_key = self._rows_keys
        req = {k: v for k, v in union.items() if k in required}
        opt = {k: v for k, v in union.items() if k not in required}
        self._rows = build_rows(step_key, time_key, req, opt)
        self._rows_hits = self._rows_misses = 0

    def _parse_each(self, block: bytes) -> list[Record]:
        """Slow path for a block with an event, a string value, a null or a broken line."""
        out: list[Record] = []
        for line in block.split(b"\n"):
            if not line.strip():
                continue
            try:
                out.extend(self._numeric_records([self._numeric.decode(line)]))
                continue
            except (msgspec.DecodeError, ValueError):
                pass
            try:
                obj = self._any.decode(line)
            except (msgspec.DecodeError, ValueError):
                self.skipped += 1
                continue
            self._any_record(obj, out)
        return out

    def _numeric_records(self, objs: list[dict[str, int | float]]) -> list[Record]:
        """The hot loop: dicts whose values are all numbers (locals only, for speed)."""
        out: list[Record] = []
        append = out.append
        metrics = Metrics
        max_step = _MAX_STEP
        min_t = _MIN_T
        keys: Any = None
        step_key = time_key = rename = None
        for obj in objs:
            if obj.keys() != keys:
                keys = frozenset(obj)
                shape = tuple(obj)
                self._shapes.add(shape)
                step_key, time_key, rename = self._plan(shape)
            if step_key is not None:
                step = obj.pop(step_key)
                t = None if time_key is None else obj.pop(time_key)
                if type(step) is int and 0 <= step < max_step and (t is None or t >= min_t) and obj:
                    if rename is not None:
                        obj = {rename[k]: v for k, v in obj.items()}
                    append(metrics(step, obj, t))
                    continue
                obj[step_key] = step
                if time_key is not None:
                    obj[time_key] = t
            # Anything unusual: no step key, a float step, a duration under a time key.
            self._sync_next_step(out)
            self._generic(obj, out)
        self._sync_next_step(out)
        return out

    def _sync_next_step(self, out: list[Record]) -> None:
        """Inferred steps continue after the last real step (the hot loop skips the update)."""
        for rec in reversed(out):
            if isinstance(rec, Metrics):
                self._next_step = rec.step + 1
                return

    def _plan(self, keys: tuple[str, ...]) -> _Plan:
        plan = self._plans.get(keys)
        if plan is None:
            # A "kind" key makes the line an event: never the fast path.
            step_key = None if "kind" in keys else next((k for k in STEP_KEYS if k in keys), None)
            time_key = next((k for k in TIME_KEYS if k in keys), None)
            rename = {k: self.names(k) for k in keys if k not in (step_key, time_key)}
            # Canonical names that equal their keys need no new dict per record.
            same = all(k == v for k, v in rename.items()) and len(set(rename.values())) == len(
                rename
            )
            plan = (step_key, time_key, None if same else rename)
            if len(self._plans) < 4096:
                self._plans[keys] = plan
        return plan

    def _any_record(self, obj: Any, out: list[Record]) -> None:
        if type(obj) is not dict:
            self.skipped += 1
        elif "kind" in obj:
            self._event(obj, out)
        else:
            self._generic(obj, out)

    def _generic(self, obj: dict[str, Any], out: list[Record]) -> None:
        if "kind" in obj:
            self._event(obj, out)
            return
        step, t, values = metrics_from_mapping(obj, self.names, STEP_KEYS)
        if not values:
            self.skipped += 1
        elif step is None:
            step = self._next_step
            self._next_step = step + 1
            self.steps_inferred = True
            out.append(Metrics(step, values, t, True))
        else:
            self._next_step = step + 1
            out.append(Metrics(step, values, t))

    def _event(self, obj: dict[str, Any], out: list[Record]) -> None:
        kind = obj["kind"]
        if not isinstance(kind, str) or not kind:
            self.skipped += 1
            return
        data = {k: v for k, v in obj.items() if k != "kind"}
        out.append(Event(kind, data, as_step(obj.get("step")), wall_time(obj.get("t"))))
