"""Six LR schedules on the same model, data and initial weights, overlaid.

Every run peaks at the same LR (0.1, SGD with momentum 0.9) and differs only in the schedule, so
the LR chart shows the schedules' shapes and the loss chart what each shape does: step decay
drops in stairs, exponential and cosine decay smoothly, warmup+cosine starts gently, one-cycle
ramps up then anneals far below the peak, and cyclical (triangular) keeps bouncing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.optim import lr_scheduler as sch

from lrwatch.demos.base import DemoRun, make_classification, minibatches, mlp

PEAK_LR = 0.1
#: Training examples: enough that 400 steps of 64 see each only ~3 times (with 1024 every
#: schedule overfitted the label noise, and the rules rightly said so).
TRAIN = 8192


def _schedules(steps: int) -> dict[str, Callable[[torch.optim.Optimizer], Any]]:
    warm = max(1, steps // 10)

    def warmup_cosine(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, steps - warm)))

    return {
        "step": lambda o: sch.StepLR(o, step_size=max(1, steps // 4), gamma=0.3),
        "exponential": lambda o: sch.ExponentialLR(o, gamma=0.01 ** (1 / steps)),
        "cosine": lambda o: sch.CosineAnnealingLR(o, T_max=steps),
        "warmup-cosine": lambda o: sch.LambdaLR(o, warmup_cosine),
        "one-cycle": lambda o: sch.OneCycleLR(o, max_lr=PEAK_LR, total_steps=steps + 1),
        "cyclical": lambda o: sch.CyclicLR(
            o, base_lr=PEAK_LR / 10, max_lr=PEAK_LR, step_size_up=max(1, steps // 8)
        ),
    }


def build(seed: int, steps: int) -> list[DemoRun]:
    """One run per schedule, each with a held-out loss every 20 steps."""
    x, y = make_classification(TRAIN + 2048, 20, 4, seed)
    runs = []
    for label, make in _schedules(steps).items():
        model = mlp(20, 64, 4, seed)
        opt = torch.optim.SGD(model.parameters(), lr=PEAK_LR, momentum=0.9)
        runs.append(
            DemoRun(
                label=label,
                model=model,
                optimizer=opt,
                loss_fn=nn.functional.cross_entropy,
                batches=minibatches((x[:TRAIN], y[:TRAIN]), 64, seed),
                scheduler=make(opt),
                eval_data=(x[TRAIN:], y[TRAIN:]),
                eval_every=20,
                note=f"{label} schedule, peak LR {PEAK_LR:g}",
            )
        )
    return runs
