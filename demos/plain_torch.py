"""A plain PyTorch loop instrumented with lrwatch.Monitor (copy this into your script).

    python demos/plain_torch.py --steps 500          # then, in another terminal:
    lrwatch watch runs/plain_torch.jsonl            # charts, findings, live LR changes

Three lines are lrwatch: create the Monitor with your optimizer (and scheduler), call
``mon.step(loss=...)`` after ``optimizer.step()``, and close it (the ``with`` block does).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import lrwatch


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--log", default="runs/plain_torch.jsonl")
    args = p.parse_args()

    torch.manual_seed(0)
    x = torch.randn(2048, 20)
    y = (x @ torch.randn(20, 4)).argmax(1)  # a learnable 4-class problem
    model = nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 4))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=args.steps)

    # The Monitor logs JSONL and opens a control socket next to the log; LR changes sent from
    # the UI (or `lrwatch ctl`) are applied inside mon.step(), between two optimizer steps,
    # and re-anchor the scheduler so the cosine keeps its shape.
    with lrwatch.Monitor(opt, sched, log=args.log) as mon:
        for step in range(1, args.steps + 1):
            idx = torch.randint(0, len(x), (64,))
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0)
            opt.step()
            sched.step()
            mon.step(step, loss=loss.item(), grad_norm=grad_norm.item())  # lr is added for you
            if step % 100 == 0:
                with torch.no_grad():
                    val = nn.functional.cross_entropy(model(x[:256]), y[:256]).item()
                mon.log(step, val_loss=val)  # eval metrics: not a step boundary
    print(f"done: {args.steps} steps, log {args.log}")


if __name__ == "__main__":
    main()
