"""A nanoGPT-style loop: it computes the LR itself and assigns it every iteration.

    python demos/nanogpt_style.py --steps 300 && lrwatch watch runs/nanogpt_style.jsonl

Such loops overwrite ``param_groups[i]["lr"]`` each step, so a live change written into the
optimizer would be lost at the next iteration. ``loop_sets_lr=True`` makes live changes a
multiplier (or a pin) applied on top of whatever the loop sets, so they survive.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass

import torch
from torch import nn

import lrwatch


@dataclass
class Config:
    learning_rate: float = 3e-3
    warmup_iters: int = 30
    lr_decay_iters: int = 300
    min_lr: float = 3e-4
    block: int = 16
    batch: int = 16


def get_lr(it: int, c: Config) -> float:
    """Linear warmup, then cosine decay to min_lr (nanoGPT's schedule)."""
    if it < c.warmup_iters:
        return c.learning_rate * (it + 1) / (c.warmup_iters + 1)
    if it > c.lr_decay_iters:
        return c.min_lr
    ratio = (it - c.warmup_iters) / (c.lr_decay_iters - c.warmup_iters)
    return c.min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (c.learning_rate - c.min_lr)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--log", default="runs/nanogpt_style.jsonl")
    args = p.parse_args()
    c = Config(lr_decay_iters=args.steps)

    text = ("to be, or not to be, that is the question: " * 40).encode()
    data = torch.tensor(list(text), dtype=torch.long)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Embedding(256, 64), nn.Flatten(), nn.Linear(64 * c.block, 256))
    opt = torch.optim.AdamW(model.parameters(), lr=c.learning_rate)

    mon = lrwatch.Monitor(opt, log=args.log, loop_sets_lr=True)
    for it in range(args.steps):
        lr = get_lr(it, c)
        for group in opt.param_groups:  # the loop owns the LR...
            group["lr"] = lr
        ix = torch.randint(len(data) - c.block - 1, (c.batch,))
        xb = torch.stack([data[i : i + c.block] for i in ix])
        yb = data[ix + c.block]
        loss = nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()  # ...and the Monitor's multiplier applies to this step's LR.
        mon.step(it + 1, loss=loss.item())
    mon.close()
    print(f"done: {args.steps} iterations, log {args.log}")


if __name__ == "__main__":
    main()
