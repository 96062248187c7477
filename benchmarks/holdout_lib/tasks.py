"""Tasks of the holdout corpus: synthetic data and tiny models, built from a seed only.

Deliberately not the tasks of the first corpus (``corpus_lib/tasks.py``): logistic regression
on anisotropic features with a few flipped labels, a teacher-network classification (and a
related "fine-tune" task from a perturbed teacher), a 16x16 shapes CNN, a regression with
Student-t noise (heavy-tailed batch losses) and a hand-written two-layer causal transformer on
text from a random first-order Markov source. ``Data.model()`` makes a fresh model whose
``forward(x)`` returns logits/predictions; ``Data.loss`` is the matching loss function.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class Data:
    """Train/val tensors, extra named eval sets, a model factory and the loss."""

    x: torch.Tensor
    y: torch.Tensor
    xv: torch.Tensor
    yv: torch.Tensor
    model: Callable[[], nn.Module]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    classes: int = 0  # chance-level loss is ln(classes) for a classifier
    evals: dict[str, tuple[torch.Tensor, torch.Tensor]] | None = None


def make_data(task: str, seed: int, n: int = 4096, **opts: Any) -> Data:
    """Build ``task`` (logreg, teacher, teacher_ft, shapes, tnoise, markov) from ``seed``."""
    g = torch.Generator().manual_seed(1000 + seed)
    torch.manual_seed(seed)
    build = {
        "logreg": _logreg,
        "teacher": _teacher,
        "teacher_ft": _teacher,
        "shapes": _shapes,
        "tnoise": _tnoise,
        "markov": _markov,
    }[task]
    data = build(g, n, finetune=task == "teacher_ft", **opts)
    if "n_val" in opts:  # a small val set: a noisy val loss
        data.xv, data.yv = data.xv[: opts["n_val"]], data.yv[: opts["n_val"]]
    k = int(opts.get("eval_sets", 0))
    if k:
        # Named eval sets: disjoint slices of the held-out data ("g0", "g1", ...).
        m = data.xv.shape[0] // k
        data.evals = {
            f"g{i}": (data.xv[i * m : (i + 1) * m], data.yv[i * m : (i + 1) * m]) for i in range(k)
        }
    return data


def _split(
    x: torch.Tensor, y: torch.Tensor, n: int, n_train: int | None, **kw: Any
) -> tuple[torch.Tensor, ...]:
    t = n if n_train is None else n_train
    return x[:t], y[:t], x[n:], y[n:]


def _logreg(
    g: torch.Generator,
    n: int,
    d: int = 20,
    flip: float = 0.03,
    n_train: int | None = None,
    **_: Any,
) -> Data:
    # Features on very different scales (x 1 .. x 4): plain SGD at a high LR bounces along the
    # steep ones. The labels come from a random hyperplane, with a few flipped.
    scale = torch.logspace(0, math.log10(4.0), d)
    x = torch.randn(n + 1024, d, generator=g) * scale
    w = torch.randn(d, generator=g) / scale
    y = ((x @ w) > 0).float()
    flips = torch.rand(n + 1024, generator=g) < flip
    y = torch.where(flips, 1.0 - y, y)
    xt, yt, xv, yv = _split(x, y, n, n_train)
    return Data(xt, yt, xv, yv, lambda: _LogReg(d), _bce, classes=2)


class _LogReg(nn.Module):
    def __init__(self, d: int) -> None:
        super().__init__()
        self.lin = nn.Linear(d, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x).squeeze(-1)


def _bce(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(out, y.float())


def _teacher(
    g: torch.Generator,
    n: int,
    d: int = 24,
    k: int = 6,
    finetune: bool = False,
    shuffle: bool = False,
    label_noise: float = 0.0,
    n_train: int | None = None,
    width: int = 64,
    **_: Any,
) -> Data:
    # Labels are the argmax of a random two-layer teacher; the fine-tune task perturbs the
    # teacher's output layer, so the two tasks agree on most inputs.
    w1 = torch.randn(d, 48, generator=g) / math.sqrt(d)
    w2 = torch.randn(48, k, generator=g)
    if finetune:
        w2 = w2 + 0.5 * torch.randn(48, k, generator=g)
    x = torch.randn(n + 1024, d, generator=g)
    y = (torch.tanh(x @ w1) @ w2).argmax(1)
    noisy = torch.rand(n + 1024, generator=g) < label_noise
    y = torch.where(noisy, torch.randint(0, k, y.shape, generator=g), y)
    if shuffle:  # labels that carry no information about the inputs
        y = y[torch.randperm(len(y), generator=g)]
    xt, yt, xv, yv = _split(x, y, n, n_train)
    return Data(xt, yt, xv, yv, lambda: _mlp(d, width, k), F.cross_entropy, classes=k)


def _mlp(d: int, width: int, k: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d, width), nn.GELU(), nn.Linear(width, width), nn.GELU(), nn.Linear(width, k)
    )


def _shapes(g: torch.Generator, n: int, size: int = 16, **_: Any) -> Data:
    # Four classes: a filled square, a ring, a plus and an X, at a random place and size.
    total = n + 512
    y = torch.randint(0, 4, (total,), generator=g)
    r = torch.arange(size).float()
    rows, cols = r.view(1, -1, 1), r.view(1, 1, -1)
    cy = torch.randint(4, size - 4, (total, 1, 1), generator=g).float()
    cx = torch.randint(4, size - 4, (total, 1, 1), generator=g).float()
    s = torch.randint(2, 4, (total, 1, 1), generator=g).float()
    dy, dx = rows - cy, cols - cx
    square = (dy.abs() <= s) & (dx.abs() <= s)
    ring = ((dy**2 + dx**2).sqrt() - s).abs() < 0.8
    plus = ((dy.abs() < 0.8) & (dx.abs() <= s)) | ((dx.abs() < 0.8) & (dy.abs() <= s))
    cross = ((dy - dx).abs() < 0.8) | ((dy + dx).abs() < 0.8)
    cross = cross & (dy.abs() <= s)
    img = torch.stack([square, ring, plus, cross], 1).float()[torch.arange(total), y]
    x = (img + 0.3 * torch.randn(total, size, size, generator=g)).unsqueeze(1)
    xt, yt, xv, yv = x[:n], y[:n], x[n:], y[n:]
    return Data(xt, yt, xv, yv, _TinyCNN, F.cross_entropy, classes=4)


class _TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(1, 6, 3, padding=1)
        self.c2 = nn.Conv2d(6, 12, 3, padding=1)
        self.fc = nn.Linear(12 * 4 * 4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(x.flatten(1))


def _tnoise(g: torch.Generator, n: int, d: int = 10, df: float = 2.5, **_: Any) -> Data:
    # y = smooth function of x + Student-t noise: single batches now and then carry a huge
    # squared error (heavy-tailed batch losses) while the fit itself is healthy.
    w = torch.randn(d, generator=g)
    x = torch.randn(n + 1024, d, generator=g)
    seed = int(torch.randint(0, 2**31, (1,), generator=g))
    t = torch.from_numpy(np.random.default_rng(seed).standard_t(df, n + 1024)).float()
    y = 3.0 * torch.sin(x @ w / math.sqrt(d)) + 0.5 * x[:, 0] + 0.3 * t
    xt, yt, xv, yv = x[:n], y[:n], x[n:], y[n:]
    model = lambda: nn.Sequential(nn.Linear(d, 32), nn.Tanh(), nn.Linear(32, 1), nn.Flatten(0))  # noqa: E731
    return Data(xt, yt, xv, yv, model, F.mse_loss)


def _markov(g: torch.Generator, n: int, ctx: int = 16, vocab: int = 16, **_: Any) -> Data:
    # A first-order Markov source with peaked transitions (entropy ~half of ln(vocab)): the
    # next character depends on this one, which a model learns fast, from a ln(vocab) start.
    rng = np.random.default_rng(int(torch.randint(0, 2**31, (1,), generator=g)))
    cum = rng.dirichlet(np.full(vocab, 0.2), vocab).cumsum(-1)
    length = 60_000
    u = rng.random(length)
    out = np.zeros(length, dtype=np.int64)
    a = 0
    for i in range(length):
        a = min(int(np.searchsorted(cum[a], u[i])), vocab - 1)
        out[i] = a
    seq = torch.from_numpy(out)
    starts = torch.randint(0, length - ctx - 1, (n + 512,), generator=g)
    idx = starts.view(-1, 1) + torch.arange(ctx)
    x, y = seq[idx], seq[idx + 1]
    xt, yt, xv, yv = x[:n], y[:n], x[n:], y[n:]
    return Data(xt, yt, xv, yv, lambda: CharGPT(vocab, ctx), _lm_loss, classes=vocab)


def _lm_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


class CharGPT(nn.Module):
    """Two pre-norm causal self-attention blocks, written out (no nn.Transformer*)."""

    def __init__(self, vocab: int, ctx: int, d: int = 32, heads: int = 2, layers: int = 2) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.heads = heads
        self.ln1 = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers))
        self.qkv = nn.ModuleList(nn.Linear(d, 3 * d) for _ in range(layers))
        self.proj = nn.ModuleList(nn.Linear(d, d) for _ in range(layers))
        self.ln2 = nn.ModuleList(nn.LayerNorm(d) for _ in range(layers))
        self.ff = nn.ModuleList(
            nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
            for _ in range(layers)
        )
        self.lnf = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab)
        for m in self.modules():  # nanoGPT's init: the first loss is ln(vocab)
            if isinstance(m, nn.Linear | nn.Embedding):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        b, t = idx.shape
        h = self.tok(idx) + self.pos(torch.arange(t))
        for i in range(len(self.qkv)):
            q, k, v = self.qkv[i](self.ln1[i](h)).chunk(3, dim=-1)
            q, k, v = (z.view(b, t, self.heads, -1).transpose(1, 2) for z in (q, k, v))
            a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            h = h + self.proj[i](a.transpose(1, 2).reshape(b, t, -1))
            h = h + self.ff[i](self.ln2[i](h))
        return self.head(self.lnf(h))
