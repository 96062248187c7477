"""The textbook loss (x - 2)² from x = 0 under plain SGD at three learning rates.

The gradient is 2(x - 2), so one SGD step maps the error e = x - 2 to (1 - 2·lr)·e and the
loss after t steps is exactly 4·(1 - 2·lr)^(2t): lr 0.1 shrinks the error by 0.8 a step, lr
0.01 by 0.98 (a crawl), lr 1.5 doubles it and flips its sign every step. Float64 keeps the
diverging run finite (4^101 ≈ 6.4e60) so the numbers can be checked against that formula.
"""

from __future__ import annotations

import torch
from torch import nn

from lrwatch.demos.base import DemoRun

LRS = (0.1, 1.5, 0.01)
TARGET = 2.0


def closed_form_loss(lr: float, steps: int, x0: float = 0.0) -> float:
    """The exact loss (x_t - 2)² after ``steps`` SGD steps from ``x0``."""
    return (x0 - TARGET) ** 2 * (1.0 - 2.0 * lr) ** (2 * steps)


class Quadratic(nn.Module):
    """A single float64 parameter x; forward returns (x - 2)²."""

    def __init__(self, x0: float = 0.0) -> None:
        super().__init__()
        self.x = nn.Parameter(torch.tensor(x0, dtype=torch.float64))

    def forward(self) -> torch.Tensor:
        return (self.x - TARGET) ** 2


class QuadraticRun(DemoRun):
    """A run whose step logs the loss *after* the update, so step t shows the loss at x_t."""

    model: Quadratic

    def step(self, step: int) -> dict[str, float]:
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.model()
        loss.backward()
        grad = self.model.x.grad
        assert grad is not None  # backward() just set it
        gnorm = float(grad.abs())
        self.optimizer.step()
        with torch.no_grad():
            after = float(self.model())
        return {"loss": after, "grad_norm": gnorm, "x": float(self.model.x.detach())}


def build(seed: int, steps: int) -> list[DemoRun]:
    """Three runs from x = 0 (the seed is unused: nothing here is random)."""
    runs: list[DemoRun] = []
    for lr in LRS:
        model = Quadratic()
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        factor = abs(1 - 2 * lr)
        runs.append(
            QuadraticRun(
                label=f"lr={lr:g}",
                model=model,
                optimizer=opt,
                loss_fn=lambda out, _y: out,
                batches=iter(()),
                note=f"error ×{factor:g} per step",
            )
        )
    return runs
