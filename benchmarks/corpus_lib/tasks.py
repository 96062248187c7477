"""Small synthetic tasks and models that train in seconds on one CPU thread.

Every task is built from a seed only, so the corpus regenerates bit for bit on one machine.
Tasks: MLP regression, MLP classification, a tiny CNN on synthetic line images, and a tiny
character-level transformer on generated text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class Task:
    """A model with its train/val tensors and loss function."""

    model: nn.Module
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    loss_fn: Any


def make_task(kind: str, seed: int, train_size: int, **opts: Any) -> Task:
    """Build task ``kind`` (mlp_reg, mlp_cls, linear_reg, cnn, charlm) from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    builders = {
        "mlp_reg": _regression,
        "linear_reg": _regression,
        "mlp_cls": _classification,
        "cnn": _images,
        "charlm": _chars,
    }
    return builders[kind](kind, g, train_size, **opts)


def _regression(
    kind: str,
    g: torch.Generator,
    n: int,
    target_scale: float = 1.0,
    hidden: int = 32,
    noise: float = 0.05,
    **_: Any,
) -> Task:
    dim = 8
    w1 = torch.randn(dim, 16, generator=g) / math.sqrt(dim)
    w2 = torch.randn(16, 1, generator=g) / 4.0

    def target(x: torch.Tensor) -> torch.Tensor:
        clean = torch.sin(x @ w1) @ w2 + 0.3 * x[:, :1] * x[:, 1:2]
        return clean + noise * torch.randn(x.shape[0], 1, generator=g)

    x = torch.randn(n + 1024, dim, generator=g)
    y = target(x) * target_scale
    if kind == "linear_reg":
        model: nn.Module = nn.Linear(dim, 1)
    else:
        model = nn.Sequential(
            nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
            nn.Linear(hidden, 1),
        )  # fmt: skip
    return Task(model, x[:n], y[:n], x[n:], y[n:], nn.MSELoss())


def _classification(
    kind: str,
    g: torch.Generator,
    n: int,
    hidden: int = 64,
    label_noise: float = 0.0,
    classes: int = 5,
    **_: Any,
) -> Task:
    dim = 16
    centers = 1.2 * torch.randn(classes * 3, dim, generator=g)
    total = n + 1024
    cluster = torch.randint(0, classes * 3, (total,), generator=g)
    x = centers[cluster] + torch.randn(total, dim, generator=g)
    y = cluster % classes
    flip = torch.rand(total, generator=g) < label_noise
    y = torch.where(flip, torch.randint(0, classes, (total,), generator=g), y)
    model = nn.Sequential(
        nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
        nn.Linear(hidden, classes),
    )  # fmt: skip
    return Task(model, x[:n], y[:n], x[n:], y[n:], nn.CrossEntropyLoss())


def _images(kind: str, g: torch.Generator, n: int, **_: Any) -> Task:
    size, total = 12, n + 512
    y = torch.randint(0, 4, (total,), generator=g)
    idx = torch.arange(size, dtype=torch.float32)
    rows, cols = torch.meshgrid(idx, idx, indexing="ij")
    # Four line orientations at a random offset, plus pixel noise.
    off = torch.randint(-3, 4, (total, 1, 1), generator=g).float()
    r, c = rows.unsqueeze(0), cols.unsqueeze(0)
    lines = torch.stack([r - 6 - off, c - 6 - off, r - c - off, r + c - 11 - off])
    pick = lines[y, torch.arange(total)]
    x = torch.exp(-(pick**2)) + 0.4 * torch.randn(total, size, size, generator=g)
    x = x.unsqueeze(1)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(16, 4),
    )  # fmt: skip
    return Task(model, x[:n], y[:n], x[n:], y[n:], nn.CrossEntropyLoss())


_WORDS = [
    "the",
    "a",
    "model",
    "learns",
    "rate",
    "loss",
    "step",
    "warm",
    "decay",
    "small",
    "large",
    "slow",
    "fast",
    "noise",
    "grad",
]


class CharLM(nn.Module):
    """One pre-norm transformer block over characters, causal."""

    def __init__(self, vocab: int, ctx: int, d: int = 32) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(0.02 * torch.randn(ctx, d))
        self.block = nn.TransformerEncoderLayer(
            d, 2, 4 * d, dropout=0.0, batch_first=True, norm_first=True
        )
        self.head = nn.Linear(d, vocab)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(ctx))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h = self.emb(idx) + self.pos[: idx.shape[1]]
        h = self.block(h, src_mask=self.mask, is_causal=True)
        return self.head(h).transpose(1, 2)  # (B, vocab, T) for cross_entropy


def _chars(kind: str, g: torch.Generator, n: int, ctx: int = 24, **_: Any) -> Task:
    # Text from a tiny grammar: predictable enough to learn fast, random enough not to be trivial.
    pick = torch.randint(0, len(_WORDS), (4000,), generator=g).tolist()
    text = " ".join(_WORDS[i] for i in pick) + "."
    chars = sorted(set(text))
    data = torch.tensor([chars.index(ch) for ch in text])
    total = n + 256
    starts = torch.randint(0, len(data) - ctx - 1, (total,), generator=g)
    x = torch.stack([data[s : s + ctx] for s in starts.tolist()])
    y = torch.stack([data[s + 1 : s + ctx + 1] for s in starts.tolist()])
    model = CharLM(len(chars), ctx)
    return Task(model, x[:n], y[:n], x[n:], y[n:], nn.CrossEntropyLoss())
