"""TensorBoard event files: the Lightning fixture, TF2 tensor scalars, CRCs, partial records."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from lrwatch.formats.tfevents import TfeventsParser

from .helpers import canon, feed_all, fixture, metrics, random_sizes, series


def test_lightning_fixture() -> None:
    p = TfeventsParser()
    recs = feed_all(p, fixture("lightning_healthy.tfevents"))
    assert len(recs) == 390 and p.skipped == 0
    loss = series(recs, "loss")
    assert len(loss) == 120 and loss[0] == (4, pytest.approx(1.357150673866272))
    assert loss[-1] == (599, pytest.approx(0.09206585586071014))
    assert len(series(recs, "val_loss")) == 10 and series(recs, "val_loss")[-1][0] == 547
    assert series(recs, "lr")[0] == (4, pytest.approx(0.1))
    assert metrics(recs)[0].t == pytest.approx(1795967243.127746)


def test_chunking_holds_back_partial_records() -> None:
    data = fixture("lightning_healthy.tfevents")
    whole = canon(feed_all(TfeventsParser(), data))
    for seed in range(3):
        assert canon(feed_all(TfeventsParser(), data, random_sizes(seed, hi=60))) == whole
    p = TfeventsParser()
    assert len(p.feed(data[:-5])) == 389 and p.skipped == 0
    assert len(p.feed(data[-5:])) == 1


def test_bad_data_crc_is_skipped_and_reading_goes_on() -> None:
    data = bytearray(fixture("lightning_healthy.tfevents"))
    first_len = struct.unpack("<Q", data[:8])[0]
    second = 12 + first_len + 4  # the second record: the first train_loss scalar
    data[second + 12 + 20] ^= 0xFF  # corrupt a payload byte
    p = TfeventsParser()
    recs = feed_all(p, bytes(data))
    assert len(recs) == 389 and p.skipped == 1


def test_garbage_between_records_resynchronises() -> None:
    data = fixture("lightning_healthy.tfevents")
    first_len = struct.unpack("<Q", data[:8])[0]
    cut = 12 + first_len + 4
    p = TfeventsParser()
    recs = feed_all(p, data[:cut] + b"\x07garbage!" * 3 + data[cut:])
    assert len(recs) == 390 and p.skipped == 1
    p = TfeventsParser()
    assert feed_all(p, data[:-3]) != [] and p.skipped == 1  # half a record at the end


def _write_tf2_scalars(tmp_path: Path) -> bytes:
    """Event file with TF2-style tensor scalars, written by tensorboard's own writer."""
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2, types_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(str(tmp_path))
    for step in range(3):
        values = [
            summary_pb2.Summary.Value(
                tag="loss",
                tensor=tensor_pb2.TensorProto(
                    dtype=types_pb2.DT_FLOAT,
                    tensor_content=struct.pack("<f", 2.0 - step / 2),
                ),
            ),
            summary_pb2.Summary.Value(
                tag="learning_rate",
                tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, double_val=[0.1 * step]),
            ),
            summary_pb2.Summary.Value(tag="grad_norm", simple_value=1.5),
            summary_pb2.Summary.Value(  # a 2-element tensor is not a scalar
                tag="hist",
                tensor=tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0, 2.0]),
            ),
        ]
        event = event_pb2.Event(
            wall_time=1_700_000_000.0 + step,
            step=step * 10,
            summary=summary_pb2.Summary(value=values),
        )
        writer.add_event(event)
    writer.close()
    (path,) = tmp_path.glob("events.out.tfevents.*")
    return path.read_bytes()


