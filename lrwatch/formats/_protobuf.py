"""Just enough protobuf and TFRecord to read TensorBoard scalars, with no tensorflow import.

A TFRecord is ``uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)``.
CRC32C is computed by ``google-crc32c`` (a dependency: C speed, hardware CRC where the CPU has
it), else the ``crc32c`` package if installed, else a table-driven pure-Python loop, which is
correct but makes the CRC most of the cost of reading an event file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator

_POLY = 0x82F63B78


def _make_table() -> list[int]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _make_table()


def crc32c_py(data: bytes) -> int:
    """CRC32C (Castagnoli) of ``data``, pure Python."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _fast_crc() -> Callable[[bytes], int]:
    # google-crc32c (a dependency, Apache-2.0) wants read-only bytes; the ``crc32c`` package
    # (LGPL, not required) takes any buffer and is used when it is the one installed.
    try:
        import google_crc32c

        value = google_crc32c.value
        return lambda data: value(data if type(data) is bytes else bytes(data))
    except ImportError:
        pass
    try:
        import crc32c

        fast: Callable[[bytes], int] = crc32c.crc32c
        return fast
    except ImportError:
        return crc32c_py


crc32c = _fast_crc()


def masked_crc(data: bytes) -> int:
    """TFRecord's masked CRC32C."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a base-128 varint at ``pos``: (value, next position). IndexError/ValueError if bad."""
    result = 0
    shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


#: (number, wire type, value). The wire type decides the value's type (0: int, else bytes),
#: which mypy cannot follow: readers narrow it with ``cast`` off the hot path and with a
#: ``# type: ignore[arg-type]`` in their per-field loops, where a cast would cost a call per
#: field (see ``tfevents`` and ``wandb``).
Field = tuple[int, int, "int | bytes"]


def fields(buf: bytes) -> Iterator[Field]:
    """(field number, wire type, value) of each field of a message.

    Varints give ints; fixed64/fixed32 and length-delimited fields give their raw bytes.
    Malformed input raises ValueError (or IndexError); callers catch it.
    """
    pos, end = 0, len(buf)
    while pos < end:
        # Keys and lengths are almost always one byte: skip the varint call for them.
        key = buf[pos]
        if key < 0x80:
            pos += 1
        else:
            key, pos = varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = varint(buf, pos)
            yield number, wire, value
        elif wire == 1:
            yield number, wire, buf[pos : pos + 8]
            pos += 8
        elif wire == 2:
            size = buf[pos]
            if size < 0x80:
                pos += 1
            else:
                size, pos = varint(buf, pos)
            if pos + size > end:
                raise ValueError("field past end of message")
            yield number, wire, buf[pos : pos + size]
            pos += size
        elif wire == 5:
            yield number, wire, buf[pos : pos + 4]
            pos += 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > end:
            raise ValueError("truncated field")


def double(raw: bytes) -> float:
    """A little-endian fixed64 double."""
    value: float = struct.unpack("<d", raw)[0]
    return value


def float32(raw: bytes) -> float:
    """A little-endian fixed32 float."""
    value: float = struct.unpack("<f", raw)[0]
    return value
