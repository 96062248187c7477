"""A tiny character-level transformer at a high Adam LR, with and without linear warmup.

Early in training Adam's second-moment estimates are built from a handful of gradients, so its
first updates are large and badly scaled; in a post-LayerNorm transformer at a high LR they
blow up the attention logits and the loss spikes. Warmup keeps the first steps small while
those estimates settle (Liu et al. 2020, "On the Variance of the Adaptive Learning Rate").
The text is a few KB of public-domain Shakespeare shipped with lrwatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources

import torch
from torch import nn

from lrwatch.demos.base import Batch, DemoRun, generator

LR = 0.2
WARMUP_STEPS = 60
BLOCK = 32
BATCH = 16


def corpus() -> str:
    """The shipped public-domain text."""
    return resources.files("lrwatch.demos").joinpath("shakespeare.txt").read_text("utf-8")


class TinyGPT(nn.Module):
    """Token + position embeddings, causal post-LN transformer layers, a linear head."""

    mask: torch.Tensor  #: the causal mask, a buffer

    def __init__(self, vocab: int, dim: int = 48, heads: int = 4, layers: int = 2) -> None:
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(BLOCK, dim)
        layer = nn.TransformerEncoderLayer(
            dim, heads, dim_feedforward=4 * dim, dropout=0.0, batch_first=True, norm_first=False
        )
        self.blocks = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, vocab)
        mask = nn.Transformer.generate_square_subsequent_mask(BLOCK)
        self.register_buffer("mask", mask, persistent=False)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        h = self.tok(idx) + self.pos(torch.arange(t))
        h = self.blocks(h, mask=self.mask[:t, :t], is_causal=True)
        return self.head(h)


def char_batches(data: torch.Tensor, seed: int) -> Iterator[Batch]:
    """Endless random (context, next-character) windows."""
    g = generator(seed)
    while True:
        ix = torch.randint(len(data) - BLOCK - 1, (BATCH,), generator=g)
        x = torch.stack([data[i : i + BLOCK] for i in ix])
        y = torch.stack([data[i + 1 : i + BLOCK + 1] for i in ix])
        yield x, y


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean next-character cross-entropy."""
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def linear_warmup(steps: int) -> Callable[[int], float]:
    """The LambdaLR factor of a linear warmup over ``steps`` steps."""
    return lambda s: min(1.0, (s + 1) / steps)


def build(seed: int, steps: int) -> list[DemoRun]:
    """The same model and data at LR 1e-2: one run without warmup, one with 60 steps of it."""
    text = corpus()
    chars = sorted(set(text))
    data = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
    runs = []
    for warm in (0, WARMUP_STEPS):
        torch.manual_seed(seed)
        model = TinyGPT(len(chars))
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        sched = None
        if warm:
            sched = torch.optim.lr_scheduler.LambdaLR(opt, linear_warmup(warm))
        runs.append(
            DemoRun(
                label="warmup" if warm else "no-warmup",
                model=model,
                optimizer=opt,
                loss_fn=lm_loss,
                batches=char_batches(data, seed),
                scheduler=sched,
                note=f"{warm} warmup steps" if warm else "full LR from step 1",
            )
        )
    return runs
