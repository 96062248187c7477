"""Guess a log's format from its name and its first bytes."""

from __future__ import annotations

import os
import re

_TQDM = re.compile(rb"\d+/\d+ \[\d")
_HF_METRICS = re.compile(
    rb"\{'(?:loss|eval_[\w/.-]+|train_runtime|learning_rate|grad_norm|epoch)': "
)
_CSV_HEADER = re.compile(rb"^[\w./ -]+(,[\w./ -]+)+\r?$")
_CSV_STEP_COLUMNS = {b"step", b"epoch", b"global_step", b"iter", b"iteration"}


def detect(path: str, head: bytes) -> str | None:
    """The format name of the file at ``path`` whose first bytes are ``head``.

    Returns ``None`` when nothing fits (the caller reads it as ``text``). The file name decides
    first (``*.tfevents*``, ``*.wandb``, ``trainer_state.json``, ``*.csv``, ``*.jsonl``), then
    the content.
    """
    base = os.path.basename(path).lower()
    if "tfevents" in base:
        return "tfevents"
    if base.endswith(".wandb"):
        return "wandb"
    if base == "trainer_state.json" or base.endswith("trainer_state.json"):
        return "hf_state"
    if base.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    if base.endswith(".csv"):
        return "csv"
    return sniff(head)


def sniff(head: bytes) -> str | None:
    """The format of a log from its first bytes alone, or ``None``."""
    if _is_tfrecord(head):
        return "tfevents"
    if head.startswith(b":W&B"):  # W&B run file header (ident, magic 0xBEE1, version)
        return "wandb"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{") and b'"log_history"' in head:
        return "hf_state"
    lines = [ln.strip() for ln in head.split(b"\n")[:200] if ln.strip()]
    if lines and len(head) == 65536 and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut off by the 64 KiB limit
    objects = sum(ln.startswith((b'{"', b'{ "')) and ln.endswith(b"}") for ln in lines)
    if lines and objects * 2 > len(lines):
        return "jsonl"
    if _HF_METRICS.search(head):
        # A Trainer's logged dicts carry loss/epoch/eval_ keys; a dict printed at the top of
        # a text log (a config) must not make the whole log "hf", whose reader skips the rest.
        return "hf"
    if lines and _CSV_HEADER.match(lines[0]):
        width = lines[0].count(b",")
        if len(lines) > 1 and all(ln.count(b",") == width for ln in lines[1:20]):
            return "csv"
        columns = {c.strip().lower() for c in lines[0].split(b",")}
        if len(lines) == 1 and columns & _CSV_STEP_COLUMNS:
            return "csv"  # only the header is written yet (a live log just started)
    return None


def _is_tfrecord(head: bytes) -> bool:
    """TFRecord framing: little-endian uint64 length, 4-byte CRC, then an Event protobuf."""
    if len(head) < 16:
        return False
    length = int.from_bytes(head[:8], "little")
    # An Event starts with field 1 (wall_time, fixed64): tag byte 0x09.
    return 0 < length < 1 << 24 and head[12] == 0x09
