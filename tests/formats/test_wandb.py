"""W&B run files written by the real wandb library (offline mode), read without wandb.

The ``.wandb`` files are made once per module by a wandb subprocess: the test process never
imports wandb, as lrwatch does not.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from lrwatch.formats import detect, make_parser
from lrwatch.formats.wandb import BLOCK, FILE_HEADER, WandbParser
from lrwatch.records import Event
from lrwatch.sources import RunSource
from lrwatch.sources.naming import candidate, is_log_name

from .helpers import canon, events, feed_all, metrics, random_sizes

# wandb writes the files in a subprocess; it is in the test extra, so a missing one fails here.
assert importlib.util.find_spec("wandb"), "wandb writes these files: pip install -e '.[test]'"

#: Keys of the one history row that is longer than a 32 KiB block (FIRST/MIDDLE/LAST pieces).
WIDE = 3000

_WRITER = r"""
import math, wandb
settings = wandb.Settings(console="off", x_disable_stats=True, x_disable_meta=True,
                          x_disable_machine_info=True, disable_git=True, save_code=False)
run = wandb.init(project="lrwatch-test", name="healthy", config={"lr": 0.001, "batch": 8},
                 settings=settings)
for i in range(5):  # implicit steps 0..4
    run.log({"train/loss": 2.0 - i / 4, "learning_rate": (i + 1) / 1024})
# an explicit step, committed at once; a nested dict; a string
run.log({"train/loss": math.nan, "val": {"loss": 1.5, "acc": 0.25}, "note": "text"},
        step=10, commit=True)
# implicit again (11): inf values, a dict with no number, a histogram (media)
run.log({"grad_norm": math.inf, "neg": -math.inf, "opt": {"name": "adam"},
         "hist": wandb.Histogram([1, 2, 3])})
