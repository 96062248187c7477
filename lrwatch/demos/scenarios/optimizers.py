"""Five optimizers at the LRs they are usually run with, and each at LR 1.0.

Usual defaults: SGD 0.1, SGD+momentum 0.01, Adam 1e-3, RMSprop 1e-3, AdaGrad 1e-2. Adaptive
optimizers normalise the gradient, so each weight moves by about the LR every step whatever
the gradient's size: at LR 1.0 that is a jump of 1 per weight per step, and Adam and RMSprop
blow up. Plain SGD scales its step with the gradient, which shrinks near a minimum, so this
small network tolerates a much larger LR under SGD than under Adam.
"""

from __future__ import annotations

import torch
from torch import nn

from lrwatch.demos.base import DemoRun, make_classification, minibatches, mlp

#: label stem -> (optimizer factory, its usual LR)
OPTIMIZERS = {
    "sgd": (lambda p, lr: torch.optim.SGD(p, lr=lr), 0.1),
    "momentum": (lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9), 0.01),
    "adam": (lambda p, lr: torch.optim.Adam(p, lr=lr), 1e-3),
    "rmsprop": (lambda p, lr: torch.optim.RMSprop(p, lr=lr), 1e-3),
    "adagrad": (lambda p, lr: torch.optim.Adagrad(p, lr=lr), 1e-2),
}


def build(seed: int, steps: int) -> list[DemoRun]:
    """Ten runs: each optimizer at its usual LR (``adam-0.001``) and at 1.0 (``adam-lr1``)."""
    x, y = make_classification(1024, 20, 4, seed)
    runs = []
    for name, (make, usual) in OPTIMIZERS.items():
        for label, lr in ((f"{name}-{usual:g}", usual), (f"{name}-lr1", 1.0)):
            model = mlp(20, 64, 4, seed)
            runs.append(
                DemoRun(
                    label=label,
                    model=model,
                    optimizer=make(model.parameters(), lr),
                    loss_fn=nn.functional.cross_entropy,
                    batches=minibatches((x, y), 64, seed),
                    note=f"{name} at LR {lr:g}",
                )
            )
    return runs
