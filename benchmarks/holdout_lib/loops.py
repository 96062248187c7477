"""Hand-written training loops that ``print`` their progress, as small research scripts do.

Two console styles, each written to ``train.log`` as ``python train.py > train.log`` would:

* nanoGPT-like: ``Overriding: learning_rate = 0.05`` config lines, ``iter 120: loss 3.2107,
  time 12.30ms, mfu 0.01%`` every ``log_every`` iterations (the instantaneous loss of that
  iteration) and ``step 200: train loss 3.0400, val loss 3.0481`` evaluations; no per-step LR
  unless ``print_lr``;
* PyTorch-examples-like (``examples/mnist/main.py``): ``Train Epoch: 1 [640/60000 (1%)]\\tLoss:
  0.301286`` every ``log_every`` batches of an epoch, ``Test set: Average loss: ...`` after
  each epoch; the LR is never printed.
"""

from __future__ import annotations

import math
import time
from typing import TextIO

import torch
from torch import nn

from benchmarks.holdout_lib.optim import batch_indices, lr_factor, optimizer, scheduler
from benchmarks.holdout_lib.spec import HSpec
from benchmarks.holdout_lib.tasks import Data, make_data

#: Printed non-finite losses after which a loop stops (the job would die or be killed).
NAN_STOP = 10


def prepare_model(spec: HSpec, data: Data) -> nn.Module:
    """A fresh model; for a fine-tune, first trained (unlogged) on the parent task."""
    torch.manual_seed(spec.seed)
    model = data.model()
    if spec.pretrain:
        parent = make_data("teacher", spec.seed, **spec.task_opts)
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        g = torch.Generator().manual_seed(spec.seed + 7)
        for _ in range(spec.pretrain):
            idx = batch_indices(parent.x.shape[0], 64, g)
            opt.zero_grad()
            parent.loss(model(parent.x[idx]), parent.y[idx]).backward()
            opt.step()
    return model


def _step(
    model: nn.Module, data: Data, opt: torch.optim.Optimizer, spec: HSpec, idx: torch.Tensor
) -> float:
    model.train()
    opt.zero_grad(set_to_none=True)
    loss = data.loss(model(data.x[idx]), data.y[idx])
    loss.backward()
    if spec.clip is not None:
        nn.utils.clip_grad_norm_(model.parameters(), spec.clip)
    opt.step()
    return float(loss.detach())


def _eval(model: nn.Module, data: Data, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        return float(data.loss(model(x), y))


def nanogpt_loop(spec: HSpec, data: Data, log: TextIO) -> None:
    """nanoGPT-shaped ``train.py``: the LR set by hand from ``get_lr(iter)`` each iteration."""
    model = prepare_model(spec, data)
    opt = optimizer(spec, model.parameters())
    for key, value in (
        ("learning_rate", spec.lr),
        ("max_iters", spec.steps),
        ("batch_size", spec.batch),
    ):
        print(f"Overriding: {key} = {value}", file=log)
    ctx = data.x.shape[1] if data.x.dim() == 2 else 1
    print(f"tokens per iteration will be: {spec.batch * ctx:,}", file=log)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"number of parameters: {nparams / 1e6:.2f}M", file=log)
    g = torch.Generator().manual_seed(spec.seed + 1)
    bad = 0
    for it in range(spec.steps):
        lr = spec.lr * lr_factor(spec, it)
        for group in opt.param_groups:
            group["lr"] = lr
        if spec.val_every and it % spec.val_every == 0:
            tr = _eval(model, data, data.x[:512], data.y[:512])
            va = _eval(model, data, data.xv, data.yv)
            print(f"step {it}: train loss {tr:.4f}, val loss {va:.4f}", file=log)
        t0 = time.perf_counter()
        lossf = _step(model, data, opt, spec, batch_indices(data.x.shape[0], spec.batch, g))
        dt = time.perf_counter() - t0
        if it % spec.log_every == 0:
            mfu = -100.0 if it < 5 * spec.log_every else 0.01
            lr_part = f", lr {lr:.4e}" if spec.print_lr else ""
            print(
                f"iter {it}: loss {lossf:.4f}{lr_part}, time {dt * 1000:.2f}ms, mfu {mfu:.2f}%",
                file=log,
            )
            bad = bad + 1 if not math.isfinite(lossf) else 0
            if bad >= NAN_STOP:
                break


def ptexamples_loop(spec: HSpec, data: Data, log: TextIO) -> None:
    """``examples/mnist/main.py``-shaped: epochs over a shuffled loader, per-epoch test."""
    model = prepare_model(spec, data)
    opt = (
        torch.optim.Adadelta(model.parameters(), lr=spec.lr)
        if spec.opt == "adadelta"
        else optimizer(spec, model.parameters())
    )
    per_epoch = spec.sched == "epoch_step"  # the example's StepLR(step_size=1, gamma=0.7)
    sched = (
        torch.optim.lr_scheduler.StepLR(opt, 1, gamma=0.7) if per_epoch else scheduler(spec, opt)
    )
    g = torch.Generator().manual_seed(spec.seed + 1)
    n = data.x.shape[0]
    batches = math.ceil(n / spec.batch)
    step, bad, epoch = 0, 0, 0
    while step < spec.steps and bad < NAN_STOP:
        epoch += 1
        order = torch.randperm(n, generator=g)
        for batch_idx in range(batches):
            idx = order[batch_idx * spec.batch : (batch_idx + 1) * spec.batch]
            loss = _step(model, data, opt, spec, idx)
            step += 1
            if sched is not None and not per_epoch:
                sched.step()
            if batch_idx % spec.log_every == 0:
                print(
                    f"Train Epoch: {epoch} [{batch_idx * spec.batch}/{n} "
                    f"({100.0 * batch_idx / batches:.0f}%)]\tLoss: {loss:.6f}",
                    file=log,
                )
                bad = bad + 1 if not math.isfinite(loss) else 0
            if step >= spec.steps or bad >= NAN_STOP:
                break
        test = _eval(model, data, data.xv, data.yv)
        print(f"\nTest set: Average loss: {test:.4f}, Accuracy: {_correct(model, data)}/{len(data.yv)}"
              f" ({100.0 * _correct(model, data) / len(data.yv):.0f}%)\n", file=log)  # fmt: skip
        if per_epoch:
            sched.step()


def _correct(model: nn.Module, data: Data) -> int:
    if not data.classes:
        return 0
    with torch.no_grad():
        out = model(data.xv)
    pred = (out > 0).long() if out.dim() == 1 and data.classes == 2 else out.argmax(1)
    return int((pred == data.yv.long()).sum()) if pred.shape == data.yv.shape else 0
