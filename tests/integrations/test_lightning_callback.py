"""The Lightning callback with a real Trainer: log, live LR change through OneCycleLR, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from lrwatch.control import protocol as P
from lrwatch.control.dispatch import dispatch
from lrwatch.integrations.lightning import LRWatchCallback

STEPS, CHANGE_AT = 12, 5


class Regression(pl.LightningModule):
    """A linear model, SGD and a per-step OneCycleLR."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self) -> Any:
        opt = torch.optim.SGD(self.parameters(), lr=0.01, momentum=0.9)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.05, total_steps=STEPS)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


class Ask(pl.Callback):
    """Plays the control client: at given steps, sends a request the way a transport does
    (queued; the Monitor applies it at this same step boundary, in the callback after this)."""

    def __init__(self, cb: LRWatchCallback, asks: dict[int, dict[str, Any]]) -> None:
        self.cb, self.asks, self.replies = cb, dict(asks), []

    def on_train_batch_end(self, trainer: pl.Trainer, *args: Any) -> None:
        request = self.asks.pop(trainer.global_step, None)
        if request is not None:
            mon = self.cb.monitor
            dispatch(mon, P.validate(request, mon.limits), self.replies.append, "test")


def data() -> torch.utils.data.DataLoader:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    return torch.utils.data.DataLoader(list(zip(x, x.sum(1, keepdim=True), strict=True)), 8)


def quiet_trainer(root: Path, callbacks: list[pl.Callback], **opts: Any) -> pl.Trainer:
    """A CPU Trainer with no logger, checkpoints, progress bar or model summary (``opts``
    may turn any back on)."""
    quiet: dict[str, Any] = {
        "accelerator": "cpu",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    return pl.Trainer(callbacks=callbacks, default_root_dir=str(root), **{**quiet, **opts})


def read_log(log: Path) -> list[dict[str, Any]]:
    """Every record of a finished run's log."""
    return [json.loads(line) for line in log.read_text().splitlines()]


def fit(
    log: Path, request: dict[str, Any] | None = None, steps: int = STEPS, ckpt: Path | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], pl.Trainer]:
    torch.manual_seed(0)
    cb = LRWatchCallback(log=str(log), control="none", file_commands=False, handle_signals=False)
    ask = Ask(cb, {CHANGE_AT: request}) if request else None
    trainer = quiet_trainer(
        log.parent,
        [ask, cb] if ask else [cb],
        max_steps=steps,
        val_check_interval=6,
        limit_val_batches=2,
        num_sanity_val_steps=0,
    )
    trainer.fit(Regression(), data(), data(), ckpt_path=str(ckpt) if ckpt else None)
    return read_log(log), (ask.replies if ask else []), trainer


def lr_by_step(records: list[dict[str, Any]]) -> dict[int, float]:
    return {r["step"]: r["lr"] for r in records if "kind" not in r and "lr" in r}


def test_live_change_survives_onecycle_and_the_log_has_everything(tmp_path: Path):
    twin, _, _ = fit(tmp_path / "twin.jsonl")
    records, replies, _ = fit(tmp_path / "mod.jsonl", {"id": 1, "op": "scale_lr", "factor": 2.0})
    assert replies[0]["ok"] and replies[0]["step"] == CHANGE_AT + 1
    lr, lr_twin = lr_by_step(records), lr_by_step(twin)
    assert sorted(lr) == list(range(1, STEPS + 1))
    assert lr_twin[4] > lr_twin[1] and lr_twin[STEPS] < lr_twin[6]  # one cycle: up, then down
    for step in lr:
        assert lr[step] == (2 * lr_twin[step] if step > CHANGE_AT else lr_twin[step]), step
    assert all(r["loss"] >= 0 for r in records if "loss" in r)
    assert len([r for r in records if "loss" in r]) == STEPS
    assert any("val_loss" in r for r in records)
    assert records[0]["kind"] == "run" and records[-1]["kind"] == "end"


def test_pin_survives_a_lightning_checkpoint(tmp_path: Path):
    pin = {"id": 2, "op": "set_lr", "value": 0.003, "mode": "pin"}
    full, _, _ = fit(tmp_path / "full.jsonl", pin)
    _, _, first = fit(tmp_path / "part.jsonl", pin, steps=8)
    ckpt = tmp_path / "at8.ckpt"
    first.save_checkpoint(str(ckpt))
    resumed, _, _ = fit(tmp_path / "resumed.jsonl", ckpt=ckpt)
    want = {s: v for s, v in lr_by_step(full).items() if s > 8}
    assert lr_by_step(resumed) == want and set(want.values()) == {0.003}


def test_total_steps_from_epochs_and_accumulation(tmp_path: Path):
    """No max_steps: the total is epochs x batches / accumulation (estimated_stepping_batches)."""
    log = tmp_path / "epochs.jsonl"
    cb = LRWatchCallback(log=str(log), control="none", file_commands=False, handle_signals=False)
    trainer = quiet_trainer(
        tmp_path, [cb], max_epochs=2, accumulate_grad_batches=2, limit_val_batches=0
    )
    trainer.fit(Regression(), data())
    records = read_log(log)
    totals = [
        r["total_steps"] for r in records if r.get("kind") in ("run", "meta") and "total_steps" in r
    ]
    steps = [r["step"] for r in records if "loss" in r and "kind" not in r]
    assert totals and totals[-1] == 2 * 8 // 2 == len(steps)  # 8 batches of 8 per epoch
