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
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

import msgspec

from lrwatch.formats._rows import Rows, build_rows, nameable
from lrwatch.formats.base import MIN_WALL_TIME, LineParser, as_step, metrics_from_mapping, wall_time
from lrwatch.records import (
    STEP_KEYS,
    SYSTEM_KIND,
    SYSTEM_PREFIX,
    TIME_KEYS,
    AnyRecord,
    Event,
    Metrics,
    NameMap,
    Record,
    to_float,
)

# Non-standard number tokens as bare values (not inside a word or a string's quotes).
_TOKEN_RE = re.compile(rb'(?<![\w"])(-?(?:Infinity|inf|NaN|nan))(?![\w"])')
_TOKENS = (b"NaN", b"Infinity", b"nan", b"inf")
# An absent token costs a scan of the whole block; NaN is the one logs hold.
_COMMON_TOKENS = (b"NaN",)
_MAX_STEP = 1 << 62
_MIN_T = MIN_WALL_TIME
#: Bytes of a first block read slowly before the rest of it tries the fast path.
_LEARN_HEAD = 64 << 10
#: A block may re-decode this many times its size after failures before reading line by line.
_RETRY_BUDGET = 4
#: Nested splits of a prefix that failed again (a malformed line reported on the next one).
_MAX_DEPTH = 16
#: What msgspec raises for bytes it cannot decode (a line nested thousands deep: recursion).
_DECODE_ERRORS = (msgspec.DecodeError, ValueError, RecursionError)
#: Key sets of one block remembered for learning the fast path (like the plans' cap).
_MAX_SHAPES = 4096
_Int64 = Annotated[int, msgspec.Meta(ge=-(2**63 - 1), le=2**63 - 1)]
_AT_BYTE = re.compile(r"\(byte (\d+)\)")
_AT_LINE = re.compile(r"at `\$\[(\d+)\]")

# A plan for one key set: (step key, time key, key -> canonical name or None if all equal).
_Plan = tuple[str | None, str | None, dict[str, str] | None]

_T = TypeVar("_T")


def patch_tokens(block: bytes, tokens: tuple[bytes, ...] = _TOKENS) -> bytes:
    """Quote NaN/Infinity tokens (``NaN`` -> ``"NaN"``) in the lines that contain them.

    Quoted, they decode as strings that :func:`lrwatch.records.to_float` turns back into
    floats. Lines without tokens are copied untouched, so the cost follows the number of hits
    (plus one scan of the block per token that never occurs: ``tokens`` narrows the search).
    """
    n = len(block)
    nxt = {tok: block.find(tok) for tok in tokens}
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


def _decode_patched(
    decoder: msgspec.json.Decoder[_T], block: bytes, error: Exception
) -> tuple[list[_T] | None, bytes, Exception]:
    """Decode a block that failed as it is (with ``error``): ``NaN`` quoted first (what logs
    hold), all token spellings only if that is not enough.

    Returns (rows or ``None``, the block as last patched: on failure every token is quoted,
    the error that names the failing line).

    The errors are returned without their tracebacks: a traceback holds the parser's frames,
    and so this block's bytes and rows, in a reference cycle that the paused GC (see
    ``_parse_block``) would keep alive block after block (it was 4.9x the columns' memory).
    """
    error = error.with_traceback(None)
    patched = block
    for tokens in (_COMMON_TOKENS, _TOKENS):
        candidate = patch_tokens(block, tokens)
        if candidate is block:
            continue
        patched = candidate
        try:
            return decoder.decode_lines(patched), patched, error
        except _DECODE_ERRORS as exc:
            error = exc.with_traceback(None)
    return None, patched, error


def _one_per_line(block: bytes, n: int) -> bool:
    """Whether ``n`` values decoded from ``block`` are one per line. msgspec's ``decode_lines``
    also takes a value spread over several lines (a pretty-printed JSON object), which is no
    JSONL record: read whole, such an object was a record, fed in chunks its lines were not,
    so what a log gave depended on where the reads ended (the fuzz tests found it)."""
    if n == block.count(b"\n") + (not block.endswith(b"\n")):
        return True  # the usual case, at the cost of one count in C
    return n == sum(1 for line in block.split(b"\n") if line.strip())  # blank lines


