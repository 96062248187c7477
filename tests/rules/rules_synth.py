"""Synthetic but realistic training curves for the rule tests (seeded, deterministic).

The loss model: progress accumulates with the LR (``p += lr / lr_ref``), the loss decays as a
power law of progress towards a floor that rises with the LR (higher LR, noisier optimum), and
each logged point carries multiplicative log-normal batch noise. So step decay drops the loss,
warm restarts bump it, and warmup slows the start, as in real runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from lrwatch.records import Event, Metrics, Record

Schedule = Callable[[int], float]


def constant(lr: float) -> Schedule:
    return lambda t: lr


def warmup_cosine(peak: float, total: int, warmup: int) -> Schedule:
    def f(t: int) -> float:
        if t < warmup:
            return peak * (t + 1) / warmup
        q = (t - warmup) / max(1, total - warmup)
        return peak * 0.5 * (1 + math.cos(math.pi * min(q, 1.0)))

    return f


def step_decay(lr: float, every: int, gamma: float = 0.1) -> Schedule:
    return lambda t: lr * gamma ** (t // every)


def warm_restarts(peak: float, period: int) -> Schedule:
    return lambda t: 1e-3 * peak + peak * 0.5 * (1 + math.cos(math.pi * (t % period) / period))


def triangular(low: float, high: float, period: int) -> Schedule:
    def f(t: int) -> float:
        x = (t % period) / period
        return low + (high - low) * (2 * x if x < 0.5 else 2 - 2 * x)

    return f


def curve(
    steps: int,
    schedule: Schedule,
    *,
    lr_ref: float = 0.1,
    start: float = 2.3,
    floor: float = 0.2,
    lr_floor: float = 0.5,
    tau: float = 50.0,
    noise: float = 0.1,
    offset: float = 0.0,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """(lr, loss) per step. ``lr_floor``: how much the floor rises per unit of lr/lr_ref."""
    rng = np.random.default_rng(seed)
    lrs = np.array([schedule(t) for t in range(steps)])
    progress = np.cumsum(lrs / lr_ref)
    clean = floor * (1 + lr_floor * lrs / lr_ref) + (start - floor) / (1 + progress / tau) ** 0.7
    loss = clean * np.exp(noise * rng.standard_normal(steps)) + offset
    return lrs, loss


def records(
    lrs: np.ndarray,
    loss: np.ndarray,
    *,
    every: int = 1,
    val: np.ndarray | None = None,
    val_every: int = 0,
    grad: np.ndarray | None = None,
    header: bool = True,
) -> list[Record]:
    """Records logged every ``every`` steps (and val every ``val_every``), as a logger would."""
    out: list[Record] = []
    if header:
        out.append(Event("run", {"lr": [float(lrs[0])]}, step=0))
    for t in range(0, len(loss), every):
        values = {"loss": float(loss[t]), "lr": float(lrs[t])}
        if grad is not None:
            values["grad_norm"] = float(grad[t])
        out.append(Metrics(t, values))
        if val is not None and val_every and t and t % val_every == 0:
            out.append(Metrics(t, {"val_loss": float(val[t])}))
    return out
