"""The LR range test as a demo: one run whose LR grows exponentially from 1e-6 to 10.

The loss barely moves while the LR is tiny, falls fastest somewhere in the middle, bottoms out,
then shoots up once the LR is past what the network tolerates; the sweep stops there (smoothed
loss over 4× its best, as fastai does). The step axis is log-spaced in LR, so the loss chart is
the classic loss-vs-LR plot on a log x axis. At the end the run prints both suggestions
(steepest descent and fastai's valley) computed by :func:`lrwatch.find_lr`'s rules.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lrwatch.demos.base import DemoRun, make_classification, minibatches, mlp
from lrwatch.train.finder import steepest_lr, valley_lr

START_LR, END_LR = 1e-6, 10.0
SMOOTH, DIVERGE = 0.98, 4.0


class RangeTestRun(DemoRun):
    """A run that sets its own LR each step (the sweep) and stops at divergence."""

    num_iter: int = 100
    smoothed: list[float]
    lrs: list[float]
    extra_avg: float  #: the loss's exponential moving average, before bias correction

    def step(self, step: int) -> dict[str, float]:
        lr = START_LR * (END_LR / START_LR) ** ((step - 1) / max(1, self.num_iter - 1))
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        metrics = super().step(step)
        avg = self.extra_avg = SMOOTH * self.extra_avg + (1 - SMOOTH) * metrics["loss"]
        smooth = avg / (1 - SMOOTH**step)
        self.lrs.append(lr)
        self.smoothed.append(smooth)
        best = min(self.smoothed)
        if not math.isfinite(smooth) or (step > 1 and smooth > DIVERGE * best):
            self.done = True
        return {**metrics, "loss_smoothed": smooth}

    def summary(self) -> list[str]:
        lines = [f"swept {len(self.lrs)} steps, LR {START_LR:g} → {self.lrs[-1]:.3g}"]
        for name, rule in (("steepest", steepest_lr), ("valley", valley_lr)):
            lr = rule(self.lrs, self.smoothed, self.num_iter)
            lines.append(f"suggested LR ({name}): {'n/a' if lr is None else f'{lr:.3g}'}")
        return lines


def build(seed: int, steps: int) -> list[DemoRun]:
    """One sweep over ``steps`` iterations on a small MLP classifier (SGD, momentum 0.9)."""
    x, y = make_classification(2048, 20, 4, seed)
    model = mlp(20, 64, 4, seed)
    run = RangeTestRun(
        label="range-test",
        model=model,
        optimizer=torch.optim.SGD(model.parameters(), lr=START_LR, momentum=0.9),
        loss_fn=nn.functional.cross_entropy,
        batches=minibatches((x, y), 64, seed),
        loop_sets_lr=True,
        note=f"LR from {START_LR:g} to {END_LR:g} over {steps} steps (exponential)",
    )
    run.num_iter, run.smoothed, run.lrs, run.extra_avg = steps, [], [], 0.0
    return [run]