def _failed_line(block: bytes, exc: Exception) -> tuple[int, int] | None:
    """Byte span (newline included) of the line msgspec's ``decode_lines`` error names."""
    msg = str(exc)
    m = _AT_BYTE.search(msg)
    if m is not None:
        pos = min(int(m.group(1)), len(block) - 1)
        start = block.rfind(b"\n", 0, pos) + 1
    else:
        m = _AT_LINE.search(msg)
        if m is None:
            return None
        found = _line_start(block, int(m.group(1)))
        if found is None:
            return None
        start = pos = found
    end = block.find(b"\n", pos)
    return start, len(block) if end < 0 else end + 1


def _line_start(block: bytes, index: int) -> int | None:
    """Offset of line ``index``, one C-level split.

    ``decode_lines`` numbers objects, skipping blank lines, so with blank lines this line may
    come before the failing one. That is harmless: any split yields the same records (a
    line read on its own gives what a block gives), and the retry of the rest fails again
    nearer to the real culprit.
    """
    parts = block.split(b"\n", index)
    return len(block) - len(parts[-1]) if len(parts) > index else None


class JsonlParser(LineParser):
    """lrwatch JSONL (header, metrics, events) and generic JSONL of numeric objects."""

    name = "jsonl"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        # Numbers only (numeric strings such as "NaN" or "2.5" coerced): a block of plain
        # metric lines decodes straight into dicts whose values need no checking.
        # Integers past int64 fail validation: the line takes the general path, where a
        # 400-digit number becomes inf instead of a Python int that no float column can hold.
        self._numeric = msgspec.json.Decoder(dict[str, _Int64 | float], strict=False)
        self._any = msgspec.json.Decoder()
        self._plans: dict[tuple[str, ...], _Plan] = {}
        self._next_step = 0
        # The typed row decoder for the metric key sets seen (their union; keys on every
        # line required), and how often it fit a whole block.
        self._shapes: set[tuple[str, ...]] = set()  # key sets of the block read slowly
        self._union: dict[str, str] = {}
        self._required: set[str] | None = None
        self._rows_keys: tuple[str, str | None] | None = None  # (step key, time key)
        self._rows: Rows | None = None
        self._rows_hits = self._rows_misses = 0
        self._rows_off = False
        #: Block mode: runs of plain metric lines of one key set come as MetricBlock columns.
        self.blocks = bool(options.get("blocks", False))
        self._budget = 0  # bytes the current block may still re-decode after failures

    def restart(self) -> None:
        """Start over at byte 0: inferred steps count from 0 again."""
        super().restart()
        self._next_step = 0

    def _parse_block(self, block: bytes) -> list[AnyRecord]:
        # Millions of small dicts and records trip the cyclic GC over and over although none
        # of them can form a cycle; pausing it for one block more than doubles throughput.
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            out: list[AnyRecord] = []
            self._budget = _RETRY_BUDGET * len(block)
            if self._rows is None and not self._rows_off and len(block) > 4 * _LEARN_HEAD:
                # Learn the key sets from the first lines, so the rest of a big first block
                # (the first 16 MB of a log) already takes the fast path.
                cut = block.find(b"\n", _LEARN_HEAD) + 1
                if 0 < cut < len(block):
                    self._parse_piece(block[:cut], out, 0)
                    block = block[cut:]
            self._parse_piece(block, out, 0)
            return out
        finally:
            if was_enabled:
                gc.enable()

    def _parse_piece(
        self, block: bytes, out: list[AnyRecord], depth: int, patched: bool = False
    ) -> None:
        """Complete lines: the fast path, else numeric dicts, split around the lines that fail.

        msgspec names the line (``$[i]``) or byte where a block failed, so a header or an
        event costs a split there instead of reading the whole block one line at a time.
        Each split re-decodes the lines before the failure; ``self._budget`` (bytes) bounds
        that work, and ``depth`` the splits of a prefix that failed again. ``patched``: the
        NaN tokens of ``block`` were quoted already (or it has none), so its pieces need no
        new scan.
        """
        objs: list[dict[str, int | float]] | None
        error: Exception
        while block:
            rows_failed = False
            if self._rows is not None:
                recs, block, patched = self._parse_rows(block, patched)
                if recs is not None:
                    out += recs
                    return
                rows_failed = True
            try:
                objs = self._numeric.decode_lines(block)
            except _DECODE_ERRORS as exc:
                objs, error = None, exc.with_traceback(None)
                if not patched:
                    # Scanning for tokens only after a failure keeps clean blocks fast.
                    objs, block, error = _decode_patched(self._numeric, block, exc)
                    patched = True
                if objs is None:
                    span = _failed_line(block, error)
                    if span is None or self._budget < 0 or depth >= _MAX_DEPTH:
                        out += self._parse_each(block)
                        self._learn_rows()
                        return
                    start, end = span
                    self._budget -= end
                    if start:
                        self._parse_piece(block[:start], out, depth + 1, patched)
                    out += self._parse_each(block[start:end])
                    self._learn_rows()
                    block = block[end:]
                    continue
            if not _one_per_line(block, len(objs)):
                out += self._parse_each(block)  # a value spread over lines: not a record
                self._learn_rows()
                return
            if rows_failed:
                self._rows_missed()  # plain numeric lines the rows did not fit
            out += self._numeric_records(objs)
            self._learn_rows()
            return

    def _parse_rows(
        self, block: bytes, patched: bool
    ) -> tuple[Sequence[AnyRecord] | None, bytes, bool]:
        """The fast path: (records or ``None`` when a line does not fit, the block with its
        tokens quoted if that was tried, whether it was).

        In block mode (``blocks=True``) a log of one key set yields one
        :class:`~lrwatch.records.MetricBlock` per block instead of a Metrics per line.
        """
        assert self._rows is not None
        decoder, convert, columns = self._rows
        rows: list[Any] | None
        try:
            rows = decoder.decode_lines(block)
        except _DECODE_ERRORS as exc:
            if patched:
                return None, block, patched
            rows, block, _error = _decode_patched(decoder, block, exc)
            del _error
            patched = True
            if rows is None:
                return None, block, patched
        if not _one_per_line(block, len(rows)):
            return None, block, patched
        self._rows_hits += 1
        made = columns(rows) if self.blocks and rows else None
        if made is not None:
            blocks, skipped = made
            self.skipped += skipped
            self._next_step = int(rows[-1].f0) + 1
            return blocks, block, patched
        out, skipped = convert(rows)
        self.skipped += skipped
        if out:
            self._next_step = out[-1].step + 1
        return out, block, patched

    def _rows_missed(self) -> None:
        self._rows_misses += 1
        if self._rows_misses > 4 and self._rows_misses * 4 > self._rows_hits:
            self._rows = None  # lines vary too much for this to pay off
            self._rows_off = True

    def _learn_rows(self) -> None:
        """Widen the fast path to the metric key sets of the block just read slowly."""
        shapes, self._shapes = self._shapes, set()
        if self._rows_off:
            return
        union = dict(self._union)
        required = self._required
        for keys in shapes:
            if not all(map(nameable, keys)):
                continue  # a key the typed decoder cannot name: the general path reads it
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
        # Both were set with the first key set that went into the union.
        assert required is not None and self._rows_keys is not None
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
            except _DECODE_ERRORS:
                pass
            try:
                obj = self._any.decode(line)
            except _DECODE_ERRORS:
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
                if len(self._shapes) < _MAX_SHAPES:  # a key per line must not grow it
                    self._shapes.add(shape)
                step_key, time_key, rename = self._plan(shape)
            if step_key is not None:
                step = obj.pop(step_key)
                t = None if time_key is None else obj.pop(time_key)
                if type(step) is int and 0 <= step < max_step and (t is None or t >= min_t) and obj:
                    if rename is not None:
                        obj = {rename[k]: v for k, v in obj.items()}
                    # An integer time ("t": 1717171717) is a float like every record's.
                    append(metrics(step, obj, t if t is None else float(t)))
                    continue
                obj[step_key] = step
                if time_key is not None and t is not None:
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

    def records_of(self, objs: list[Any]) -> list[Record]:
        """Records from JSON values decoded already (a control socket's ``subscribe`` stream),
        read as the same lines of a log would be; a value that is no record is counted in
        ``skipped``."""
        out: list[Record] = []
        for obj in objs:
            self._any_record(obj, out)
        return out

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
        if kind == SYSTEM_KIND:
            self._system(obj, out)
            return
        data = {k: v for k, v in obj.items() if k != "kind"}
        out.append(Event(kind, data, as_step(obj.get("step")), wall_time(obj.get("t"))))

    def _system(self, obj: dict[str, Any], out: list[Record]) -> None:
        """A ``system`` record: its numbers as metrics ``sys/<name>`` at its step (the last
        step seen when it has none). Never in a MetricBlock: its ``kind`` keeps it off the
        fast path."""
        step = as_step(obj.get("step"))
        values: dict[str, float] = {}
        for key, value in obj.items():
            if key not in ("kind", "step", "t"):
                x = to_float(value)
                if x is not None:
                    values[SYSTEM_PREFIX + key] = x
        if not values:
            self.skipped += 1
            return
        step = max(self._next_step - 1, 0) if step is None else step
        out.append(Metrics(step, values, wall_time(obj.get("t"))))
