"""A small, deterministic torch training run with an lrwatch Monitor (run as a subprocess).

    python trainee.py LOG --min-steps N [--stop-file F] [--control SPEC] [--crash-at K]

Trains a linear regression with SGD + StepLR for at least N steps, then keeps going until the
stop file exists (so a test can talk to a live run for as long as it needs), up to 20000 steps.
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
    ap.add_argument("--min-steps", type=int, default=50)
    ap.add_argument("--stop-file", default=None)
    ap.add_argument("--control", default="unix")
    ap.add_argument("--crash-at", type=int, default=None)
    ap.add_argument("--sleep", type=float, default=0.002)
    ap.add_argument("--snapshot-every", type=int, default=None)  # rewind tests
    ap.add_argument("--save-params", default=None, help="torch.save the final state here")
    args = ap.parse_args()

    torch.manual_seed(1234)
    w_true = torch.randn(16, 1)
    model = torch.nn.Linear(16, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10_000, gamma=0.5)
    snaps = {"model": model, "snapshot_every": args.snapshot_every}
    with lrwatch.Monitor(opt, sched, log=args.log, control=args.control, **snaps) as mon:
        step = 0
        while step < 20_000:
            if step >= args.min_steps and (
                args.stop_file is None or os.path.exists(args.stop_file)
            ):
                break
            x = torch.randn(32, 16)
            y = x @ w_true + 0.01 * torch.randn(32, 1)
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if args.crash_at is not None and step == args.crash_at:
                raise RuntimeError("deliberate crash")
            mon.step(loss=loss)
            time.sleep(args.sleep)
    if args.save_params:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict()}, args.save_params)


if __name__ == "__main__":
    main()
