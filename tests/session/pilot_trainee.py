"""A real torch training run for the autopilot's end-to-end tests (run as a subprocess).

    python pilot_trainee.py LOG --stop-file F [--lr X] [--jump-every P] [--shift-at N]

Linear regression (16 inputs, noise 0.3) with plain SGD, started at the solution (as a
fine-tuning run would be), so the loss sits at its noise floor (~0.09) from the first step.
The MSE's Hessian is 2·I: SGD is stable for an LR below 1 and diverges above it.

- ``--jump-every P``: a LambdaLR that multiplies the LR by 10 every P steps, so a stable run
  blows up again and again (a run that keeps re-triggering the divergence rule);
- ``--shift-at N``: at step N the target flips sign (a data shift): the loss jumps ~700×
  although the LR is fine, and lowering it only slows the re-fit.

It runs until the stop file exists (at most ``--max-steps``), one step per ``--sleep`` s.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import lrwatch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--stop-file", required=True)
    ap.add_argument("--lr", type=float, default=0.125)
    ap.add_argument("--jump-every", type=int, default=0)
    ap.add_argument("--shift-at", type=int, default=0)
    ap.add_argument("--sleep", type=float, default=0.03)
    ap.add_argument("--max-steps", type=int, default=3000)
    args = ap.parse_args()

    torch.manual_seed(7)
    w_true = torch.randn(16, 1)
    model = torch.nn.Linear(16, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(w_true.T)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    every = args.jump_every
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, (lambda s: 10.0 ** (s // every)) if every else (lambda s: 1.0)
    )
    with lrwatch.Monitor(opt, sched, log=args.log) as mon:
        for step in range(1, args.max_steps + 1):
            if os.path.exists(args.stop_file):
                break
            target = -w_true if args.shift_at and step >= args.shift_at else w_true
            x = torch.randn(32, 16)
            y = x @ target + 0.3 * torch.randn(32, 1)
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            mon.step(loss=loss)
            time.sleep(args.sleep)


if __name__ == "__main__":
    main()
