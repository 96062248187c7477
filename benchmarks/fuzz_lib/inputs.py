"""Mutated real logs for every format's parser, seeded.

The seeds are the real logs in ``tests/fixtures/`` and ``tests/fixtures/real/`` (HF Trainer,
Lightning, Keras, nanoGPT, llm.c, mmengine, detectron2, YOLO, TensorBoard, W&B, ...). Input
``i`` of seed ``s`` is always the same bytes: a format from :data:`lrwatch.formats.FORMATS` (in
turn, so every format gets its share), a real log (mostly of that format, sometimes of another),
and one to three mutations: byte and bit flips, truncations, splices, duplicated / dropped /
shuffled lines, huge numbers, deep nesting, invalid UTF-8, NULs, over-long lines, CR/CRLF,
repeated regions and corrupt binary lengths.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lrwatch.formats import FORMATS, detect

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
#: Fixture files that are not logs.
NOT_LOGS = ("SOURCES.md", "expected.json", "drivers/")
#: No mutated input grows past this.
MAX_INPUT = 4 << 20
_NUMBER = re.compile(rb"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


@dataclass(frozen=True, slots=True)
class Seed:
    """A real log and the format it is read as."""

    name: str
    fmt: str
    data: bytes


@dataclass(frozen=True, slots=True)
class FuzzInput:
    """One mutated input for one format's parser."""

    index: int
    fmt: str
    source: str
    mutations: tuple[str, ...]
    data: bytes


@cache
def seeds() -> tuple[Seed, ...]:
    """Every fixture log, with its detected format (``text`` when nothing fits)."""
    out = []
    for path in sorted(FIXTURES.rglob("*")):
        rel = path.relative_to(FIXTURES).as_posix()
        if not path.is_file() or any(part in rel for part in NOT_LOGS):
            continue
        data = path.read_bytes()
        out.append(Seed(rel, detect(str(path), data[:65536]) or "text", data))
    return tuple(out)


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


