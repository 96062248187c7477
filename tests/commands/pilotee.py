"""A real torch run whose LR the schedule makes ×10 too high, for ``guard --autopilot``
(run as a subprocess).

    python pilotee.py LOG (--jump-every P | --jump-at J) [--steps N] [--stop-file F]
                      [--snapshot-every S] [--sleep X]

Linear regression as in guardee.py (8 inputs, batch 256: the loss' curvature is ~2, so SGD
at LR 0.3 converges in a few steps and at 3.0 each step multiplies the error by ~5), started
at the solution, so the loss sits at its noise floor (~0.01) from the first step. Gradients
are clipped to norm 1 (as most training loops do): a too-high LR makes the loss bounce far
above the floor — the divergence rule fires — but it stays finite, and a lowered LR brings it
back in a few steps.

- ``--jump-every P``: a LambdaLR multiplies the LR by 10 every P steps, so a run the
  autopilot fixed (÷10, re-anchoring the schedule) blows up again P steps later: a run that
  keeps re-triggering;
- ``--jump-at J``: ×10 once, from step J on (it never comes back by itself); with
  ``--snapshot-every S`` the Monitor keeps a snapshot every S steps (the newest 4), so a
  rewind to one before J with ÷10 puts the run back on a healthy path.

It runs ``N`` loop iterations (the Monitor's steps go back on a rewind; the data stream does
not) or until the stop file exists, one step per ``--sleep`` s, and finishes.
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import lrwatch

DIMS, BATCH, LR = 8, 256, 0.3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--jump-every", type=int, default=0)
    ap.add_argument("--jump-at", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--stop-file", default=None)
    ap.add_argument("--snapshot-every", type=int, default=None)
    ap.add_argument("--sleep", type=float, default=0.02)
    args = ap.parse_args()

    torch.manual_seed(0)
    w_true = torch.randn(DIMS, 1)
    model = torch.nn.Linear(DIMS, 1, bias=False)
    with torch.no_grad():
        model.weight.copy_(w_true.T)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    every, at = args.jump_every, args.jump_at

    def factor(s: int) -> float:
        if every:
            return 10.0 ** (s // every)
        return 10.0 if at and s >= at else 1.0

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    snaps = {"model": model, "snapshot_every": args.snapshot_every, "keep": 4}
    with lrwatch.Monitor(opt, sched, log=args.log, run="run", **snaps) as mon:
        for _ in range(args.steps):
            if args.stop_file and os.path.exists(args.stop_file):
                break
            x = torch.randn(BATCH, DIMS)
            y = x @ w_true + 0.1 * torch.randn(BATCH, 1)
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            mon.step(loss=loss)
            time.sleep(args.sleep)


if __name__ == "__main__":
    main()
