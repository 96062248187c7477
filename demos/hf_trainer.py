"""A Hugging Face Trainer with lrwatch's callback (tiny model, synthetic data, CPU).

    python demos/hf_trainer.py --steps 200 && lrwatch watch runs/hf_trainer.jsonl

The callback creates the Monitor when training begins, binds the Trainer's optimizer and its
LambdaLR schedule (a live change re-anchors it: warmup and decay keep their shape) and makes
every optimizer step a boundary where queued LR commands apply.
"""

from __future__ import annotations

import argparse
import tempfile

import torch
from torch import nn
from transformers import Trainer, TrainingArguments

from lrwatch.integrations.hf import LRWatchCallback


class Regressor(nn.Module):
    """The Trainer wants ``forward(**batch) -> {"loss": ...}``."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 1))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.net(x)
        return {"loss": nn.functional.mse_loss(out, labels), "logits": out}


class Synthetic(torch.utils.data.Dataset):
    def __init__(self, n: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 8, generator=g)
        self.y = self.x.sum(1, keepdim=True).tanh()

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.y[i]}


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--log", default="runs/hf_trainer.jsonl")
    args = p.parse_args()
    torch.manual_seed(0)
    out = tempfile.mkdtemp(prefix="hf-demo-")
    targs = TrainingArguments(
        output_dir=out,
        max_steps=args.steps,
        per_device_train_batch_size=32,
        learning_rate=1e-2,
        warmup_steps=max(1, args.steps // 10),
        lr_scheduler_type="cosine",
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
    )
    trainer = Trainer(
        model=Regressor(),
        args=targs,
        train_dataset=Synthetic(1024),
        callbacks=[LRWatchCallback(log=args.log)],
    )
    trainer.train()
    print(f"done: {args.steps} steps, log {args.log}")


if __name__ == "__main__":
    main()