def flip_bytes(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Random bytes overwritten."""
    buf = bytearray(data or b"\0")
    for _ in range(rng.randint(1, 16)):
        buf[rng.randrange(len(buf))] = rng.randrange(256)
    return bytes(buf)


def flip_bits(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Single bits flipped."""
    buf = bytearray(data or b"\0")
    for _ in range(rng.randint(1, 8)):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
    return bytes(buf)


def truncate(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Cut at a random point: the end, or the start (reading from mid-record)."""
    cut = rng.randrange(len(data) + 1)
    return data[:cut] if rng.random() < 0.6 else data[cut:]


def splice(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """The head of one log joined to the tail of another (or of itself)."""
    src = other if rng.random() < 0.5 else data
    return data[: rng.randrange(len(data) + 1)] + src[rng.randrange(len(src) + 1) :]


def dup_lines(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Some lines repeated, a few of them many times."""
    lines = _lines(data)
    for _ in range(rng.randint(1, 10)):
        i = rng.randrange(len(lines))
        lines[i:i] = [lines[i]] * rng.choice([1, 2, 50])
    return b"\n".join(lines)


def drop_lines(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Random lines removed (the header, often)."""
    lines = _lines(data)
    for _ in range(rng.randint(1, max(1, len(lines) // 4))):
        if lines:
            del lines[rng.randrange(len(lines))]
    return b"\n".join(lines)


def shuffle_lines(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """A window of lines in random order (steps going backwards)."""
    lines = _lines(data)
    i = rng.randrange(len(lines))
    window = lines[i : i + rng.randint(2, 40)]
    rng.shuffle(window)
    lines[i : i + len(window)] = window
    return b"\n".join(lines)


def huge_numbers(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Numbers replaced by ones no float holds, past the int-parsing cap, NaN, Inf."""
    big = [b"1" + b"0" * 400, b"-" + b"9" * 1000, b"1" * 5000, b"1e999", b"-1e400", b"1e-400"]
    big += [b"nan", b"NaN", b"inf", b"-Infinity", b"0x1p1024", b"1_000", b"9" * 20]
    count = rng.randint(1, 20)
    return _NUMBER.sub(lambda m: rng.choice(big) if rng.random() < 0.3 else m[0], data, count)


def deep_nesting(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """A line of nesting far past any recursion limit, inserted or replacing a value."""
    depth = rng.choice([100, 1000, 100_000])
    opener, closer = rng.choice([(b"[", b"]"), (b'{"a":', b"}"), (b"{'a': ", b"}"), (b"(", b")")])
    deep = opener * depth + b"1" + closer * depth
    if rng.random() < 0.5:
        return _insert_line(rng, data, deep)
    return _NUMBER.sub(lambda m: deep, data, 1)


def _insert_line(rng: random.Random, data: bytes, line: bytes) -> bytes:
    lines = _lines(data)
    lines.insert(rng.randrange(len(lines) + 1), line)
    return b"\n".join(lines)


def invalid_utf8(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Bytes that are not UTF-8 (lone continuation, overlong, surrogates, cut sequences)."""
    bad = [b"\xff", b"\xfe\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\x80", b"\xf8\x88"]
    buf = data
    for _ in range(rng.randint(1, 10)):
        i = rng.randrange(len(buf) + 1)
        buf = buf[:i] + rng.choice(bad) + buf[i:]
    return buf


def nuls(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """NUL bytes inserted, or a region zeroed (a crash mid-write on some filesystems)."""
    i = rng.randrange(len(data) + 1)
    if rng.random() < 0.5:
        return data[:i] + b"\0" * rng.choice([1, 7, 4096]) + data[i:]
    n = rng.randint(1, 8192)
    return data[:i] + b"\0" * min(n, len(data) - i) + data[i + n :]


def long_line(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """A line longer than the parsers' 1 MiB cap (or just under it), with or without a newline."""
    size = rng.choice([(1 << 20) - 1, (1 << 20) + 1, 3 << 20])
    filler = rng.choice([b"x", b"{", b"1,", b"loss: 1 "])
    line = (filler * (size // len(filler) + 1))[:size]
    return _insert_line(rng, data, line) if rng.random() < 0.7 else data + line


def line_ends(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """CRLF, bare CR (tqdm redraws) or no newline at the end."""
    choice = rng.randrange(3)
    if choice == 0:
        return data.replace(b"\n", b"\r\n")
    if choice == 1:
        return data.replace(b"\n", b"\r", rng.randint(1, 50))
    return data.rstrip(b"\n")


def repeat_region(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """A stretch of the log repeated many times (a stuck writer)."""
    i = rng.randrange(len(data) + 1)
    region = data[i : i + rng.randint(1, 512)] or b"\n"
    times = min(rng.choice([10, 1000, 20_000]), MAX_INPUT // (2 * len(region)))
    return data[:i] + region * times + data[i:]


def binary_lengths(rng: random.Random, data: bytes, other: bytes) -> bytes:
    """Length-like fields (8 or 4 bytes, varints) set to huge, zero or negative values."""
    buf = bytearray(data or b"\0" * 16)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(buf))
        patch = rng.choice([b"\xff" * 8, b"\0" * 8, b"\xff\xff\xff\x7f", b"\x80" * 10, b"\x01"])
        buf[i : i + len(patch)] = patch
    return bytes(buf)


MUTATORS: dict[str, Callable[[random.Random, bytes, bytes], bytes]] = {
    f.__name__: f
    for f in (
        flip_bytes, flip_bits, truncate, splice, dup_lines, drop_lines, shuffle_lines,
        huge_numbers, deep_nesting, invalid_utf8, nuls, long_line, line_ends, repeat_region,
        binary_lengths,
    )
}  # fmt: skip


def make_input(seed: int, index: int) -> FuzzInput:
    """Input ``index`` of the corpus ``seed``: the same bytes every time."""
    rng = random.Random(seed * 1_000_003 + index)
    fmts = sorted(FORMATS)
    fmt = fmts[index % len(fmts)]
    pool = seeds()
    native = [s for s in pool if s.fmt == fmt]
    src = rng.choice(native) if native and rng.random() < 0.8 else rng.choice(pool)
    other = rng.choice(pool).data
    data, names = src.data, []
    for _ in range(rng.choice([1, 1, 2, 3])):
        name = rng.choice(sorted(MUTATORS))
        data = MUTATORS[name](rng, data, other)[:MAX_INPUT]
        names.append(name)
    return FuzzInput(index, fmt, src.name, tuple(names), data)


def chunk_sizes(seed: int, index: int) -> list[int]:
    """The read sizes a tailer might use for input ``index``: tiny to 64 KiB."""
    rng = random.Random(seed * 7919 + index)
    return [rng.choice([1, 3, 17, 512, 4096, 65536]) for _ in range(rng.randint(1, 6))]
