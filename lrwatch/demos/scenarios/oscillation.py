"""A small MLP under full-batch gradient descent slightly too hot, beside a calm run.

Past the edge of stability (lr above 2/sharpness) each step overshoots the bottom of the
steepest valley; a nonlinear network does not blow up but settles into a period-2 orbit: the
weights hop from one wall of the valley to the other and the loss alternates between two values
(lag-1 autocorrelation near -1), far above what the same network reaches at a calm LR (Cohen et
al. 2021, "edge of stability"). Dividing the LR by 3 stops the bounce.

Where exactly the orbit appears depends on the initial weights (the dynamics there are
chaotic), so the hot LR is picked per seed: the first of a few candidates just past the edge
at which a quick rehearsal of the same run ends in the two-step bounce.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn

from lrwatch.demos.base import Batch, DemoRun, make_regression, minibatches, mlp

HOT_CANDIDATES = (0.6, 0.7, 0.65, 0.75, 0.8, 0.55, 0.85)
OK_LR = 0.1
REHEARSAL_STEPS = 300


def _bounces(model: nn.Module, data: Batch, lr: float) -> bool:
    """Whether full-batch GD at ``lr`` ends in a clear two-step bounce: lag-1 autocorrelation
    ≤ −0.9 and swings of at least 10% of the loss."""
    model = copy.deepcopy(model)
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    x, y = data
    losses = []
    for _ in range(REHEARSAL_STEPS):
        opt.zero_grad()
        loss = nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    tail = np.asarray(losses[-64:])
    if not np.isfinite(tail).all():
        return False
    d = tail - tail.mean()
    denom = float((d * d).sum())
    swing = float(np.abs(np.diff(tail)).mean())
    if denom <= 0 or swing < 0.1 * float(tail.mean()):
        return False
    return float((d[1:] * d[:-1]).sum()) / denom <= -0.9


def pick_hot_lr(model: nn.Module, data: Batch) -> float:
    """The first candidate LR whose rehearsal bounces (the first candidate if none does)."""
    for lr in HOT_CANDIDATES:
        if _bounces(model, data, lr):
            return lr
    return HOT_CANDIDATES[0]


def build(seed: int, steps: int) -> list[DemoRun]:
    """The hot run and the calm one, on the same data and initial weights (full batch)."""
    x, y = make_regression(512, 16, seed)
    hot = pick_hot_lr(mlp(16, 32, 1, seed), (x, y))
    runs = []
    for label, lr in (("lr-hot", hot), ("lr-ok", OK_LR)):
        model = mlp(16, 32, 1, seed)
        runs.append(
            DemoRun(
                label=label,
                model=model,
                optimizer=torch.optim.SGD(model.parameters(), lr=lr),
                loss_fn=nn.functional.mse_loss,
                batches=minibatches((x, y), len(x), seed),
                note=f"full-batch GD, lr={lr:g}",
            )
        )
    return runs
