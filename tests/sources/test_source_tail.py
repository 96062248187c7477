"""Live-append tests of the file tailer: a real writer (thread or process), exact counts."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

from srchelp import dedupe_factory, lines, make_source, parser_of, poll_until, steps_of

from lrwatch.records import Record
from lrwatch.sources.tail import FLUSH, RESTART, FileTail


def _write_chunked(path: Path, data: bytes, seed: int = 0, mode: str = "ab") -> None:
    """Append ``data`` in random small pieces, flushing each (lines split anywhere)."""
    rng = random.Random(seed)
    with open(path, mode, buffering=0) as f:
        i = 0
        while i < len(data):
            n = rng.randint(1, 37)
            f.write(data[i : i + n])
            i += n
            if rng.random() < 0.05:
                time.sleep(0.001)


def _start(target, *args) -> threading.Thread:
    t = threading.Thread(target=target, args=args, daemon=True)
    t.start()
    return t


def test_appends_at_odd_chunk_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    path.write_bytes(b"")
    src = make_source(str(path))
    out: list[Record] = []
    writer = _start(_write_chunked, path, lines(0, 3000))
    poll_until(src, out, lambda: not writer.is_alive() and len(out) >= 3000)
    assert steps_of(out) == list(range(3000))
    assert src.skipped == 0


def test_partial_last_line_is_held_back(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    path.write_bytes(b"1 1.0\n2 2.")
    src = make_source(str(path))
    assert steps_of(src.poll()) == [1]
    with open(path, "ab") as f:
        f.write(b"5\n")
    assert [r.values["loss"] for r in src.poll()] == [2.5]


def test_file_that_does_not_exist_yet(tmp_path: Path) -> None:
    path = tmp_path / "later.log"
    src = make_source(str(path))
    assert src.poll() == []  # waits, does not raise
    out: list[Record] = []
    writer = _start(_write_chunked, path, lines(0, 500))
    poll_until(src, out, lambda: not writer.is_alive() and len(out) >= 500)
    assert steps_of(out) == list(range(500))


def test_truncation_restarts_from_zero(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    src = make_source(str(path))
    out: list[Record] = []
    writer = _start(_write_chunked, path, lines(0, 500))
    poll_until(src, out, lambda: len(out) >= 500)
    writer.join()
    # The writer reopens with "w" (truncate) and writes a shorter stream: size shrinks.
    writer = _start(_write_chunked, path, lines(500, 600), 1, "wb")
    poll_until(src, out, lambda: not writer.is_alive() and len(out) >= 600)
    assert steps_of(out) == list(range(600))
    assert parser_of(src).restarts == 1


_KEEPS_OFFSET_WRITER = """
import sys, time
path, first, total, gate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
import os
f = open(path, "wb", buffering=0)  # no O_APPEND: after a truncation it keeps its offset
for i in range(total):
    if i == first:
        print("paused", flush=True)
        while not os.path.exists(gate):
            time.sleep(0.005)
    f.write(b"%d %d.5\\n" % (i, i))
