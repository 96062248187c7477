"""A live run with a real LR schedule, for the schedule-forecast tests (run as a subprocess).

    python schedule_trainee.py LOG STOP_FILE [--loop-sets-lr] [--sleep S]

Two param groups (SGD, the second at a tenth of the LR) under a Hugging Face-style LambdaLR
(linear warmup over 50 steps, then linear decay over TOTAL steps), or, with
``--loop-sets-lr``, no scheduler and a loop that assigns the LR itself (nanoGPT). Trains until
the stop file exists (or TOTAL steps).
"""

from __future__ import annotations

import argparse
import os
import time

import torch

import lrwatch

TOTAL = 20_000


def lr_lambda(epoch: int) -> float:
    """Warmup to 1 over 50 steps, then linear decay to 0.01 at TOTAL."""
    return min(1.0, (epoch + 1) / 50) * max(0.01, 1.0 - epoch / TOTAL)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("stop_file")
    ap.add_argument("--loop-sets-lr", action="store_true")
    ap.add_argument("--sleep", type=float, default=0.002)
    args = ap.parse_args()
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 1)
    groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.01}]
    opt = torch.optim.SGD(groups, lr=0.1)
    loop = args.loop_sets_lr
    sched = None if loop else torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda)
    x, y = torch.randn(64, 8), torch.randn(64, 1)
    mon = lrwatch.Monitor(opt, sched, log=args.log, total_steps=TOTAL, loop_sets_lr=loop or None)
    with mon:
        for it in range(TOTAL):
            if os.path.exists(args.stop_file):
                break
            if loop:
                for g, base in zip(opt.param_groups, (0.1, 0.01), strict=True):
                    g["lr"] = base * lr_lambda(it)
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            mon.step(loss=loss.item())
            time.sleep(args.sleep)


if __name__ == "__main__":
    main()
