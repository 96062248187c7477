"""Runs through the real Lightning ``Trainer`` with its ``CSVLogger`` and ``TensorBoardLogger``.

A ``LightningModule`` logs ``self.log("train_loss", ...)`` in ``training_step`` (the value of
that step, every ``log_every_n_steps``), ``self.log("val_loss", ...)`` in ``validation_step``
(named eval sets: ``val_<name>_loss``, one loader each), and ``LearningRateMonitor`` logs the
LR per step. Both loggers write the same run: ``csv/version_0/metrics.csv`` and
``tb/version_0/events.out.tfevents.*``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.holdout_lib.capture import console_to
from benchmarks.holdout_lib.loops import prepare_model
from benchmarks.holdout_lib.optim import optimizer, scheduler
from benchmarks.holdout_lib.spec import HSpec
from benchmarks.holdout_lib.tasks import Data


def _module(spec: HSpec, data: Data, names: list[str]) -> Any:
    import lightning as L

    class Module(L.LightningModule):
        """The task's model, its loss, and the spec's optimizer and per-step schedule."""

        def __init__(self) -> None:
            super().__init__()
            self.net = prepare_model(spec, data)

        def training_step(self, batch: Any, i: int) -> torch.Tensor:
            loss = data.loss(self.net(batch[0]), batch[1])
            self.log("train_loss", loss)
            return loss

        def validation_step(self, batch: Any, i: int, dataloader_idx: int = 0) -> None:
            name = f"val_{names[dataloader_idx]}_loss" if len(names) > 1 else "val_loss"
            loss = data.loss(self.net(batch[0]), batch[1])
            self.log(name, loss, add_dataloader_idx=False)

        def configure_optimizers(self) -> Any:
            opt = optimizer(spec, self.parameters())
            sched = scheduler(spec, opt)
            if sched is None:
                return opt
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    return Module()


def pl_run(spec: HSpec, data: Data, folder: Path) -> None:
    """Train ``spec`` with ``lightning.Trainer``; writes metrics.csv and a tfevents file."""
    import lightning as L
    from lightning.pytorch.callbacks import LearningRateMonitor
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    g = torch.Generator().manual_seed(spec.seed + 1)
    train = DataLoader(
        TensorDataset(data.x, data.y), batch_size=spec.batch, shuffle=True, generator=g
    )
    sets = data.evals or ({"val": (data.xv, data.yv)} if spec.val_every else {})
    names = list(sets)
    vals = [DataLoader(TensorDataset(x, y), batch_size=512) for x, y in sets.values()]
    with console_to(folder / "stdout.txt"):
        L.seed_everything(spec.seed)
        module = _module(spec, data, names)
        trainer = L.Trainer(
            max_steps=spec.steps,
            logger=[
                CSVLogger(str(folder), name="csv", version=0),
                TensorBoardLogger(str(folder), name="tb", version=0),
            ],
            log_every_n_steps=spec.log_every,
            callbacks=[LearningRateMonitor(logging_interval="step")],
            val_check_interval=spec.val_every if vals else None,
            check_val_every_n_epoch=None if vals else 1,
            limit_val_batches=None if vals else 0,
            num_sanity_val_steps=0,
            gradient_clip_val=spec.clip,
            accelerator="cpu",
            devices=1,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )
        trainer.fit(module, train, vals or None)
