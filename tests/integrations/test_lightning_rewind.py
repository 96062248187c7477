"""Rewind through the Lightning callback with a real Trainer: from the Monitor's in-memory
snapshots and from a ``ModelCheckpoint``'s ``.ckpt`` files (``on_rewind="checkpoint"``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import ModelCheckpoint

from lrwatch.control import protocol as P
from lrwatch.integrations.lightning import LRWatchCallback
from tests.integrations.test_hf_rewind import metric_steps, same_bits
from tests.integrations.test_lightning_callback import (
    STEPS,
    Ask,
    Regression,
    data,
    quiet_trainer,
    read_log,
)


class Dump(pl.Callback):
    """After the lrwatch callback: ``torch.save`` the state each step boundary leaves."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.calls = folder, 0
        folder.mkdir(parents=True)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, *a: Any):
        self.calls += 1
        state = {
            "step": trainer.global_step,
            "model": pl_module.state_dict(),
            "optimizer": trainer.optimizers[0].state_dict(),
            "scheduler": trainer.lr_scheduler_configs[0].scheduler.state_dict(),
        }
        torch.save(state, self.folder / f"{self.calls:03d}.pt")

    def load(self, call: int) -> dict[str, Any]:
        """What the ``call``-th step boundary (1-based) left."""
        loaded: dict[str, Any] = torch.load(self.folder / f"{call:03d}.pt", weights_only=False)
        return loaded


def fit(
    out: Path, asks: dict[int, dict[str, Any]], every: int = 0, **opts: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Dump, pl.Trainer]:
    """Fit the linear model for STEPS steps; (log records, replies, dumps, trainer)."""
    torch.manual_seed(0)
    log = out / "run.jsonl"
    cb = LRWatchCallback(
        log=str(log), control="none", file_commands=False, handle_signals=False, **opts
    )
    ask, dump = Ask(cb, asks), Dump(out / "dumps")
    saver = [ModelCheckpoint(out / "ckpts", every_n_train_steps=every, save_top_k=-1)]
    trainer = quiet_trainer(
        out,
        [ask, cb, dump, *(saver if every else [])],
        max_steps=STEPS,
        enable_checkpointing=bool(every),
        limit_val_batches=0,
        num_sanity_val_steps=0,
    )
    trainer.fit(Regression(), data())
    return read_log(log), ask.replies, dump, trainer


def test_rewind_to_a_snapshot_moves_global_step_back_and_the_fit_finishes(tmp_path: Path):
    rewind = {"id": "r", "op": "rewind", "steps_back": 2, "scale_lr": 0.5}
    records, replies, dump, trainer = fit(tmp_path, {7: rewind}, snapshot_every=4, keep=2)
    assert replies[0]["ok"] and replies[0]["to_step"] == 4, replies
    steps = [dump.load(c)["step"] for c in range(1, dump.calls + 1)]
    # The 7th boundary ends with the rewind to step 4: global_step is 4 there, then counts on.
    assert steps == [1, 2, 3, 4, 5, 6, 4, *range(5, STEPS + 1)]
    assert trainer.global_step == STEPS and records[-1]["status"] == "finished"
    at4, after = dump.load(4), dump.load(7)
    assert same_bits(after["model"], at4["model"])
    assert same_bits(after["optimizer"]["state"], at4["optimizer"]["state"])  # momentum
    assert after["scheduler"]["last_epoch"] == at4["scheduler"]["last_epoch"] == 4
    (rec,) = [r for r in records if r.get("kind") == "rewind"]
    assert (rec["step"], rec["to_step"], rec["source"], rec["factor"]) == (7, 4, "snapshot", 0.5)
    assert rec["new"] == [0.5 * g["lr"] for g in at4["optimizer"]["param_groups"]]
    assert metric_steps(records) == [*range(1, 8), *range(5, STEPS + 1)]
    assert metric_steps(records, "loss") == metric_steps(records)  # every step has its loss


def test_rewind_from_a_model_checkpoint_file(tmp_path: Path):
    asks = {
        2: {"id": "early", "op": "rewind", "to_step": 1},  # nothing saved yet: refused
        8: {"id": "disk", "op": "rewind", "steps_back": 1},  # target 7: the step-6 file
    }
    records, replies, dump, trainer = fit(tmp_path, asks, every=3, on_rewind="checkpoint")
    early, disk = replies
    assert not early["ok"] and early["error"]["code"] == P.REFUSED
    assert "ModelCheckpoint" in early["error"]["message"]
    assert disk["ok"] and disk["to_step"] == 6 and disk["source"] == "hook"
    steps = [dump.load(c)["step"] for c in range(1, dump.calls + 1)]
    assert steps == [*range(1, 8), *range(6, STEPS + 1)]
    assert trainer.global_step == STEPS and records[-1]["status"] == "finished"
    at6, after = dump.load(6), dump.load(8)
    assert same_bits(after["model"], at6["model"])
    assert same_bits(after["optimizer"], at6["optimizer"])
    assert same_bits(after["scheduler"], at6["scheduler"])
    (rec,) = [r for r in records if r.get("kind") == "rewind"]
    assert (rec["step"], rec["to_step"], rec["factor"]) == (8, 6, None)
    assert metric_steps(records) == [*range(1, 9), *range(7, STEPS + 1)]
    saved = sorted(p.name for p in (tmp_path / "ckpts").glob("*.ckpt"))
    assert "epoch=1-step=12.ckpt" in saved  # saving went on along the new branch
