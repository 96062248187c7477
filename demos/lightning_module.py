"""A Lightning module with lrwatch's callback (tiny model, synthetic data, CPU).

    python demos/lightning_module.py --steps 200 && lrwatch watch runs/lightning_module.jsonl

The callback binds the optimizer and scheduler from ``configure_optimizers``, logs each
optimizer step's loss (what ``training_step`` returns), and applies live LR changes between
steps; a OneCycle schedule keeps its shape when you change the LR.
"""

from __future__ import annotations

import argparse

import lightning.pytorch as pl
import torch
from torch import nn

from lrwatch.integrations.lightning import LRWatchCallback


class Classifier(pl.LightningModule):
    def __init__(self, steps: int) -> None:
        super().__init__()
        self.steps = steps
        self.net = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self) -> dict:
        opt = torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=self.steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--log", default="runs/lightning_module.jsonl")
    args = p.parse_args()
    pl.seed_everything(0, verbose=False)
    x = torch.randn(2048, 20)
    y = (x @ torch.randn(20, 4)).argmax(1)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True
    )
    trainer = pl.Trainer(
        max_steps=args.steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[LRWatchCallback(log=args.log)],
    )
    trainer.fit(Classifier(args.steps), loader)
    print(f"done: {args.steps} steps, log {args.log}")


if __name__ == "__main__":
    main()
