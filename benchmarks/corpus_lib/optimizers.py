"""The optimizers both corpora train with, by name (plain ``torch.optim``)."""

from __future__ import annotations

from typing import Any

import torch

#: Names a run spec may give: SGD, SGD with momentum 0.9, Adam, AdamW (weight decay 0.01).
NAMES = ("sgd", "momentum", "adam", "adamw")


def torch_optimizer(name: str, lr: float, params: Any) -> torch.optim.Optimizer:
    """The optimizer ``name`` (one of :data:`NAMES`) at ``lr``."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    raise ValueError(f"unknown optimizer {name}")