run.log({"wide": {str(k): k / 4 for k in range(%(wide)d)}})  # 12, longer than a block
run.log({"train/loss": 0.5}, step=20)
run.finish()
run = wandb.init(project="lrwatch-test", name="crashing", settings=settings)
run.log({"loss": 3.0})
run.finish(exit_code=3)
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two run files, by display name: ``healthy`` and ``crashing``."""
    root = tmp_path_factory.mktemp("wandb")
    env = dict(os.environ)
    env.update(
        WANDB_MODE="offline",
        WANDB_DIR=str(root),
        WANDB_SILENT="true",
        WANDB_CONFIG_DIR=str(root / "config"),
        WANDB_CACHE_DIR=str(root / "cache"),
        WANDB_DATA_DIR=str(root / "data"),
    )
    script = _WRITER % {"wide": WIDE}
    subprocess.run([sys.executable, "-c", script], env=env, check=True, timeout=120, cwd=root)
    found = list((root / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(found) == 2, found
    # Not by folder name: both runs can start in the same second, and then their folders
    # sort by their random ids. The healthy run logs a row wider than a block; the other one row.
    crashing, healthy = sorted(found, key=lambda p: p.stat().st_size)
    return {"healthy": healthy, "crashing": crashing}


@pytest.fixture(scope="module")
def healthy(runs: dict[str, Path]) -> bytes:
    return runs["healthy"].read_bytes()


def _read(data: bytes, sizes: list[int] | None = None) -> tuple[list, WandbParser]:
    p = WandbParser()
    return feed_all(p, data, sizes), p


def test_reads_exactly_what_was_logged(healthy: bytes) -> None:
    recs, p = _read(healthy)
    assert p.skipped == 0 and not p.steps_inferred
    assert healthy.startswith(FILE_HEADER) and len(healthy) > BLOCK
    rows = {m.step: m.values for m in metrics(recs)}
    assert sorted(rows) == [0, 1, 2, 3, 4, 10, 11, 12, 20]
    for i in range(5):
        assert rows[i] == {"loss": 2.0 - i / 4, "lr": (i + 1) / 1024}
    at10 = rows[10]
    assert set(at10) == {"loss", "val_loss", "val/acc"}  # "note" is text
    assert math.isnan(at10["loss"]) and at10["val_loss"] == 1.5 and at10["val/acc"] == 0.25
    assert rows[11] == {"grad_norm": math.inf, "neg": -math.inf}  # no opt/..., no hist/...
    assert rows[12] == {f"wide/{k}": k / 4 for k in range(WIDE)}
    assert rows[20] == {"loss": 0.5}
    times = [m.t for m in metrics(recs)]
    assert all(t is not None and t > 1.7e9 for t in times) and times == sorted(times)


def test_run_and_end_events(runs: dict[str, Path], healthy: bytes) -> None:
    recs, _ = _read(healthy)
    assert isinstance(recs[0], Event) and recs[0].kind == "run"
    head = recs[0].data
    assert head["run"] == head["name"] == "healthy" and head["project"] == "lrwatch-test"
    assert head["id"] == runs["healthy"].stem.removeprefix("run-")
    assert head["config"] == {"lr": 0.001, "batch": 8}
    assert recs[0].t is not None and recs[0].t <= metrics(recs)[0].t  # type: ignore[operator]
    assert isinstance(recs[-1], Event) and recs[-1].kind == "end"
    assert recs[-1].data["status"] == "finished" and recs[-1].step == 20
    crashed, p = _read(runs["crashing"].read_bytes())
    assert p.skipped == 0 and [m.values for m in metrics(crashed)] == [{"loss": 3.0}]
    assert events(crashed, "end")[0].data == {"status": "crashed", "exit_code": 3}


def test_any_chunking_gives_the_same_records(healthy: bytes) -> None:
    whole = canon(_read(healthy)[0])
    for seed, hi in ((0, 7), (1, 300), (2, 9000), (3, 70000)):
        recs, p = _read(healthy, random_sizes(seed, hi=hi))
        assert canon(recs) == whole and p.skipped == 0, (seed, hi)
    p = WandbParser()
    assert canon(p.feed(healthy)) == whole
    p.restart()  # the same file again from byte 0
    assert canon(p.feed(healthy)) == whole and p.skipped == 0


def test_half_written_record_is_held_then_completed(tmp_path: Path, healthy: bytes) -> None:
    """Append-while-reading: the file is copied in two parts under a live RunSource."""
    whole = canon(_read(healthy)[0])
    # Mid-way through a small piece; inside the FIRST piece of the wide row; inside its LAST.
    for cut in (500, BLOCK - 100, BLOCK + 1000):
        path = tmp_path / f"cut{cut}" / "run-abc.wandb"
        path.parent.mkdir()
        path.write_bytes(healthy[:cut])
        src = RunSource(str(path), "run-abc", follow=True)
        first = src.poll()
        assert src.format == "wandb" and src.skipped == 0
        assert canon(first) == whole[: len(first)] and len(first) < len(whole)
        with path.open("ab") as f:
            f.write(healthy[cut:])
        rest = _poll_until_end(src)
        src.close()
        assert canon(first + rest) == whole and src.skipped == 0, cut


def _poll_until_end(src: RunSource) -> list:
    """Poll until the ``end`` event arrives (a deadline, not a sleep, bounds it)."""
    out: list = []
    deadline = time.monotonic() + 30
    while not events(out, "end"):
        assert time.monotonic() < deadline, "end event never read"
        out += src.poll()
    return out


def test_corrupt_piece_is_counted_and_reading_resumes(healthy: bytes) -> None:
    whole = _read(healthy)[0]
    data = bytearray(healthy)
    # The first history row (step 0): a bad checksum loses the rest of block 0 only.
    row0 = data.find(b"train/loss")
    data[row0] ^= 0xFF
    recs, p = _read(bytes(data))
    assert p.skipped == 1
    steps = [m.step for m in metrics(recs)]
    # Pieces of the wide summary record at the next boundaries are dropped uncounted; the
    # wide history row starts a FIRST piece in block 2.
    assert 0 not in steps and steps[-2:] == [12, 20]
    assert canon(recs[-3:]) == canon(whole[-3:])
    # A length that runs past the block end is refused the same way, in any chunking.
    data = bytearray(healthy)
    data[7 + 4 : 7 + 6] = struct.pack("<H", 0xFFFF)  # the first piece's length
    for sizes in (None, random_sizes(4, hi=50)):
        recs, p = _read(bytes(data), sizes)
        assert p.skipped == 1 and events(recs, "end") and not events(recs, "run")


def test_junk_is_counted_never_raised() -> None:
    def piece(payload: bytes) -> bytes:
        return (
            struct.pack("<IHB", zlib.crc32(payload, zlib.crc32(b"\x01")), len(payload), 1) + payload
        )

    for junk in (b"\0" * 100, b"junk" * 5000, FILE_HEADER + b"\xff" * 40000):
        p = WandbParser()
        assert feed_all(p, junk, [3, 1000]) == [] and p.skipped >= 1
    bad = piece(b"\x12\x05")  # a history field longer than the record
    p = WandbParser()
    assert feed_all(p, FILE_HEADER + bad + piece(b"\x08\x01")) == [] and p.skipped == 1
    p = WandbParser()
    assert feed_all(p, FILE_HEADER + bad[:-1]) == [] and p.skipped == 1  # half a piece at EOF


def test_detection_naming_and_binary_source(tmp_path: Path, runs: dict[str, Path]) -> None:
    path = runs["healthy"]
    head = path.read_bytes()[:65536]
    assert detect(str(path), b"") == "wandb" and detect("renamed.bin", head) == "wandb"
    assert isinstance(make_parser("wandb"), WandbParser)
    assert is_log_name(path.name) and candidate(str(path), 0) == path.stem
    # Found by its magic under another name: still binary, its NUL bytes are data.
    other = tmp_path / "transaction.log"
    shutil.copy(path, other)
    src = RunSource(str(other), "x", follow=False)
    recs = src.poll()
    assert src.format == "wandb" and src.skipped == 0 and len(metrics(recs)) == 9


def test_inspect_end_to_end(runs: dict[str, Path]) -> None:
    run_dir = runs["healthy"].parent
    out = subprocess.run(
        [sys.executable, "-m", "lrwatch", "inspect", "--json", str(run_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    found = [r for r in json.loads(out.stdout)["runs"] if r["format"] == "wandb"]
    assert len(found) == 1
    run = found[0]
    assert run["name"] == runs["healthy"].stem and run["skipped_lines"] == 0
    assert run["steps"] == [0, 20] and run["events"] == {"run": 1, "end": 1}
    loss = run["metrics"]["loss"]
    assert loss["count"] == 7 and loss["nonfinite"] == 1 and loss["last"] == 0.5
    assert run["metrics"]["lr"]["count"] == 5 and run["metrics"]["wide/2999"]["last"] == 749.75
