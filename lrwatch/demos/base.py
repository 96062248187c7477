"""Building blocks of the demo scenarios: seeded synthetic data, small models, one training run.

Everything here is real PyTorch on the CPU. A scenario builds one or more :class:`DemoRun`
objects; the runner steps them round-robin so that runs meant to be compared advance side by
side, and hands each step's metrics to that run's :class:`lrwatch.Monitor`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

Batch = tuple[torch.Tensor, torch.Tensor]


def generator(seed: int) -> torch.Generator:
    """A private RNG so that a scenario's data never depends on what ran before it."""
    return torch.Generator().manual_seed(int(seed))


def make_regression(n: int, dim: int, seed: int, noise: float = 0.05) -> Batch:
    """Inputs ~ N(0, 1) and targets from a fixed random two-layer teacher plus a little noise."""
    g = generator(seed)
    x = torch.randn(n, dim, generator=g)
    w1 = torch.randn(dim, 16, generator=g) / math.sqrt(dim)
    w2 = torch.randn(16, 1, generator=g) / 4.0
    y = torch.tanh(x @ w1) @ w2 + noise * torch.randn(n, 1, generator=g)
    return x, y


def make_classification(n: int, dim: int, classes: int, seed: int, noise: float = 0.3) -> Batch:
    """Gaussian inputs labelled by the argmax of a fixed random teacher with noisy logits."""
    g = generator(seed)
    x = torch.randn(n, dim, generator=g)
    teacher = torch.randn(dim, classes, generator=g)
    logits = x @ teacher / math.sqrt(dim) * 3.0 + noise * torch.randn(n, classes, generator=g)
    return x, logits.argmax(dim=1)


def mlp(dim_in: int, hidden: int, dim_out: int, seed: int, depth: int = 2) -> nn.Module:
    """A small ReLU multilayer perceptron with seeded initialisation."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    width = dim_in
    for _ in range(depth - 1):
        layers += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers.append(nn.Linear(width, dim_out))
    return nn.Sequential(*layers)


def minibatches(data: Batch, batch_size: int, seed: int) -> Iterator[Batch]:
    """Endless shuffled mini-batches (a new permutation every epoch, from a private RNG)."""
    x, y = data
    g = generator(seed)
    n = len(x)
    while True:
        perm = torch.randperm(n, generator=g)
        for i in range(0, n - batch_size + 1, batch_size):
            idx = perm[i : i + batch_size]
            yield x[idx], y[idx]


def grad_norm(params: Any) -> float:
    """The global L2 norm of the gradients (what ``clip_grad_norm_`` reports)."""
    norms = [p.grad.detach().norm() for p in params if p.grad is not None]
    if not norms:
        return 0.0
    return float(torch.linalg.vector_norm(torch.stack(norms)))


@dataclass
class DemoRun:
    """One training run of a scenario: a model, its optimizer/scheduler, its data.

    ``step()`` performs one optimizer step and returns the step's metrics. ``label`` names the
    run in the UI (it becomes the log file's stem), ``note`` says what to look for in it.
    """

    label: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    batches: Iterator[Batch]
    scheduler: Any = None
    eval_data: Batch | None = None
    eval_every: int = 0
    note: str = ""
    extra: dict[str, float] = field(default_factory=dict)
    #: Train only on rounds divisible by this (a 4× batch steps once per 4 small-batch steps).
    every: int = 1
    #: The loop assigns the LR itself each step, so live changes must be a multiplier.
    loop_sets_lr: bool = False
    #: Finished early on purpose (e.g. a range test that reached divergence).
    done: bool = False
    #: Set once the loss has been non-finite for a while: nothing can rescue NaN weights.
    dead: bool = False
    _bad: int = 0

    def step(self, step: int) -> dict[str, float]:
        """One training step (forward, backward, optimizer, scheduler); returns its metrics."""
        self.model.train()
        x, y = next(self.batches)
        self.optimizer.zero_grad(set_to_none=True)
        loss = self.loss_fn(self.model(x), y)
        loss.backward()
        gnorm = grad_norm(self.model.parameters())
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        value = float(loss.detach())
        self._bad = 0 if math.isfinite(value) else self._bad + 1
        self.dead = self._bad >= 3
        return {"loss": value, "grad_norm": gnorm, **self.extra}

    def evaluate(self, step: int) -> dict[str, float] | None:
        """Validation metrics every ``eval_every`` steps (``None`` on other steps)."""
        if self.eval_data is None or not self.eval_every or step % self.eval_every:
            return None
        self.model.eval()
        with torch.no_grad():
            x, y = self.eval_data
            return {"val_loss": float(self.loss_fn(self.model(x), y))}

    def summary(self) -> list[str]:
        """Lines printed when the scenario ends (what the run found)."""
        return []

    @property
    def lr(self) -> float:
        """The first parameter group's current learning rate."""
        return float(self.optimizer.param_groups[0]["lr"])
