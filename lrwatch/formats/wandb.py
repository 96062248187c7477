"""Weights & Biases run files (``wandb/run-*/run-<id>.wandb``), read without the wandb package.

A ``.wandb`` file is W&B's transaction log, in LevelDB's log layout: a 7-byte file header
(``":W&B"``, uint16 magic ``0xBEE1``, uint8 version 0), then 32 KiB blocks of records, each
``uint32 checksum | uint16 length | uint8 type | data``, little-endian. The type is FULL,
FIRST, MIDDLE or LAST (a record that does not fit the rest of a block is cut into pieces); a
block ends in zero padding when fewer than 7 bytes are left. Blocks are counted from byte 0 of
the file, header included. Unlike LevelDB, the checksum is zlib's CRC-32 (not CRC32C) of the
type byte followed by the data. The joined data of a record is a ``wandb_internal.Record``
protobuf, decoded with :mod:`lrwatch.formats._protobuf`.

Read: ``history`` rows (``run.log``) -> :class:`Metrics`; the ``run`` record ->
``Event("run")``; the ``exit`` record -> ``Event("end")``. Everything else (summary, config
updates, system stats, files, console output, telemetry) is passed over without counting.
A piece whose checksum or header is wrong is counted in ``skipped`` and reading resumes at
the next block boundary, where LevelDB's writer always starts a fresh piece.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any, cast

from lrwatch.formats import _protobuf as pb
from lrwatch.formats._held import Held
from lrwatch.formats.base import Parser, as_step, wall_time
from lrwatch.records import AnyRecord, Event, Metrics, NameMap, Record

# -- framing (wandb 0.31.0: wandb-core's leveldb writer; wandb<=0.17 sdk/internal/datastore.py)
MAGIC = b":W&B"
FILE_HEADER = struct.pack("<4sHB", MAGIC, 0xBEE1, 0)
BLOCK = 32768
PIECE_HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
#: zlib.crc32 of the type byte: the seed the checksum of a piece continues from.
_TYPE_CRC = [zlib.crc32(bytes([kind])) for kind in range(LAST + 1)]
#: Longest record joined from pieces (a longer one is dropped and counted).
MAX_RECORD = 64 << 20

# -- protobuf field numbers: wandb 0.31.0, wandb/proto/v{5,6,7}/wandb_internal_pb2 descriptors
R_HISTORY, R_RUN, R_EXIT = 2, 17, 18  # Record
H_ITEM, H_STEP = 1, 2  # HistoryRecord
STEP_NUM = 1  # HistoryStep
I_KEY, I_NESTED, I_INTEGER, I_NUMBER, I_JSON, I_VALUE_JSON = 1, 2, 5, 6, 8, 16  # HistoryItem
RUN_ID, RUN_ENTITY, RUN_PROJECT, RUN_CONFIG, RUN_GROUP, RUN_JOB = 1, 2, 3, 4, 6, 7  # RunRecord
RUN_NAME, RUN_HOST, RUN_START = 8, 13, 17  # RunRecord
CFG_UPDATE = 1  # ConfigRecord (items are ConfigItem: key 1, nested_key 2, value_json 16)
TS_SECONDS, TS_NANOS = 1, 2  # google.protobuf.Timestamp
EXIT_CODE, EXIT_RUNTIME = 1, 2  # RunExitRecord

#: History keys W&B adds itself: not metrics.
_STEP_KEY, _TIME_KEY, _RUNTIME_KEY = "_step", "_timestamp", "_runtime"
#: Config values longer than this (raw JSON) are left out of the run event.
_MAX_CONFIG_VALUE = 4096
_DECODE_ERRORS = (ValueError, IndexError, struct.error, TypeError)


class WandbParser(Parser):
    """W&B ``.wandb`` run files: logged scalars, the run header and the exit status."""

    name = "wandb"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        self.restart()

    def restart(self) -> None:
        """A new file: forget the position, held bytes, pieces and what the run said."""
        # The unread tail (a partial piece, < 32 KiB), joined with new data only once the
        # piece it starts is complete: fed a byte at a time, it is not copied per byte.
        self._held = Held()
        self._need = 0  # bytes the held tail must reach before parsing it again is useful
        self._pos = 0  # file offset of the held tail's first byte: blocks are file offsets
        self._header_read = False
        self._skip_to: int | None = None  # resynchronising: drop bytes up to this offset
        self._resync = False  # after a bad piece: continuation pieces are dropped silently
        self._frag: bytearray | None = None  # the pieces of a FIRST..LAST record so far
        self._start: float | None = None  # run start (wall time), for _runtime and exit
        self._last_step = -1
        self._run_seen = False

    def feed(self, data: bytes) -> list[AnyRecord]:
        """Parse every complete record; hold back a partial piece."""
        data = bytes(data)
        end = self._pos + len(self._held) + len(data)
        if end - self._pos < self._need:
            self._held.add(data)  # the piece under way is still incomplete
            return []
        try:
            return self._feed(self._held.take(data))
        except Exception:  # never raise out of a reader: drop the bytes, keep block alignment
            self.skipped += 1
            self._pos, self._frag, self._need = end, None, 0
            self._held.clear()
            return []

    def flush(self) -> list[AnyRecord]:
        """End of input: a half-written record left over is counted as skipped."""
        rest = self._held.take()
        if self._frag is not None or rest.strip(b"\0"):
            self.skipped += 1
        self._pos += len(rest)
        self._need = 0
        self._frag = None
        return []

    # -- framing ------------------------------------------------------------------------

    def _feed(self, buf: bytes) -> list[AnyRecord]:
        base, n = self._pos, len(buf)
        out: list[AnyRecord] = []
        i = 0
        if not self._header_read:
            if n < PIECE_HEADER:
                self._held.keep(buf, 0)
                return out
            if buf[:PIECE_HEADER] != FILE_HEADER:
                self.skipped += 1  # not W&B's header (or another version): try the records
            self._header_read = True
            i = PIECE_HEADER
        need = 0
        while True:
            if self._skip_to is not None:
                if base + n < self._skip_to:
                    i = n
                    break
                i, self._skip_to = self._skip_to - base, None
            left = BLOCK - (base + i) % BLOCK
            need = PIECE_HEADER
            if left < PIECE_HEADER:  # block trailer: zero padding
                if n - i < left:
                    break
                i += left
                continue
            if n - i < PIECE_HEADER:
                break
            crc, length, kind = struct.unpack_from("<IHB", buf, i)
            if kind == 0 and length == 0 and crc == 0:
                self._skip_to = base + i + left  # zero-filled rest of a block: not a piece
                continue
            if kind > LAST or PIECE_HEADER + length > left:
                self._bad(base + i + left)
                continue
            end = i + PIECE_HEADER + length
            if end > n:
                need = end - i
                break
            payload = buf[i + PIECE_HEADER : end]
            if zlib.crc32(payload, _TYPE_CRC[kind]) != crc:
                self._bad(base + i + left)
                continue
            i = end
            self._piece(kind, payload, out)
        # A partial piece waits for the bytes its header announced; anything else (a block
        # trailer, a header cut short) is retried at the next feed.
        self._need = need if i < n and need > PIECE_HEADER else 0
        self._held.keep(buf, i)
        self._pos = base + i
        return out

    def _bad(self, boundary: int) -> None:
        """A corrupt piece: count it once and resynchronise at the next block boundary."""
        if not self._resync:
            self.skipped += 1
        self._resync = True
        self._frag = None
        self._skip_to = boundary

    def _piece(self, kind: int, payload: bytes, out: list[AnyRecord]) -> None:
        """Join pieces into records; decode each complete one."""
        if kind in (FULL, FIRST):
            if self._frag is not None:
                self.skipped += 1  # a FIRST that never got its LAST
            self._resync = False
            if kind == FULL:
                self._frag = None
                self._record(payload, out)
            else:
                self._frag = bytearray(payload)
            return
        if self._frag is None:
            if not self._resync:
                self.skipped += 1  # a MIDDLE/LAST with no FIRST before it
            return
        self._frag += payload
        if len(self._frag) > MAX_RECORD:
            self.skipped += 1  # too big to be a real record: drop it and its other pieces
            self._resync = True
            self._frag = None
        elif kind == LAST:
            data, self._frag = bytes(self._frag), None
            self._record(data, out)

    # -- records ------------------------------------------------------------------------

    def _record(self, payload: bytes, out: list[AnyRecord]) -> None:
        """One ``Record`` protobuf: history, run and exit are read, the rest passed over."""
        try:
            rec: Record | None = None
            # The ignores: wire type 2 makes ``value`` bytes (see pb.Field; no cast per field).
            for number, wire, value in pb.fields(payload):
                if wire != 2:
                    continue
                if number == R_HISTORY:
                    rec = self._history(value)  # type: ignore[arg-type]
                elif number == R_RUN and not self._run_seen:
                    rec = self._run(value)  # type: ignore[arg-type]
                elif number == R_EXIT:
                    rec = self._exit(value)  # type: ignore[arg-type]
        except _DECODE_ERRORS:
            self.skipped += 1
            return
        if rec is not None:
            out.append(rec)

    def _history(self, buf: bytes) -> Metrics | None:
        step_num: int | None = None
        pairs: list[tuple[str, float]] = []
        media: list[str] = []  # "img/": W&B flattens media dicts (img/_type, img/width, ...)
        # The ignores: wire type 2 makes ``value`` bytes (see pb.Field; no cast per field).
        for number, wire, value in pb.fields(buf):
            if number == H_ITEM and wire == 2:
                key, x = _item(value)  # type: ignore[arg-type]
                if key is None or key.startswith("_wandb"):
                    continue
                if key.endswith("/_type"):
                    media.append(key[: -len("_type")])
                elif x is not None:
                    pairs.append((key, x))
            elif number == H_STEP and wire == 2:
                step_num = _varint_field(value, STEP_NUM) or 0  # type: ignore[arg-type]
        specials: dict[str, float] = {}
        values: dict[str, float] = {}
        for key, x in pairs:
            if key in (_STEP_KEY, _TIME_KEY, _RUNTIME_KEY):
                specials[key] = x
            elif not (media and key.startswith(tuple(media))):
                values[self.names(key)] = x
        step = as_step(step_num) if step_num is not None else None
        if step is None and _STEP_KEY in specials:
            step = as_step(specials[_STEP_KEY])
        inferred = step is None
        if step is None:
            step = self._last_step + 1
            self.steps_inferred = True
        self._last_step = step
        if not values:
            return None  # only media, text or W&B's own keys in this row
        t = wall_time(specials.get(_TIME_KEY))
        if t is None and self._start is not None and _RUNTIME_KEY in specials:
            t = wall_time(self._start + specials[_RUNTIME_KEY])
        return Metrics(step, values, t, inferred)

    def _run(self, buf: bytes) -> Event:
        fields = {
            RUN_ID: "id",
            RUN_NAME: "name",
            RUN_PROJECT: "project",
            RUN_ENTITY: "entity",
            RUN_GROUP: "group",
            RUN_JOB: "job_type",
            RUN_HOST: "host",
        }
        data: dict[str, Any] = {}
        config: dict[str, Any] = {}
        for number, wire, value in pb.fields(buf):
            if wire != 2:
                continue
            raw = cast(bytes, value)  # wire type 2: length-delimited
            if number in fields and raw:
                data[fields[number]] = _text(raw)
            elif number == RUN_CONFIG:
                _config(raw, config)
            elif number == RUN_START:
                self._start = _timestamp(raw)
        name = data.get("name") or data.get("id")
        head: dict[str, Any] = {"run": name} if name else {}
        head.update(data, format="wandb")
        if config:
            head["config"] = config
        self._run_seen = True
        return Event("run", head, None, self._start)

    def _exit(self, buf: bytes) -> Event:
        code, runtime = 0, None
        for number, wire, value in pb.fields(buf):
            if number == EXIT_CODE and wire == 0:
                code = _int32(cast(int, value))
            elif number == EXIT_RUNTIME and wire == 0:
                runtime = _int32(cast(int, value))
        t = self._start + runtime if self._start is not None and runtime is not None else None
        data = {"status": "finished" if code == 0 else "crashed", "exit_code": code}
        return Event("end", data, self._last_step if self._last_step >= 0 else None, t)


def _item(buf: bytes) -> tuple[str | None, float | None]:
    """(key, numeric value) of a ``HistoryItem``; the value is ``None`` when not a number."""
    # wandb-core writes nearly every item as one nested_key (tag 0x12) then value_json (tag
    # 0x82 0x01), both shorter than 128 bytes: read that layout directly (~2x faster).
    j = 2 + buf[1] if len(buf) > 5 and buf[0] == 0x12 and buf[1] < 0x80 else 0
    if j and buf[j : j + 2] == b"\x82\x01" and j + 3 < len(buf):
        size = buf[j + 2]
        if size < 0x80 and j + 3 + size == len(buf):
            return _text(buf[2:j]), _json_number(buf[j + 3 :])
    return _item_fields(buf)


def _item_fields(buf: bytes) -> tuple[str | None, float | None]:
    """:func:`_item` for any layout, field by field."""
    key: str | None = None
    parts: list[str] = []
    x: float | None = None
    # The ignores: the wire type makes ``value`` bytes or an int (see pb.Field; no cast per
    # field).
    for number, wire, value in pb.fields(buf):
        if wire == 2:
            if number == I_KEY:
                key = _text(value)  # type: ignore[arg-type]
            elif number == I_NESTED:
                parts.append(_text(value))  # type: ignore[arg-type]
            elif number in (I_VALUE_JSON, I_JSON):
                x = _json_number(value)  # type: ignore[arg-type]
        elif number == I_NUMBER and wire == 1:
            x = pb.double(value)  # type: ignore[arg-type]
        elif number == I_INTEGER and wire == 0:
            x = float((value >> 1) ^ -(value & 1))  # type: ignore[operator]  # sint64
    return ("/".join(parts) if parts else key), x


def _json_number(raw: bytes) -> float | None:
    """A JSON number (``NaN``, ``Infinity``, ``-Infinity`` too) as float; else ``None``.

    Strings, objects (media, tables), lists, booleans and ``null`` are not metric values.
    """
    s = raw.strip()
    if not s or s[:1] in b'"{[tfn':
        return None
    try:
        return float(s)
    except ValueError:
        return None


def _config(buf: bytes, config: dict[str, Any]) -> None:
    """Add the ``update`` items of a ``ConfigRecord`` to ``config`` (W&B's own keys left out)."""
    for number, wire, value in pb.fields(buf):
        if number != CFG_UPDATE or wire != 2:
            continue
        key: str | None = None
        parts: list[str] = []
        raw: bytes | None = None
        for n, w, v in pb.fields(cast(bytes, value)):  # wire type 2: length-delimited
            if w != 2:
                continue
            text = cast(bytes, v)
            if n == I_KEY:
                key = _text(text)
            elif n == I_NESTED:
                parts.append(_text(text))
            elif n == I_VALUE_JSON:
                raw = text
        name = "/".join(parts) if parts else key
        if not name or name.startswith("_wandb") or raw is None or len(raw) > _MAX_CONFIG_VALUE:
            continue
        try:
            config[name] = json.loads(raw)
        except ValueError:
            config[name] = _text(raw)


def _timestamp(buf: bytes) -> float | None:
    seconds = _varint_field(buf, TS_SECONDS) or 0
    nanos = _varint_field(buf, TS_NANOS) or 0
    return wall_time(seconds + nanos / 1e9)


def _varint_field(buf: bytes, field: int) -> int | None:
    """The last varint value of ``field`` in a message, else ``None``."""
    found = None
    for number, wire, value in pb.fields(buf):
        if number == field and wire == 0:
            found = value
    return found  # type: ignore[return-value]  # wire type 0: an int (see pb.Field)


def _int32(value: int) -> int:
    """A protobuf int32 (negative ones are written as 64-bit two's complement varints)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "replace")
