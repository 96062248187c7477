"""Batch size and LR: the linear scaling rule (Goyal et al. 2017) on the same model.

A batch 4× larger averages 4× more samples into one gradient, so one step carries the
information of 4 small steps but moves the weights only once: at the same LR the large-batch
run learns slower per sample seen. Scaling the LR by the same 4× restores the progress per
sample. The step axis counts samples in units of the small batch: the 128-sample runs take one
optimizer step every 4 logged steps, so all three curves are compared per sample seen.
"""

from __future__ import annotations

import torch
from torch import nn

from lrwatch.demos.base import DemoRun, make_classification, minibatches, mlp

SMALL = 32
BASE_LR = 0.05
#: label -> (batch size, LR)
RUNS = {
    "bs32-lr0.05": (SMALL, BASE_LR),
    "bs128-lr0.05": (4 * SMALL, BASE_LR),
    "bs128-lr0.2": (4 * SMALL, 4 * BASE_LR),
}


def build(seed: int, steps: int) -> list[DemoRun]:
    """Small batch at the base LR, 4× batch at the base LR, 4× batch at 4× the LR."""
    x, y = make_classification(4096, 20, 4, seed)
    runs: list[DemoRun] = []
    for label, (bs, lr) in RUNS.items():
        model = mlp(20, 64, 4, seed)
        runs.append(
            DemoRun(
                label=label,
                model=model,
                optimizer=torch.optim.SGD(model.parameters(), lr=lr),
                loss_fn=nn.functional.cross_entropy,
                batches=minibatches((x, y), bs, seed),
                every=bs // SMALL,
                note=f"batch {bs}, LR {lr:g}"
                + (f", one step per {bs // SMALL}" if bs > SMALL else ""),
            )
        )
    return runs
