"""The parser interface every log format implements, and the shared line-buffering base.

A parser is fed the bytes a file gains, in whatever chunks the tailer reads, and returns the
records that became complete. It never raises on bad input: what it cannot read it counts in
``skipped``. Feeding the same bytes in any chunking yields the same records.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from lrwatch.formats._held import Held
from lrwatch.records import (
    DEFAULT_NAMES,
    TIME_KEYS,
    AnyRecord,
    Event,
    Metrics,
    NameMap,
    Record,
    to_float,
)

#: Longest line a line-based parser reads; longer ones are dropped and counted as skipped.
MAX_LINE = 1 << 20

#: A time value below this is a duration (seconds, ms), not a wall-clock time since the epoch.
MIN_WALL_TIME = 1e8


class Parser(ABC):
    """Base class of all format parsers: one instance per run (file)."""

    name: ClassVar[str] = "base"

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        self.names = names if names is not None else DEFAULT_NAMES
        self.options = options
        self.skipped = 0
        self.steps_inferred = False
        #: The first few lines that held something but gave no record (text formats).
        self.unread: list[str] = []

    @abstractmethod
    def feed(self, data: bytes) -> list[AnyRecord]:
        """Parse newly appended bytes; a partial last line/record is held back."""

    @property
    def copied(self) -> int:
        """Bytes copied so far while holding partial input back between feeds.

        A measure, not a time: tests feed an input one byte at a time and check that it stays
        within a small multiple of the input's size (no copy of the held bytes per chunk).
        """
        held = getattr(self, "_held", None)
        return held.copied if isinstance(held, Held) else 0

    def flush(self) -> list[AnyRecord]:
        """End of input: parse whatever was held back (a file without a final newline)."""
        return []

    @abstractmethod
    def restart(self) -> None:
        """The file was truncated or replaced: it will be fed again from byte 0."""


class LineParser(Parser):
    """A parser of newline-separated records: buffering, line-length cap, never-raise guard.

    Subclasses implement :meth:`_parse_line` (one line, without its newline) or override
    :meth:`_parse_block` (many complete lines at once, for speed).
    """

    #: Treat ``\r`` as a line end too (tqdm redraws a line with ``\r`` for minutes on end).
    cr_is_newline: ClassVar[bool] = False

    def __init__(self, names: NameMap | None = None, **options: Any) -> None:
        super().__init__(names, **options)
        self.max_line = int(options.get("max_line", MAX_LINE))
        # The partial last line, held as its pieces: joined once, when its newline comes.
        self._held = Held()
        # True while dropping the rest of an oversized line up to its newline.
        self._discarding = False

    def feed(self, data: bytes) -> list[AnyRecord]:
        """Parse the complete lines in ``data`` (plus what was held back)."""
        try:
            return self._feed(bytes(data))
        except Exception:  # a parser bug must not take the tailer down: count and go on
            self.skipped += 1
            self._held.clear()
            return []

    def _feed(self, data: bytes) -> list[AnyRecord]:
        if self.cr_is_newline:
            data = data.replace(b"\r", b"\n")
        if self._discarding:
            nl = data.find(b"\n")
            if nl < 0:
                return []
            data = data[nl + 1 :]
            self._discarding = False
        # Only the new bytes are searched for a newline: the held ones have none.
        cut = data.rfind(b"\n")
        if cut < 0:
            self._hold(data)
            return []
        block = self._held.take(data[: cut + 1])
        self._hold(data[cut + 1 :])
        return self._parse_checked(block)

    def _hold(self, rest: bytes) -> None:
        """Keep a partial line, unless it is already too long to be a record."""
        if len(self._held) + len(rest) > self.max_line:
            self.skipped += 1
            self._discarding = True
            self._held.clear()
            return
        self._held.add(rest)

    def _parse_checked(self, block: bytes) -> list[AnyRecord]:
        """Parse complete lines, dropping (and counting) any longer than ``max_line``."""
        if len(block) <= self.max_line or not self._has_long_line(block):
            return self._parse_block(block)
        ok = []
        for line in block.split(b"\n"):
            if len(line) > self.max_line:
                self.skipped += 1
            else:
                ok.append(line)
        return self._parse_block(b"\n".join(ok))

    def _has_long_line(self, block: bytes) -> bool:
        """Whether some line is longer than ``max_line``, probing every ``max_line`` bytes.

        A line longer than the cap must cover one of the probe offsets, so looking at the
        line around each probe finds it without splitting the whole block.
        """
        cap = self.max_line
        for pos in range(cap, len(block), cap):
            start = block.rfind(b"\n", 0, pos) + 1
            end = block.find(b"\n", pos)
            if (len(block) if end < 0 else end) - start > cap:
                return True
        return False

    def flush(self) -> list[AnyRecord]:
        """Parse a final line that has no newline."""
        rest = self._held.take()
        self._discarding = False
        if not rest.strip():
            return []
        try:
            return self._parse_block(rest + b"\n")
        except Exception:
            self.skipped += 1
            return []

    def restart(self) -> None:
        """Forget the held-back partial line; subclasses reset their own state too."""
        self._held.clear()
        self._discarding = False

    def _parse_block(self, block: bytes) -> list[AnyRecord]:
        out: list[AnyRecord] = []
        for raw in block.split(b"\n"):
            if not raw.strip():
                continue
            try:
                rec = self._parse_line(raw)
            except Exception:
                self.skipped += 1
                continue
            if rec is not None:
                out.append(rec)
        return out

    def _parse_line(self, raw: bytes) -> Record | None:
        """One complete line (no newline) -> a record, or ``None`` when it holds none.

        Formats read line by line override this; the others override :meth:`_parse_block`.
        """
        return None


def wall_time(value: Any) -> float | None:
    """``value`` as a wall-clock time (seconds since the epoch), else ``None``."""
    t = to_float(value)
    if t is None or not math.isfinite(t) or t < MIN_WALL_TIME:
        return None
    return t


def as_step(value: Any) -> int | None:
    """``value`` as an integer step, else ``None`` (bools, NaN, negative, absurdly large)."""
    f = to_float(value)
    if f is None or not math.isfinite(f) or f < 0 or f >= 2**62:
        return None
    return int(f)


def metrics_from_mapping(
    obj: dict[str, Any],
    names: NameMap,
    step_keys: tuple[str, ...],
    null_is_nan: bool = True,
) -> tuple[int | None, float | None, dict[str, float]]:
    """Split a flat (or nested) mapping into step, wall time and canonical numeric values.

    Nested mappings are flattened with ``/`` (``{"train": {"loss": 1}}`` -> ``train/loss``).
    Non-numeric values (strings that are not numbers, lists, bools) are ignored; ``null`` is
    NaN when ``null_is_nan``. A time key whose value is not a wall-clock time stays a metric.
    """
    step: int | None = None
    step_key: str | None = None
    for key in step_keys:
        if key in obj:
            step = as_step(obj[key])
            if step is not None:
                step_key = key
                break
    t: float | None = None
    values: dict[str, float] = {}
    for key, value in _flatten(obj):
        if key == step_key:
            continue
        if t is None and key in TIME_KEYS:
            t = wall_time(value)
            if t is not None:
                continue
        if value is None:
            if null_is_nan:
                values[names(key)] = math.nan
            continue
        f = to_float(value)
        if f is not None:
            values[names(key)] = f
    return step, t, values


def _flatten(obj: dict[str, Any], prefix: str = "", depth: int = 0) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for key, value in obj.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            if depth < 4:
                out.extend(_flatten(value, name + "/", depth + 1))
        else:
            out.append((name, value))
    return out


__all__ = [
    "MAX_LINE",
    "MIN_WALL_TIME",
    "Event",
    "LineParser",
    "Metrics",
    "Parser",
    "Record",
    "as_step",
    "metrics_from_mapping",
    "wall_time",
]