def test_tf2_tensor_scalars_written_by_tensorboard(tmp_path: Path) -> None:
    data = _write_tf2_scalars(tmp_path)
    p = TfeventsParser()
    recs = feed_all(p, data, random_sizes(9, hi=30))
    assert [(m.step, m.values, m.t) for m in metrics(recs)] == [
        (0, {"loss": 2.0, "lr": 0.0, "grad_norm": 1.5}, 1_700_000_000.0),
        (10, {"loss": 1.5, "lr": 0.1, "grad_norm": 1.5}, 1_700_000_001.0),
        (20, {"loss": 1.0, "lr": 0.2, "grad_norm": 1.5}, 1_700_000_002.0),
    ]
    assert p.skipped == 0


def test_lightning_lr_tag_names_the_optimizer(tmp_path: Path) -> None:
    """LearningRateMonitor's ``lr-SGD`` tag: one run event naming the optimizer, as from its
    metrics.csv (the same run must read the same from both files)."""
    from torch.utils.tensorboard import SummaryWriter

    from lrwatch.records import Event

    writer = SummaryWriter(str(tmp_path))
    for step in range(3):
        writer.add_scalar("lr-SGD", 0.01, step)
        writer.add_scalar("train_loss", 2.0 - 0.1 * step, step)
    writer.close()
    (path,) = tmp_path.glob("events.out.tfevents.*")
    recs = feed_all(TfeventsParser(), path.read_bytes())
    assert [r for r in recs if isinstance(r, Event)] == [Event("run", {"optimizer": "SGD"})]
    assert [s for s, _ in series(recs, "loss")] == [0, 1, 2]


# -- resynchronisation without a CRC per byte (issue 17) ------------------------------------


def _boundaries(data: bytes) -> list[int]:
    """Offsets where the records of an intact event file start."""
    out, pos = [], 0
    while pos + 12 <= len(data):
        out.append(pos)
        (length,) = struct.unpack_from("<Q", data, pos)
        pos += 12 + length + 4
    return out


def _damaged(data: bytes, junk: bytes, k: int = 40) -> bytes:
    """Record ``k`` cut short by ``junk``, then every record from ``k`` on intact."""
    cut = _boundaries(data)[k]
    return data[: cut + 20] + junk + data[cut:]


@pytest.mark.parametrize(
    "junk",
    [bytes(1 << 20), bytes(range(256)) * 4096, b"\x09" * 65536],
    ids=["zeros", "every-byte", "event-keys"],
)
def test_resync_crcs_only_candidate_offsets(junk: bytes, monkeypatch) -> None:
    """1 MB of zeros (or every byte value, or Event-start bytes) between records: a handful of
    header CRCs, not one per byte (the old reader computed ~1M), and nothing intact lost."""
    import lrwatch.formats._protobuf as pb

    calls = [0]
    real = pb.masked_crc

    def counting(data: bytes) -> int:
        calls[0] += 1
        return real(data)

    monkeypatch.setattr(pb, "masked_crc", counting)
    data = fixture("lightning_healthy.tfevents")
    whole = canon(feed_all(TfeventsParser(), data))
    for sizes in (None, [65536], [4096, 7]):
        calls[0] = 0
        p = TfeventsParser()
        recs = canon(feed_all(p, _damaged(data, junk), sizes))
        assert recs == whole and p.skipped >= 1
        assert calls[0] < 1000, calls[0]


def test_damaged_file_recovers_every_intact_record_in_a_separate_process(tmp_path: Path) -> None:
    """16 MB of zeros inside a real event file: `lrwatch inspect` reads every record after it."""
    from . import bounded

    data = fixture("lightning_healthy.tfevents")
    good = tmp_path / "events.out.tfevents.1.good"
    bad = tmp_path / "events.out.tfevents.1.bad"
    good.write_bytes(data)
    bad.write_bytes(_damaged(data, bytes(16 << 20)))
    _, want = bounded.inspect_peak(good)
    _, got = bounded.inspect_peak(bad)
    assert got["runs"][0]["metrics"] == want["runs"][0]["metrics"]
    assert got["runs"][0]["records"] == want["runs"][0]["records"]
    assert got["runs"][0]["skipped_lines"] >= 1
