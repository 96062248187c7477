"""The tailer with the real parsers: Lightning's in-place CSV rewrite, detection, tfevents."""

from __future__ import annotations

import csv
import io
import shutil
import threading
import time
from pathlib import Path

from srchelp import DEADLINE

from lrwatch.records import Metrics, Record
from lrwatch.sources import RunSource, read_runs

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


class LightningLikeWriter:
    """What Lightning's CSVLogger does: buffer rows, append them at each save, and when a new
    key appears, rewrite the whole file (same inode) with the wider header first."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keys: list[str] = []
        self.rows: list[dict[str, float]] = []
        self.pending: list[dict[str, float]] = []

    def log(self, row: dict[str, float]) -> None:
        self.pending.append(row)

    def save(self) -> None:
        new = sorted({k for r in self.pending for k in r} - set(self.keys))
        exists = self.path.exists()
        if new:
            self.keys = sorted([*self.keys, *new])
            if exists:
                with open(self.path, "w", newline="") as f:  # truncate + rewrite, same inode
                    self._write(f, self.rows, header=True)
        with open(self.path, "a" if exists else "w", newline="") as f:
            self._write(f, self.pending, header=not exists)
        self.rows += self.pending
        self.pending = []

    def _write(self, f: io.TextIOBase, rows: list[dict[str, float]], header: bool) -> None:
        w = csv.DictWriter(f, fieldnames=self.keys)
        if header:
            w.writeheader()
        w.writerows(rows)


def test_lightning_csv_rewrites_with_wider_header_live(tmp_path: Path) -> None:
    path = tmp_path / "metrics.csv"
    src = RunSource(str(path), "run")
    writer = LightningLikeWriter(path)

    def train() -> None:
        for step in range(200):
            row = {"step": step, "epoch": step // 50, "train_loss": 1.0 / (step + 1)}
            if step % 50 == 49:
                row = {"step": step, "epoch": step // 50, "val_loss": 2.0 / (step + 1)}
            if step >= 120:
                row["lr-SGD"] = 0.1  # a new metric late: another rewrite
            writer.log(row)
            if step % 10 == 9:
                writer.save()
                time.sleep(0.002)

    out: list[Record] = []
    t = threading.Thread(target=train)
    t.start()
    deadline = time.monotonic() + DEADLINE
    while t.is_alive() and time.monotonic() < deadline:
        out += src.poll()
        time.sleep(0.001)
    t.join()
    out += src.poll()  # the writer is done: one more poll takes the rest
    loss_steps = [r.step for r in out if isinstance(r, Metrics) and "loss" in r.values]
    val_steps = [r.step for r in out if isinstance(r, Metrics) and "val_loss" in r.values]
    assert sorted(loss_steps) == [s for s in range(200) if s % 50 != 49]
    assert sorted(val_steps) == [49, 99, 149, 199]
    assert src.format == "csv"


def test_detection_and_names_for_a_lightning_tree(tmp_path: Path) -> None:
    for v, name in enumerate(
        ("lightning_healthy_metrics.csv", "lightning_sgd_lr8_nan_metrics.csv")
    ):
        d = tmp_path / "lightning_logs" / f"version_{v}"
        d.mkdir(parents=True)
        shutil.copy(FIXTURES / name, d / "metrics.csv")
        (d / "hparams.yaml").write_text("lr: 8.0\n")
    tb = tmp_path / "tb" / "run1"
    tb.mkdir(parents=True)
    shutil.copy(FIXTURES / "lightning_healthy.tfevents", tb / "events.out.tfevents.1.host.1.0")
    store = read_runs([str(tmp_path)])
    assert sorted(store.runs) == ["run1", "version_0", "version_1"]
    assert {n: r.format for n, r in store.runs.items()} == {
        "run1": "tfevents",
        "version_0": "csv",
        "version_1": "csv",
    }
    assert store.runs["version_1"].series["loss"].nonfinite > 0


def test_tfevents_read_while_it_grows(tmp_path: Path) -> None:
    data = (FIXTURES / "lightning_healthy.tfevents").read_bytes()
    whole = read_runs([str(FIXTURES / "lightning_healthy.tfevents")]).runs["lightning_healthy"]
    path = tmp_path / "events.out.tfevents.123.host"
    src = RunSource(str(path), "run")
    out: list[Record] = []
    with open(path, "wb", buffering=0) as f:
        for i in range(0, len(data), 333):  # cuts records anywhere
            f.write(data[i : i + 333])
            out += src.poll()
    out += src.poll()
    assert src.format == "tfevents"
    assert len(out) == whole.records
    assert src.skipped == whole.skipped == 0
