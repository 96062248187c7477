"""TensorBoard event files (``events.out.tfevents.*``), read incrementally while they grow.

Each TFRecord holds an ``Event`` protobuf: ``wall_time`` (1, double), ``step`` (2, int64),
``summary`` (5) with repeated ``Value`` (1): ``tag`` (1), ``simple_value`` (2, float) for TF1 /
PyTorch / Lightning writers, or ``tensor`` (8) for TF2 writers: a one-element float or double
``TensorProto`` (``dtype`` 1, ``tensor_content`` 4, ``float_val`` 5, ``double_val`` 6).
A record that is only partly written is held back; a record whose data CRC is wrong is skipped
and counted; a corrupt length header is counted once and the reader resynchronises on the next
position whose header CRC checks out.

Speed: PyTorch / Lightning writers put one scalar per event, so a file holds millions of small
records. Those are read by a fast path (:mod:`lrwatch.formats._tfrecord`: one dict lookup on
the bytes after the step recognises the layout and names the metric) inside the framing loop;
header CRCs are remembered per record length; every data CRC is still checked. Any other
event (histograms, images, text, TF2 tensors, several values) takes the general decoder.
"""

from __future__ import annotations

import gc
import math
import re
import struct
from typing import Any, cast

import numpy as np

from lrwatch.formats import _protobuf as pb
from lrwatch.formats import _tfrecord
from lrwatch.formats._held import Held
from lrwatch.formats.base import Parser
from lrwatch.records import (
    AnyRecord,
    Event,
    MetricBlock,
    Metrics,
    NameMap,
    lightning_optimizer,
)

#: Longest event record accepted (a bigger length with a valid CRC is still refused).
MAX_RECORD = 64 << 20
_HEADER = 12
_DT_FLOAT, _DT_DOUBLE = 1, 2
_MASK_DELTA = 0xA282EAD8  # TFRecord's CRC mask: rotate right by 15, add this
#: Record lengths whose header CRC is remembered (one per event size seen).
_MAX_HEADERS = 4096
#: Block mode: consecutive records of one key set shorter than this stay Metrics records.
_MIN_RUN = 32
#: The first byte of an Event payload: the key of its first field. Every writer sets
#: wall_time (field 1, fixed64: 0x09) and protobuf writes fields in number order, so real
#: events start with 0x09 (TF's EventsWriter, PyTorch's SummaryWriter and tensorboardX all
#: fill it from time.time()); the keys of Event's other fields (2 step ... 10
#: source_metadata) are accepted too, for an event written with a wall_time of 0.
_FIRST_KEYS = bytes([0x09, 0x10, 0x1A, 0x22, 0x2A, 0x32, 0x3A, 0x42, 0x4A, 0x52])
_FIRST_KEY = re.compile(b"[" + re.escape(_FIRST_KEYS) + b"]")
#: Bytes 4..7 of a record length: zero for any length up to MAX_RECORD.
_HIGH_ZEROS = bytes(4)


