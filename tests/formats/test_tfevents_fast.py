"""The tfevents scalar fast path gives exactly what the general decoder gives.

Files come from ``torch.utils.tensorboard.SummaryWriter`` (scalars mixed with histograms,
images, text, NaN/Inf, tensor scalars) and from tensorboard's own ``EventFileWriter``; each is
read by the fast path and by the general decoder (``fast=False``), whole and in seeded random
chunk sizes, and the records and skip counts must match.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

import pytest
import torch.utils.tensorboard as torch_tb  # the test extra brings tensorboard, CI brings torch

from lrwatch.formats import _tfrecord
from lrwatch.formats.tfevents import TfeventsParser
from lrwatch.records import MetricBlock, Metrics, expand

from .helpers import canon, feed_all, fixture, metrics, random_sizes


def _single(tmp_path: Path) -> bytes:
    (path,) = tmp_path.glob("events.out.tfevents.*")
    return path.read_bytes()


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A SummaryWriter file: 4 scalars per step, NaN/Inf, histograms, images, text."""
    import numpy as np

    root = tmp_path_factory.mktemp("mixed")
    writer = torch_tb.SummaryWriter(log_dir=str(root))
    rng = np.random.default_rng(0)
    for step in range(120):
        writer.add_scalar("train/loss", 3.0 / (step + 1), step)
        writer.add_scalar("lr-AdamW", 1e-3 * (step + 1) / 120, step)  # Lightning's lr name
        writer.add_scalar("grad_norm", math.nan if step == 37 else 1.0 + step % 7, step)
        writer.add_scalar("val_loss", math.inf if step == 50 else -0.0, step)
        if step % 10 == 0:
            writer.add_histogram("weights", rng.normal(size=100), step)
            writer.add_image("sample", rng.random((3, 8, 8)), step)
            writer.add_text("note", f"step {step}", step)
            writer.add_scalar("new_style", 0.5 * step, step, new_style=True)
    for step in (2**21 - 1, 2**21, 2**35, 2**56 - 1, 2**56, 2**62 - 1):
        writer.add_scalar("train/loss", 0.25, step)  # step varints of 3 to 9 bytes
    writer.add_scalar("train/loss", 0.125, 0)  # step 0 again (field left out)
    writer.close()
    return _single(root)


def _both(data: bytes, sizes: list[int] | None = None, **options: bool) -> tuple[list, list]:
    fast, slow = TfeventsParser(**options), TfeventsParser(fast=False, **options)
    got_fast, got_slow = feed_all(fast, data, sizes), feed_all(slow, data, sizes)
    assert fast.skipped == slow.skipped
    return canon(list(expand(got_fast))), canon(list(expand(got_slow)))


def test_summary_writer_file_fast_equals_general(mixed: bytes) -> None:
    fast, slow = _both(mixed)
    assert fast == slow
    p = TfeventsParser()
    recs = metrics(feed_all(p, mixed))
    assert p.skipped == 0 and len(p._layouts) == 4  # the four plain scalar tags
    assert len(recs) == 120 * 4 + 12 + 7
    at = {(r.step, k): v for r in recs for k, v in r.values.items()}
    assert math.isnan(at[37, "grad_norm"]) and at[50, "val_loss"] == math.inf
    assert at[3, "lr"] == pytest.approx(4e-3 / 120) and at[7, "loss"] == pytest.approx(3 / 8)
    assert [r.values["new_style"] for r in recs if "new_style" in r.values][-1] == 55.0
    tail = [r.step for r in recs[-7:]]
    assert tail == [2**21 - 1, 2**21, 2**35, 2**56 - 1, 2**56, 2**62 - 1, 0]
    assert {"loss", "lr", "grad_norm", "val_loss"} <= {k for r in recs for k in r.values}


@pytest.mark.parametrize("seed", range(6))
def test_random_chunks_fast_equals_general(mixed: bytes, seed: int) -> None:
    whole, _ = _both(mixed)
    fast, slow = _both(mixed, random_sizes(seed, n=97, hi=[7, 60, 400, 5000, 40, 900][seed]))
    assert fast == slow == whole


def test_lightning_fixture_fast_equals_general() -> None:
    data = fixture("lightning_healthy.tfevents")
    for sizes in (None, random_sizes(3, hi=50)):
        fast, slow = _both(data, sizes)
        assert fast == slow and len(fast) == 390


def test_corrupt_fast_path_record_counted_like_general(mixed: bytes) -> None:
    data = bytearray(mixed)
    pos, hits = 0, 0
    while pos < len(data) and hits < 3:  # corrupt the float of three scalar records
        (length,) = struct.unpack_from("<Q", data, pos)
        end = pos + 12 + length
        if length < 60 and data[pos + 12] == 0x09 and pos > 0:
            data[end - 1] ^= 0x40
            hits += 1
        pos = end + 4
    fast, slow = _both(bytes(data), random_sizes(5, hi=300))
    assert fast == slow and len(fast) == len(canon(feed_all(TfeventsParser(), mixed))) - 3
    p = TfeventsParser()
    feed_all(p, bytes(data))
    assert p.skipped == 3


