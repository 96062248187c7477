"""The scalar fast path of the TensorBoard reader: known byte layouts of one-scalar events.

PyTorch's ``SummaryWriter``, Lightning's ``TensorBoardLogger`` and TF1 writers log each scalar
as its own event, always laid out the same way::

    09 <wall_time: 8 bytes>  [10 <step: varint>]  2a L1 0a L2 0a Lt <tag> 15 <value: 4 bytes>

(``step`` is left out when it is 0). Everything after the step up to the float (the *suffix*)
is the same bytes for every event of a tag, so a dict lookup on that slice both checks the
layout and names the metric. A suffix only enters the table after the general decoder has
read an event of that tag and the suffix has been checked to be the canonical encoding of
``summary{value{tag, simple_value}}`` built from the tag alone (:func:`scalar_suffix`):
whatever bytes match it decode, field by field, to what the general decoder gives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from lrwatch.formats import _protobuf as pb

#: Most layouts (tags) remembered; events of further tags take the general decoder.
MAX_LAYOUTS = 4096
#: Longest step varint the fast path decodes (8 bytes: < 2**56, always a valid step).
MAX_STEP_BYTES = 8


def encode_varint(value: int) -> bytes:
    """Minimal base-128 varint of a non-negative int."""
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def scalar_suffix(tag: bytes) -> bytes:
    """The bytes between the step and the float of a one-``simple_value`` event of ``tag``."""
    value = b"\x0a" + encode_varint(len(tag)) + tag + b"\x15"  # Value: tag, key of simple_value
    inner = len(value) + 4  # ... and its 4 float bytes
    summary_len = 1 + len(encode_varint(inner)) + inner  # Summary: one Value (field 1)
    return b"\x2a" + encode_varint(summary_len) + b"\x0a" + encode_varint(inner) + value


def suffix_start(payload: bytes) -> int:
    """Offset of the summary field (where the suffix begins) of a ``09 [10 step] 2a`` event,
    or -1 when the event does not start that way or its step varint is too long."""
    if len(payload) < 10 or payload[0] != 0x09:
        return -1
    if payload[9] == 0x2A:
        return 9
    if payload[9] != 0x10:
        return -1
    for i in range(10, min(10 + MAX_STEP_BYTES, len(payload))):
        if payload[i] < 0x80:
            return i + 1
    return -1


def learn(payload: bytes, layouts: dict[bytes, str], names: Callable[[str], str]) -> None:
    """Remember ``payload``'s suffix if it is the one-scalar layout (else do nothing)."""
    if len(layouts) >= MAX_LAYOUTS:
        return
    q = suffix_start(payload)
    if q < 0 or len(payload) < q + 4:
        return
    try:
        summary = list(pb.fields(payload[q:]))
        if len(summary) != 1 or summary[0][:2] != (5, 2):
            return
        # Wire type 2 (checked): length-delimited, so the value is bytes.
        values = list(pb.fields(cast(bytes, summary[0][2])))
        if len(values) != 1 or values[0][:2] != (1, 2):
            return
        parts = list(pb.fields(cast(bytes, values[0][2])))
    except (ValueError, IndexError):
        return
    if len(parts) != 2 or parts[0][:2] != (1, 2) or parts[1][:2] != (2, 5):
        return
    tag = bytes(parts[0][2])
    suffix = scalar_suffix(tag)
    if payload[q:-4] == suffix:
        layouts[suffix] = names(tag.decode("utf-8", "replace"))