class TfeventsParser(Parser):
    """TensorBoard event files: scalars only (images, histograms, graphs are passed over).

    Options: ``fast=False`` reads every event with the general decoder (the fast path's
    reference); ``blocks=True`` (block mode) turns runs of consecutive records with one key
    set into :class:`~lrwatch.records.MetricBlock` columns.
    """

    name = "tfevents"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        # The unread tail (a partial record), joined with new data only once the record the
        # header announced is complete: a 64 MB record fed 64 KiB at a time is copied once.
        self._held = Held()
        self._need = 0  # bytes the held tail must reach before parsing it again is useful
        self._resyncing = False  # inside a run of bytes with no valid record header
        #: Header CRCs computed while looking for the next record after damage (a measure).
        self.resync_crcs = 0
        self.blocks = bool(options.get("blocks", False))
        self._fast = bool(options.get("fast", True))
        self._layouts: dict[bytes, str] = {}  # scalar event suffix -> metric name
        self._headers: dict[int, int] = {}  # record length -> masked CRC of its 8 bytes
        self._optimizer: str | None = None  # from a Lightning lr-<Optimizer> tag
        self._optimizer_sent = False

    def restart(self) -> None:
        """A new file: drop the partial record."""
        self._held.clear()
        self._need = 0
        self._resyncing = False

    def feed(self, data: bytes) -> list[AnyRecord]:
        """Parse every complete record; hold back a partial one."""
        # A record and a dict per scalar trip the cyclic GC over and over, though none of them
        # can form a cycle: pause it while a chunk is read (as the JSONL reader does).
        data = bytes(data)
        if len(self._held) + len(data) < self._need:
            self._held.add(data)  # the pending record is still incomplete: nothing to parse
            return []
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            out, runs = self._feed(self._held.take(data))
        except Exception:  # never raise out of a reader
            self.skipped += 1
            self._held.clear()
            self._need = 0
            return []
        finally:
            if was_enabled:
                gc.enable()
        if self.blocks and runs * 2 <= len(out):  # some runs may be long: look for them
            return _blockify(out)
        return out

    def flush(self) -> list[AnyRecord]:
        """End of input: a half-written record left over is counted as skipped."""
        if self._held:
            self.skipped += 1
        self._held.clear()
        self._need = 0
        return []

    def _feed(self, buf: bytes) -> tuple[list[AnyRecord], int]:
        """The hot loop: (records, how many runs of one metric name they form, roughly).

        One-scalar events of a known layout (see :mod:`._tfrecord`) are read right here from
        ``buf`` with locals only; anything else goes to :meth:`_event`.
        """
        out: list[AnyRecord] = []
        append = out.append
        unpack_from = struct.unpack_from
        crc32c = pb.crc32c
        headers = self._headers
        layouts = self._layouts if self._fast else {}
        metrics = Metrics
        isfinite = math.isfinite
        last_name = None
        runs = skipped = 0
        resyncing = self._resyncing
        pos, n = 0, len(buf)
        last = n - _HEADER  # the last position a header fits at
        need = 0
        while pos <= last:
            length, crc = unpack_from("<QI", buf, pos)
            if headers.get(length) != crc:
                if resyncing:
                    if pos == last:
                        break  # the payload's first byte decides whether to CRC: wait for it
                    if not _candidate(buf, pos, length):
                        pos = _next_candidate(buf, pos + 1)
                        continue
                if length > MAX_RECORD or self._header_crc(buf, pos, resyncing) != crc:
                    if not resyncing:
                        skipped += 1
                        resyncing = True
                    # Only offsets that could start an event are CRC'd: not every byte.
                    pos = _next_candidate(buf, pos + 1)
                    continue
                if len(headers) < _MAX_HEADERS:
                    headers[length] = crc
            start = pos + 12
            end = start + length
            if end + 4 > n:
                need = end + 4 - pos
                break
            resyncing = False
            pos = end + 4
            c = crc32c(buf[start:end])
            (stored,) = unpack_from("<I", buf, end)
            if (((c >> 15) | (c << 17)) + _MASK_DELTA) & 0xFFFFFFFF != stored:
                skipped += 1
                continue
            # The one-scalar layout: 09 <wall> [10 <step>] <suffix> <float>.
            if layouts and length > 13 and buf[start] == 0x09:
                q = start + 9
                key = buf[q]
                step = 0
                if key == 0x10:  # the step varint, its first two bytes unrolled
                    step = buf[q + 1]
                    q += 2
                    if step >= 0x80:
                        b = buf[q]
                        step = (step & 0x7F) | (b & 0x7F) << 7
                        q += 1
                        shift = 14
                        while b >= 0x80 and shift < 56:
                            b = buf[q]
                            step |= (b & 0x7F) << shift
                            shift += 7
                            q += 1
                        key = 0 if b >= 0x80 else 0x2A
                    else:
                        key = 0x2A
                if key == 0x2A:
                    name = layouts.get(buf[q : end - 4])
                    if name is not None:
                        (t,) = unpack_from("<d", buf, start + 1)
                        (value,) = unpack_from("<f", buf, end - 4)
                        append(metrics(step, {name: value}, t if isfinite(t) else None))
                        if name is not last_name:
                            runs += 1
                            last_name = name
                        continue
            last_name = None
            runs += 1
            skipped += self._event(buf[start:end], out)
        self.skipped += skipped
        self._resyncing = resyncing
        self._held.keep(buf, min(pos, n))
        self._need = need
        return out, runs

    def _header_crc(self, buf: bytes, pos: int, resyncing: bool) -> int:
        """The masked CRC of the length at ``pos`` (counted while resynchronising)."""
        if resyncing:
            self.resync_crcs += 1
        return pb.masked_crc(buf[pos : pos + 8])

    def _event(self, payload: bytes, out: list[AnyRecord]) -> int:
        """Decode one event with the general decoder; returns 1 if it was malformed."""
        try:
            wall_time, step, values = self._decode_event(payload)
        except (ValueError, IndexError, struct.error):
            return 1
        if self._optimizer is not None and not self._optimizer_sent:
            # Lightning's LearningRateMonitor tag (lr-SGD) names the optimizer, as in its CSV.
            self._optimizer_sent = True
            out.append(Event("run", {"optimizer": self._optimizer}))
        if values:
            t = wall_time if wall_time is not None and math.isfinite(wall_time) else None
            out.append(Metrics(step, values, t))
            if self._fast and len(values) == 1:
                _tfrecord.learn(payload, self._layouts, self.names)
        return 0

    def _decode_event(self, payload: bytes) -> tuple[float | None, int, dict[str, float]]:
        wall_time: float | None = None
        step = 0
        values: dict[str, float] = {}
        # The ignores: the wire type makes ``value`` bytes or an int (see pb.Field; no cast
        # per field).
        for number, wire, value in pb.fields(payload):
            if number == 1 and wire == 1:
                wall_time = pb.double(value)  # type: ignore[arg-type]
            elif number == 2 and wire == 0:
                step = value if 0 <= value < 1 << 62 else 0  # type: ignore[operator,assignment]
            elif number == 5 and wire == 2:
                self._summary(value, values)  # type: ignore[arg-type]
        return wall_time, step, values

    def _summary(self, buf: bytes, values: dict[str, float]) -> None:
        # The ignore: wire type 2 makes ``value`` bytes (see pb.Field; no cast per field).
        for number, wire, value in pb.fields(buf):
            if number == 1 and wire == 2:
                tag, scalar = _summary_value(value)  # type: ignore[arg-type]
                if tag is not None and scalar is not None:
                    values[self.names(tag)] = scalar
                    if self._optimizer is None and tag.startswith("lr-"):
                        self._optimizer = lightning_optimizer(tag)


