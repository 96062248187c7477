"""Compare lrwatch.find_lr's suggestions with torch-lr-finder's and fastai's on one model.

    python benchmarks/find_lr_compare.py [--seeds 5] [--train-steps 300]

The model is the ``range-test`` demo's: a 20-64-4 ReLU MLP on seeded synthetic 4-class data,
SGD with momentum 0.9, batch 64. For each seed:

* lrwatch: ``find_lr`` (1e-7 → 10, 100 iterations, smoothing 0.98, stop at 4× best) and its two
  suggestions, ``steepest`` and ``valley``;
* torch-lr-finder 0.2.2: ``LRFinder.range_test(start_lr=1e-7, end_lr=10, num_iter=100)`` with
  its defaults (smooth_f=0.05, diverge_th=5) and the LR its ``plot(suggest_lr=True)`` returns.
  Used from the real package when TLRF_PATH names the directories it (and matplotlib, tqdm)
  were pip-installed into with ``--target``; otherwise its published rule is re-implemented below, faithfully:
  same schedule, smoothing, stop rule, trimming (10 first, 5 last) and ``np.gradient`` argmin;
* fastai 2.x ``Learner.lr_find`` re-implemented (fastai itself pulls in torchvision, spacy and
  more): ``SchedExp`` at pos = i/num_it, bias-corrected EMA 0.98 (``AvgSmoothLoss``), stop at
  4× best, suggestions on ``[num_it//10 : -5]`` by ``valley`` (default) and ``steep``.

Each suggested LR is then used to train the same network from the same initial weights for
``--train-steps`` steps; the table reports the suggestion and the final training loss (mean of
the last 20 steps).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from lrwatch.demos.base import make_classification, minibatches, mlp
from lrwatch.train.finder import find_lr, valley_index

torch.set_num_threads(1)
START, END, NUM = 1e-7, 10.0, 100


def problem(seed: int) -> tuple[nn.Module, Any, list[Any]]:
    x, y = make_classification(2048, 20, 4, seed)
    model = mlp(20, 64, 4, seed)
    opt = torch.optim.SGD(model.parameters(), lr=START, momentum=0.9)
    it = minibatches((x, y), 64, seed)
    return model, opt, [next(it) for _ in range(32)]


def torch_lr_finder_real(seed: int) -> float | None:
    sys.path.extend(os.environ["TLRF_PATH"].split(os.pathsep))
    import matplotlib

    matplotlib.use("Agg")
    from torch_lr_finder import LRFinder

    model, opt, data = problem(seed)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(
            torch.cat([b[0] for b in data]), torch.cat([b[1] for b in data])
        ),
        batch_size=64,
    )
    finder = LRFinder(model, opt, nn.functional.cross_entropy)
    finder.range_test(loader, start_lr=START, end_lr=END, num_iter=NUM)
    _, lr = finder.plot(suggest_lr=True)
    return None if lr is None else float(lr)


def _sweep(
    seed: int,
    lr_at: Callable[[int], float],
    smooth: Callable[[float, float, int], float],
    stop: float,
) -> tuple[list[float], list[float]]:
    model, opt, data = problem(seed)
    lrs, losses, best, state = [], [], float("inf"), 0.0
    for i in range(NUM):
        lr = lr_at(i)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = data[i % len(data)]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        state, value = smooth(state, float(loss.detach()), i)
        lrs.append(lr)
        losses.append(value)
        if i > 0 and value > stop * best:
            break
        best = min(best, value)
    return lrs, losses


def torch_lr_finder_rule(seed: int) -> float | None:
    """torch-lr-finder 0.2.2: ExponentialLR r = i/(num_iter − 1) (torch ≥ 1.1),
    smoothed = 0.05·loss + 0.95·previous smoothed, stop at 5× best, gradient argmin on [10:-5]."""
    ratio = lambda i: START * (END / START) ** (i / (NUM - 1))  # noqa: E731

    def smooth(prev: float, loss: float, i: int) -> tuple[float, float]:
        value = loss if i == 0 else 0.05 * loss + 0.95 * prev
        return value, value

    lrs, losses = _sweep(seed, ratio, smooth, 5.0)
    lrs, losses = lrs[10:-5], losses[10:-5]
    if len(losses) < 2:
        return None
    return float(lrs[int(np.gradient(np.array(losses)).argmin())])


def fastai_rules(seed: int) -> dict[str, float | None]:
    """fastai 2.x lr_find: SchedExp(pos = i/num_it), AvgSmoothLoss(0.98), stop at 4× best."""
    at = lambda i: START * (END / START) ** (i / NUM)  # noqa: E731

    def smooth(avg: float, loss: float, i: int) -> tuple[float, float]:
        avg = 0.98 * avg + 0.02 * loss  # torch.lerp(loss, val, beta)
        return avg, avg / (1 - 0.98 ** (i + 1))

    lrs, losses = _sweep(seed, at, smooth, 4.0)
    x, y = np.array(lrs[NUM // 10 : -5]), np.array(losses[NUM // 10 : -5])
    if len(y) < 3:
        return {"valley": None, "steep": None}
    grads = (y[1:] - y[:-1]) / (np.log(x[1:]) - np.log(x[:-1]))
    return {"valley": float(x[valley_index(list(y))]), "steep": float(x[grads.argmin()])}


def train_loss(seed: int, lr: float | None, steps: int) -> float:
    if lr is None:
        return float("nan")
    model, opt, _ = problem(seed)
    for g in opt.param_groups:
        g["lr"] = lr
    x, y = make_classification(2048, 20, 4, seed)
    it = minibatches((x, y), 64, seed)
    tail = []
    for s in range(steps):
        xb, yb = next(it)
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        if s >= steps - 20:
            tail.append(float(loss.detach()))
    return float(np.mean(tail))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--train-steps", type=int, default=300)
    args = p.parse_args()
    real = bool(os.environ.get("TLRF_PATH"))
    print(
        f"torch-lr-finder: {'the real package' if real else 'its rule re-implemented'}; fastai: rules re-implemented"
    )
    cols = [
        "lrwatch steepest",
        "lrwatch valley",
        "torch-lr-finder",
        "fastai valley",
        "fastai steep",
    ]
    print("| seed | " + " | ".join(cols) + " |")
    print("|---" * (len(cols) + 1) + "|")
    for seed in range(args.seeds):
        model, opt, data = problem(seed)
        ours = find_lr(model, opt, nn.functional.cross_entropy, data, START, END, NUM)
        tlf = torch_lr_finder_real(seed) if real else torch_lr_finder_rule(seed)
        fa = fastai_rules(seed)
        lrs = [ours.steepest, ours.valley, tlf, fa["valley"], fa["steep"]]
        cells = [
            f"{lr:.2g} → {train_loss(seed, lr, args.train_steps):.3f}" if lr else "n/a"
            for lr in lrs
        ]
        print(f"| {seed} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
