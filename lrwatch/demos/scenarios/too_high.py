"""A linear model trained with full-batch SGD just past its stability limit.

For the mean squared error of a linear model the Hessian H = 2·XᵀX/n is constant, and gradient
descent along H's top eigenvector multiplies the error by (1 − lr·λmax) each step: any LR above
2/λmax makes that factor exceed 1 in size. The other directions still converge, so the loss first
falls, then the unstable direction takes over and the loss climbs exponentially. One feature is
scaled ×3 so λmax sits well apart; the LR is set to 2.03/λmax. Dividing it by 10 makes every
factor shrink again (|1 − 0.203| ≈ 0.8), and the run recovers within a few dozen steps.
"""

from __future__ import annotations

import torch
from torch import nn

from lrwatch.demos.base import DemoRun, generator, minibatches

N, DIM = 256, 16
EDGE_FACTOR = 2.03


def dataset(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Regression data whose first feature has 3× the scale (and a small true weight)."""
    g = generator(seed)
    x = torch.randn(N, DIM, generator=g)
    x[:, 0] *= 3.0
    w = torch.randn(DIM, 1, generator=g)
    # A small true weight on the stiff feature: the error there starts tiny, so the loss can
    # first fall before the instability along that direction grows large enough to show.
    w[0] = 0.05
    y = x @ w / 4 + 0.1 * torch.randn(N, 1, generator=g)
    return x, y


def sharpness(x: torch.Tensor) -> float:
    """λmax of the Hessian of the mean squared error of a linear model (with bias) on ``x``."""
    xb = torch.cat([x, torch.ones(len(x), 1)], dim=1)
    return float(torch.linalg.eigvalsh(2 * xb.T @ xb / len(x)).max())


def build(seed: int, steps: int) -> list[DemoRun]:
    """One run at lr = 2.03/λmax."""
    x, y = dataset(seed)
    lr = EDGE_FACTOR / sharpness(x)
    model = nn.Linear(DIM, 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    return [
        DemoRun(
            label="lr-too-high",
            model=model,
            optimizer=torch.optim.SGD(model.parameters(), lr=lr),
            loss_fn=nn.functional.mse_loss,
            batches=minibatches((x, y), N, seed),
            note=f"lr = {lr:.4g} = {EDGE_FACTOR}/λmax; stable below {2 / sharpness(x):.4g}",
        )
    ]