def _candidate(buf: bytes, pos: int, length: int) -> bool:
    """Whether ``pos`` may start a record: a length that fits, then an Event's first key."""
    return length <= MAX_RECORD and buf[pos + _HEADER] in _FIRST_KEYS


def _next_candidate(buf: bytes, pos: int) -> int:
    """The first offset from ``pos`` worth a header CRC, found by C-speed searches.

    An offset qualifies when its length fits MAX_RECORD (so bytes 4..7 of it are zero) and
    the byte after its 12-byte header is the key of an Event field. Two searches leapfrog:
    ``bytes.find`` for the four zero bytes (rare in random bytes, text or floats) and a regex
    for a key byte (absent from a run of zeros), each jumping over offsets the other cannot
    rule out; only offsets that pass both are looked at in Python. Offsets whose payload byte
    has not arrived yet are returned as they are: they wait for more data.
    """
    n = len(buf)
    while True:
        z = buf.find(_HIGH_ZEROS, pos + 4)
        if z < 0:
            return max(pos, n - _HEADER)
        pos = z - 4
        m = _FIRST_KEY.search(buf, pos + _HEADER)
        if m is None:
            return max(pos, n - _HEADER)
        pos = m.start() - _HEADER
        if buf[pos + 4 : pos + 8] == _HIGH_ZEROS and _candidate(
            buf, pos, struct.unpack_from("<Q", buf, pos)[0]
        ):
            return pos
        pos += 1


def _blockify(records: list[AnyRecord]) -> list[AnyRecord]:
    """Runs of at least ``_MIN_RUN`` consecutive records with one key set as MetricBlocks.

    An event (the run event naming a Lightning optimizer) ends a run and is kept as it is.
    """
    out: list[AnyRecord] = []
    i, n = 0, len(records)
    while i < n:
        first = records[i]
        if type(first) is not Metrics:
            out.append(first)
            i += 1
            continue
        keys = tuple(first.values)
        j = i + 1
        while j < n and type(rec := records[j]) is Metrics and tuple(rec.values) == keys:
            j += 1
        if j - i < _MIN_RUN:
            out += records[i:j]
        else:
            out.append(_block(cast("list[Metrics]", records[i:j])))  # all checked above
        i = j
    return out


def _block(run: list[Metrics]) -> MetricBlock:
    k = len(run)
    steps = np.fromiter((r.step for r in run), np.int64, k)
    cols = {
        name: np.fromiter((r.values[name] for r in run), np.float64, k) for name in run[0].values
    }
    timed = any(r.t is not None for r in run)
    nan = math.nan
    times = (
        np.fromiter((nan if r.t is None else r.t for r in run), np.float64, k) if timed else None
    )
    return MetricBlock(steps, cols, times)


def _summary_value(buf: bytes) -> tuple[str | None, float | None]:
    tag: str | None = None
    scalar: float | None = None
    # The ignores: wire types 2 and 5 make ``value`` bytes (see pb.Field; no cast per field).
    for number, wire, value in pb.fields(buf):
        if number == 1 and wire == 2:
            tag = bytes(value).decode("utf-8", "replace")
        elif number == 2 and wire == 5:
            scalar = pb.float32(value)  # type: ignore[arg-type]
        elif number == 8 and wire == 2:
            scalar = _tensor_scalar(value)  # type: ignore[arg-type]
    return tag, scalar


def _tensor_scalar(buf: bytes) -> float | None:
    """The value of a one-element float/double tensor; ``None`` for anything else."""
    dtype = 0
    found: list[float] = []
    # The ignores: the wire type makes ``value`` an int or bytes (see pb.Field; no cast per
    # field).
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