def test_tensorboard_writer_events(tmp_path: Path) -> None:
    """tensorboard's own writer: one-value events (fast), two-value TF1 events and TF2
    tensor scalars (general), a tag longer than 127 bytes (2-byte length varints)."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    long_tag = "x/" + "a" * 200
    writer = EventFileWriter(str(tmp_path))
    for step in range(50):
        singles = [("loss", 1.0 / (step + 1)), (long_tag, float(step)), ("é/ünïcode", 2.0)]
        for tag, value in singles:
            v = summary_pb2.Summary.Value(tag=tag, simple_value=value)
            writer.add_event(
                event_pb2.Event(
                    wall_time=1.7e9 + step, step=step, summary=summary_pb2.Summary(value=[v])
                )
            )
        pair = [
            summary_pb2.Summary.Value(tag="a", simple_value=1.0),
            summary_pb2.Summary.Value(tag="b", simple_value=2.0),
        ]
        writer.add_event(event_pb2.Event(step=step, summary=summary_pb2.Summary(value=pair)))
        tensor = tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, double_val=[0.5 * step])
        tv = summary_pb2.Summary.Value(tag="tf2", tensor=tensor)
        writer.add_event(
            event_pb2.Event(wall_time=1.7e9, step=step, summary=summary_pb2.Summary(value=[tv]))
        )
    writer.close()
    data = _single(tmp_path)
    for sizes in (None, random_sizes(11, hi=80)):
        fast, slow = _both(data, sizes)
        assert fast == slow
    p = TfeventsParser()
    recs = metrics(feed_all(p, data))
    assert len(recs) == 250 and len(p._layouts) == 3 and p.skipped == 0
    assert recs[-1].values == {"tf2": 24.5} and recs[-2].values == {"a": 1.0, "b": 2.0}
    assert recs[-2].t is None  # no wall_time written


@pytest.mark.parametrize("tag_len", [1, 100, 108, 109, 127, 128, 300, 20000])
def test_scalar_suffix_is_protobufs_encoding(tag_len: int) -> None:
    from tensorboard.compat.proto import event_pb2, summary_pb2

    tag = "t" * tag_len
    for step in (0, 1, 300, 2**40):
        v = summary_pb2.Summary.Value(tag=tag, simple_value=1.5)
        ev = event_pb2.Event(wall_time=1.5e9, step=step, summary=summary_pb2.Summary(value=[v]))
        raw = ev.SerializeToString()
        head = b"\x09" + struct.pack("<d", 1.5e9)
        if step:
            head += b"\x10" + _tfrecord.encode_varint(step)
        assert raw == head + _tfrecord.scalar_suffix(tag.encode()) + struct.pack("<f", 1.5)
        assert _tfrecord.suffix_start(raw) == len(head)


def test_block_mode_runs_of_one_tag(tmp_path: Path) -> None:
    writer = torch_tb.SummaryWriter(log_dir=str(tmp_path))
    for step in range(200):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.add_text("note", "mid-run", 200)
    for step in range(200, 240):
        writer.add_scalar("loss", math.nan if step == 210 else 0.5, step)
        writer.add_scalar("lr", 0.1, step)  # alternating: too short for blocks
    writer.close()
    data = _single(tmp_path)
    plain = canon(feed_all(TfeventsParser(), data))
    for sizes in (None, random_sizes(2, hi=3000)):
        got = feed_all(TfeventsParser(blocks=True), data, sizes)
        assert canon(list(expand(got))) == plain
    got = feed_all(TfeventsParser(blocks=True), data)
    assert isinstance(got[0], MetricBlock) and len(got[0]) == 201  # text is no record
    assert all(isinstance(r, Metrics) for r in got[1:])


def test_block_mode_keeps_the_optimizer_event(tmp_path: Path) -> None:
    """A Lightning ``lr-SGD`` tag adds a run event amid the scalars: in block mode it ends a
    run and is kept (it used to raise AttributeError, losing the whole chunk)."""
    writer = torch_tb.SummaryWriter(log_dir=str(tmp_path))
    for step in range(100):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.add_scalar("lr-SGD", 0.01, 100)
    for step in range(100, 200):
        writer.add_scalar("loss", 0.5, step)
    writer.close()
    data = _single(tmp_path)
    plain = canon(feed_all(TfeventsParser(), data))
    got = feed_all(TfeventsParser(blocks=True), data)
    assert canon(list(expand(got))) == plain
    assert [type(r).__name__ for r in got][:3] == ["MetricBlock", "Event", "Metrics"]
