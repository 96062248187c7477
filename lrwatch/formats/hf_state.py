"""Hugging Face ``trainer_state.json``: one JSON document whose ``log_history`` has real steps.

The trainer rewrites the whole file at every checkpoint, so the parser reads the document once
it is complete (on a feed that completes it, or on flush) and, after a restart, emits only
the ``log_history`` entries it has not emitted before.
"""

from __future__ import annotations

from typing import Any

import msgspec

from lrwatch.formats.base import Parser, metrics_from_mapping
from lrwatch.formats.hf import SUMMARY_KEYS
from lrwatch.records import STEP_KEYS, Event, Metrics, NameMap, Record

#: A trainer_state.json larger than this is not read (it would be a runaway file).
MAX_DOCUMENT = 256 << 20


class HfStateParser(Parser):
    """``trainer_state.json`` files, read whole and re-read on every rewrite."""

    name = "hf_state"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        self._buf = bytearray()
        self._emitted: set[bytes] = set()
        self._decoder = msgspec.json.Decoder()

    def feed(self, data: bytes) -> list[Record]:
        """Collect the document; parse it as soon as it is complete."""
        try:
            self._buf += data
            if len(self._buf) > MAX_DOCUMENT:
                self.skipped += 1
                self._buf.clear()
                return []
            if not self._buf.rstrip().endswith(b"}"):
                return []
            return self._try_parse(final=False)
        except Exception:
            self.skipped += 1
            self._buf.clear()
            return []

    def flush(self) -> list[Record]:
        """End of input: a document still incomplete is counted as skipped."""
        try:
            return self._try_parse(final=True) if self._buf.strip() else []
        except Exception:
            self.skipped += 1
            return []
        finally:
            self._buf.clear()

    def restart(self) -> None:
        """The trainer rewrote the file: read it again, emitting only new entries."""
        self._buf.clear()

    def _try_parse(self, final: bool) -> list[Record]:
        try:
            doc = self._decoder.decode(bytes(self._buf))
        except msgspec.DecodeError:
            if final:
                self.skipped += 1
            return []
        self._buf.clear()
        history = doc.get("log_history") if isinstance(doc, dict) else None
        if not isinstance(history, list):
            self.skipped += 1
            return []
        out: list[Record] = []
        for entry in history:
            self._entry(entry, out)
        return out

    def _entry(self, entry: Any, out: list[Record]) -> None:
        if not isinstance(entry, dict):
            self.skipped += 1
            return
        key = msgspec.json.encode(entry)
        if key in self._emitted:
            return
        self._emitted.add(key)
        step, t, values = metrics_from_mapping(entry, self.names, STEP_KEYS)
        if not values:
            return
        if step is None:
            self.skipped += 1
            return
        if SUMMARY_KEYS & entry.keys():
            raw = {
                k: float(v)
                for k, v in entry.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            out.append(Event("summary", raw, step, t))
            return
        out.append(Metrics(step, values, t))
