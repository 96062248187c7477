"""A tiny real Lightning fit logged by CSVLogger and TensorBoardLogger under ``ROOT/NAME``.

``python lightning_experiment.py ROOT NAME``: Lightning lays the logs out as
``ROOT/NAME/lightning_logs/version_N/{metrics.csv, events.out.tfevents...}``, the tree whose
runs used to be named ``version_0``, ``version_0``, ...
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger


class Regression(pl.LightningModule):
    """A linear model under SGD that logs its training loss every step."""

    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(4, 1)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=0.01)


def main(root: Path, name: str) -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    data = torch.utils.data.DataLoader(list(zip(x, x.sum(1, keepdim=True), strict=True)), 8)
    trainer = pl.Trainer(
        max_steps=16,
        accelerator="cpu",
        logger=[CSVLogger(str(root / name)), TensorBoardLogger(str(root / name))],
        log_every_n_steps=1,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(Regression(), data)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