print("done", flush=True)
"""


def test_copytruncate_with_nul_padding(tmp_path: Path) -> None:
    """logrotate copytruncate while the writer keeps its offset: NULs, then new lines."""
    path, gate = tmp_path / "train.log", tmp_path / "gate"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KEEPS_OFFSET_WRITER, str(path), "400", "1000", str(gate)],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"paused\n"
    src = make_source(str(path))
    out: list[Record] = []
    poll_until(src, out, lambda: len(out) >= 400)
    shutil.copyfile(path, tmp_path / "train.log.1")
    os.truncate(path, 0)
    gate.touch()
    assert proc.stdout.readline() == b"done\n"
    proc.wait()
    poll_until(src, out, lambda: len(out) >= 1000)
    assert steps_of(out) == list(range(1000))
    assert src.skipped == 0  # the NUL run is not counted as junk
    assert path.read_bytes().startswith(b"\0" * 100)
    assert parser_of(src).restarts == 1


def test_copytruncate_seen_only_after_the_writer_went_on(tmp_path: Path) -> None:
    """The file is already longer than before when polled: the NUL head gives it away."""
    path = tmp_path / "train.log"
    f = open(path, "wb", buffering=0)  # noqa: SIM115 - kept open across the truncation
    f.write(lines(0, 100))
    src = make_source(str(path))
    first = src.poll()
    os.truncate(path, 0)
    f.write(lines(100, 300))  # at the old offset: NULs fill the start
    f.close()
    assert os.path.getsize(path) > len(lines(0, 100))
    assert steps_of(first + src.poll()) == list(range(300))
    assert src.skipped == 0


def test_rename_rotation_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "train.log"
    path.write_bytes(lines(0, 1))
    src = make_source(str(path))
    out = src.poll()

    def rotate() -> None:
        with open(path, "ab", buffering=0) as old:
            old.write(lines(1, 500))
            os.rename(path, tmp_path / "train.log.1")
            old.write(lines(500, 600))  # still writing to the renamed file, as logging does
        _write_chunked(path, lines(600, 1000), 2)

    writer = _start(rotate)
    poll_until(src, out, lambda: not writer.is_alive() and len(out) >= 1000)
    assert steps_of(out) == list(range(1000))
    assert src._tail.rotations == 1
    assert parser_of(src).flushes == 1


def test_in_place_rewrite_same_inode_detected_by_fingerprint(tmp_path: Path) -> None:
    """Content replaced without the size shrinking between polls (a wider header, more rows)."""
    path = tmp_path / "metrics.log"
    path.write_bytes(b"# step loss\n" + lines(0, 50))
    ino = path.stat().st_ino
    src = make_source(str(path))
    first = src.poll()
    assert steps_of(first) == list(range(50))
    new = b"# step loss lr (wider header)\n" + lines(0, 80)
    with open(path, "r+b") as f:
        f.write(new)
    assert path.stat().st_ino == ino
    again = src.poll()
    assert steps_of(again) == list(range(80))  # re-fed from byte 0; the parser dedupes
    assert parser_of(src).restarts == 1
    assert src.poll() == []


def test_live_in_place_rewrites_by_a_writer_thread(tmp_path: Path) -> None:
    """A writer that rewrites the whole file (same inode) as it grows, like Lightning's CSV."""
    path = tmp_path / "metrics.log"
    path.write_bytes(b"")
    src = make_source(str(path), parser_factory=dedupe_factory)

    def rewrite() -> None:
        rng = random.Random(5)
        for n in range(110, 310, 10):
            with open(path, "r+b") as f:
                f.write(b"# header %d\n" % n + lines(0, n))
                f.truncate()
            time.sleep(rng.random() * 0.01)

    out: list[Record] = []
    writer = _start(rewrite)
    poll_until(src, out, lambda: not writer.is_alive() and len(out) >= 300)
    assert steps_of(out) == list(range(300))  # each step once, none lost
    assert src.skipped == 0
    assert parser_of(src).restarts >= 1


def test_reads_in_bounded_chunks_across_polls(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    data = lines(0, 20000)
    path.write_bytes(data)
    tail = FileTail(str(path), chunk=4096)
    items = list(tail.poll(budget=len(data) // 3))
    assert all(isinstance(i, bytes) and len(i) <= 4096 for i in items)
    got = b"".join(items) + b"".join(b for b in tail.poll(len(data)) if isinstance(b, bytes))
    assert got == data


def test_tail_markers_on_rotation(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_bytes(b"old\n")
    tail = FileTail(str(path))
    assert list(tail.poll(1 << 20)) == [b"old\n"]
    os.rename(path, tmp_path / "a.log.1")
    path.write_bytes(b"new\n")
    assert list(tail.poll(1 << 20)) == [FLUSH, RESTART, b"new\n"]
    tail.close()


def test_binary_garbage_never_raises(tmp_path: Path) -> None:
    path = tmp_path / "junk.log"
    path.write_bytes(bytes(random.Random(3).randrange(256) for _ in range(200_000)))
    src = make_source(str(path), follow=False)
    out: list[Record] = []
    while not src.done:
        out += src.poll()
    assert src.skipped > 0


def test_small_poll_budgets_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    path.write_bytes(lines(0, 5000))
    src = make_source(str(path), follow=False)
    out: list[Record] = []
    polls = 0
    while not src.done:
        out += src.poll(budget=1000)
        polls += 1
    assert steps_of(out) == list(range(5000))
    assert polls > 40


class _Recorder:
    """Keeps every byte it is fed (a stand-in for a binary format's parser)."""

    skipped = 0
    steps_inferred = False

    def __init__(self, names: object = None) -> None:
        self.data = b""

    def feed(self, data: bytes) -> list[Record]:
        self.data += data
        return []

    def flush(self) -> list[Record]:
        return []

    def restart(self) -> None:
        self.data = b""


def test_nul_bytes_are_data_in_binary_formats_and_padding_in_text(tmp_path: Path) -> None:
    raw = b"\0\0\x18\0\0\0abc\0def\n\0"
    path = tmp_path / "x.bin"
    path.write_bytes(raw)
    binary = make_source(
        str(path), fmt="tfevents", parser_factory=lambda f, names=None: _Recorder()
    )
    text = make_source(str(path), fmt="steps", parser_factory=lambda f, names=None: _Recorder())
    binary.poll()
    text.poll()
    assert parser_of(binary).data == raw
    assert parser_of(text).data == b"\x18abcdef\n"
