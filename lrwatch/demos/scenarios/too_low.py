"""A small MLP under SGD at LR 2e-4, hundreds of times smaller than one that trains it well.

Each step moves the weights by lr·gradient; at 2e-4 the loss creeps down and would need
thousands of steps to get where LR 0.1 gets in a hundred. Multiplying the LR by 10 (twice)
while it runs shows the same network suddenly making progress.

The steps are full-batch: with mini-batches of 64 the batch-to-batch noise (±40%) hid the
slow trend both from a person watching and from the rule engine (which then saw "no
progress" rather than the straight, slow decline that says "LR too low").
"""

from __future__ import annotations

import torch
from torch import nn

from lrwatch.demos.base import DemoRun, make_regression, minibatches, mlp

LR = 2e-4
TRAIN = 768  #: training examples, all in every step


def build(seed: int, steps: int) -> list[DemoRun]:
    """One full-batch run at LR 2e-4 with a held-out loss every 25 steps."""
    x, y = make_regression(1024, 16, seed)
    model = mlp(16, 64, 1, seed)
    return [
        DemoRun(
            label="lr-too-low",
            model=model,
            optimizer=torch.optim.SGD(model.parameters(), lr=LR),
            loss_fn=nn.functional.mse_loss,
            batches=minibatches((x[:TRAIN], y[:TRAIN]), TRAIN, seed),
            eval_data=(x[TRAIN:], y[TRAIN:]),
            eval_every=25,
            note="LR 2e-4: a well-tuned LR for this model is about 0.1",
        )
    ]
