"""Optimizers and LR schedules for the hand-written loops and the Lightning modules.

The Hugging Face runs use the Trainer's own ``optim`` / ``lr_scheduler_type`` where it has
them; everything else is built here with plain ``torch.optim``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from benchmarks.corpus_lib.optimizers import torch_optimizer
from benchmarks.holdout_lib.spec import HSpec


def optimizer(spec: HSpec, params: Any) -> torch.optim.Optimizer:
    """SGD, SGD with momentum 0.9, Adam or AdamW (weight decay 0.01) at ``spec.lr``."""
    return torch_optimizer(spec.opt, spec.lr, params)


def lr_factor(spec: HSpec, i: int) -> float:
    """LR multiplier at optimizer step ``i`` (0-based) for the lambda-style schedules."""
    n, w = spec.steps, max(1, spec.warmup)
    if spec.sched == "const":
        return 1.0
    if spec.sched == "warmup":
        return min(1.0, (i + 1) / w)
    if spec.sched == "warmup_cos":
        if i < w:
            return (i + 1) / w
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, (i - w) / max(1, n - w))))
    if spec.sched == "linear":
        return max(0.0, 1.0 - i / n)
    if spec.sched == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, i / n)))
    if spec.sched == "restarts":  # CosineAnnealingWarmRestarts(T_0=n // 3), by hand
        t0 = max(1, n // 3)
        return 0.5 * (1.0 + math.cos(math.pi * (i % t0) / t0))
    raise ValueError(f"not a lambda schedule: {spec.sched}")


def scheduler(spec: HSpec, opt: torch.optim.Optimizer) -> Any:
    """A per-step ``torch.optim.lr_scheduler`` for ``spec.sched``; None for a constant LR."""
    s, n = spec.sched, spec.steps
    lrs = torch.optim.lr_scheduler
    if s == "const":
        return None
    if s == "cosine":
        return lrs.CosineAnnealingLR(opt, T_max=n)
    if s == "onecycle":
        return lrs.OneCycleLR(opt, max_lr=spec.lr, total_steps=n + 1)
    if s == "restarts":
        return lrs.CosineAnnealingWarmRestarts(opt, T_0=max(1, n // 3))
    if s == "step":
        return lrs.StepLR(opt, step_size=max(1, n // 3), gamma=0.2)
    return lrs.LambdaLR(opt, lambda i: lr_factor(spec, i))


def batch_indices(n: int, batch: int, g: torch.Generator) -> torch.Tensor:
    """A random mini-batch (with replacement across batches) of ``batch`` row indices."""
    if batch >= n:
        return torch.arange(n)
    return torch.randint(0, n, (batch,), generator=g)
