"""TensorBoard event files (``events.out.tfevents.*``), read incrementally while they grow.

Each TFRecord holds an ``Event`` protobuf: ``wall_time`` (1, double), ``step`` (2, int64),
``summary`` (5) with repeated ``Value`` (1): ``tag`` (1), ``simple_value`` (2, float) for TF1 /
PyTorch / Lightning writers, or ``tensor`` (8) for TF2 writers: a one-element float or double
``TensorProto`` (``dtype`` 1, ``tensor_content`` 4, ``float_val`` 5, ``double_val`` 6).
A record that is only partly written is held back; a record whose data CRC is wrong is skipped
and counted; a corrupt length header is counted once and the reader resynchronises on the next
position whose header CRC checks out.
"""

from __future__ import annotations

import math
import struct
from typing import Any

from lrwatch.formats import _protobuf as pb
from lrwatch.formats.base import Parser
from lrwatch.records import Metrics, NameMap, Record

#: Longest event record accepted (a bigger length with a valid CRC is still refused).
MAX_RECORD = 64 << 20
_HEADER = 12
_DT_FLOAT, _DT_DOUBLE = 1, 2


class TfeventsParser(Parser):
    """TensorBoard event files: scalars only (images, histograms, graphs are passed over)."""

    name = "tfevents"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        self._buf = b""
        self._resyncing = False  # inside a run of bytes with no valid record header

    def restart(self) -> None:
        """A new file: drop the partial record."""
        self._buf = b""
        self._resyncing = False

    def feed(self, data: bytes) -> list[Record]:
        """Parse every complete record; hold back a partial one."""
        try:
            return self._feed(bytes(data))
        except Exception:  # never raise out of a reader
            self.skipped += 1
            self._buf = b""
            return []

    def flush(self) -> list[Record]:
        """End of input: a half-written record left over is counted as skipped."""
        if self._buf:
            self.skipped += 1
        self._buf = b""
        return []

    def _feed(self, data: bytes) -> list[Record]:
        buf = self._buf + data if self._buf else data
        out: list[Record] = []
        pos, n = 0, len(buf)
        while n - pos >= _HEADER:
            header = buf[pos : pos + 8]
            (length,) = struct.unpack("<Q", header)
            (crc,) = struct.unpack("<I", buf[pos + 8 : pos + 12])
            if length > MAX_RECORD or pb.masked_crc(header) != crc:
                if not self._resyncing:
                    self.skipped += 1
                    self._resyncing = True
                pos += 1
                continue
            end = pos + _HEADER + length + 4
            if end > n:
                break
            self._resyncing = False
            payload = buf[pos + _HEADER : end - 4]
            (data_crc,) = struct.unpack("<I", buf[end - 4 : end])
            if pb.masked_crc(payload) != data_crc:
                self.skipped += 1
            else:
                self._event(payload, out)
            pos = end
        self._buf = buf[pos:]
        return out

    def _event(self, payload: bytes, out: list[Record]) -> None:
        try:
            wall_time, step, values = self._decode_event(payload)
        except (ValueError, IndexError, struct.error):
            self.skipped += 1
            return
        if values:
            t = wall_time if wall_time is not None and math.isfinite(wall_time) else None
            out.append(Metrics(step, values, t))

    def _decode_event(self, payload: bytes) -> tuple[float | None, int, dict[str, float]]:
        wall_time: float | None = None
        step = 0
        values: dict[str, float] = {}
        for number, wire, value in pb.fields(payload):
            if number == 1 and wire == 1:
                wall_time = pb.double(value)  # type: ignore[arg-type]
            elif number == 2 and wire == 0:
                step = value if 0 <= value < 1 << 62 else 0  # type: ignore[operator,assignment]
            elif number == 5 and wire == 2:
                self._summary(value, values)  # type: ignore[arg-type]
        return wall_time, step, values

    def _summary(self, buf: bytes, values: dict[str, float]) -> None:
        for number, wire, value in pb.fields(buf):
            if number == 1 and wire == 2:
                tag, scalar = _summary_value(value)  # type: ignore[arg-type]
                if tag is not None and scalar is not None:
                    values[self.names(tag)] = scalar


def _summary_value(buf: bytes) -> tuple[str | None, float | None]:
    tag: str | None = None
    scalar: float | None = None
    for number, wire, value in pb.fields(buf):
        if number == 1 and wire == 2:
            tag = bytes(value).decode("utf-8", "replace")  # type: ignore[arg-type]
        elif number == 2 and wire == 5:
            scalar = pb.float32(value)  # type: ignore[arg-type]
        elif number == 8 and wire == 2:
            scalar = _tensor_scalar(value)  # type: ignore[arg-type]
    return tag, scalar


def _tensor_scalar(buf: bytes) -> float | None:
    """The value of a one-element float/double tensor; ``None`` for anything else."""
    dtype = 0
    found: list[float] = []
    for number, wire, value in pb.fields(buf):
        if number == 1 and wire == 0:
            dtype = value  # type: ignore[assignment]
        elif number == 4 and wire == 2:
            found.extend(_content(value, dtype))  # type: ignore[arg-type]
        elif number == 5:
            found.extend(_packed(value, wire, "<f", 4))
        elif number == 6:
            found.extend(_packed(value, wire, "<d", 8))
    return found[0] if len(found) == 1 else None


def _content(raw: bytes, dtype: int) -> list[float]:
    if dtype == _DT_FLOAT and len(raw) % 4 == 0:
        return [v for (v,) in struct.iter_unpack("<f", raw)]
    if dtype == _DT_DOUBLE and len(raw) % 8 == 0:
        return [v for (v,) in struct.iter_unpack("<d", raw)]
    return []


def _packed(value: int | bytes, wire: int, fmt: str, size: int) -> list[float]:
    if wire == 2 and isinstance(value, bytes) and len(value) % size == 0:
        return [v for (v,) in struct.iter_unpack(fmt, value)]
    if wire in (1, 5) and isinstance(value, bytes) and len(value) == size:
        return [struct.unpack(fmt, value)[0]]
    return []
