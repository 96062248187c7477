"""A small MLP under mini-batch SGD slightly too hot, beside the same model at a calm LR.

Near the edge of stability each step overshoots the bottom of the steepest valley: the loss
jumps up and down from batch to batch instead of settling, and stays far above what the same
network reaches at a smaller LR. Halving the LR (or decaying it) calms it at once.
"""

from __future__ import annotations

import torch
from torch import nn

from lrwatch.demos.base import DemoRun, make_regression, minibatches, mlp

HOT_LR = 0.6
OK_LR = 0.1


def build(seed: int, steps: int) -> list[DemoRun]:
    """The hot run and the calm one, on the same data and initial weights."""
    x, y = make_regression(512, 16, seed)
    runs = []
    for label, lr in (("lr-hot", HOT_LR), ("lr-ok", OK_LR)):
        model = mlp(16, 32, 1, seed)
        runs.append(
            DemoRun(
                label=label,
                model=model,
                optimizer=torch.optim.SGD(model.parameters(), lr=lr),
                loss_fn=nn.functional.mse_loss,
                batches=minibatches((x, y), len(x), seed),
                note=f"SGD lr={lr:g}",
            )
        )
    return runs
