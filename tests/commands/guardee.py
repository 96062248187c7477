"""A small real torch run for ``lrwatch guard`` tests (run as a subprocess).

    python guardee.py LOG MODE [--steps N] [--stop-file F] [--sleep S]

MODE:
- ``healthy``: linear regression at a good LR; finishes.
- ``diverge``: the LR is far too high from the start, the loss overflows to inf; the loop
  raises once the loss is not finite (the Monitor writes ``end`` with ``crashed``).
- ``recover``: a good start, then the LR 5× too high for a stretch (the loss climbs far above
  its start), then the loop lowers it again and the loss comes back down; finishes.
- ``flaky``: a good LR, but every 12th batch is corrupt (NaN inputs): its loss is NaN and the
  loop skips that step (as a grad scaler would), so the weights stay fine and the ``nan_inf``
  finding resolves and reopens over and over; runs until the stop file exists.
"""

from __future__ import annotations

import argparse
import math
import os
import time

import torch

import lrwatch

#: A well-conditioned problem (batch ≫ dims): the loss' curvature is ~2, so LR 0.3 converges
#: in a few steps and LR 1.5 diverges (each step multiplies the error by |1 - 2·LR|).
DIMS, BATCH = 8, 256
GOOD_LR, HOT_LR = 0.3, 1.5


def lr_at(mode: str, step: int) -> float:
    """The LR the loop sets at ``step``."""
    if mode == "diverge":
        return HOT_LR
    if mode == "recover" and 40 <= step < 55:
        return HOT_LR
    return GOOD_LR


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("mode", choices=("healthy", "diverge", "recover", "flaky"))
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--stop-file", default=None)
    ap.add_argument("--sleep", type=float, default=0.002)
    args = ap.parse_args()

    torch.manual_seed(0)
    w_true = torch.randn(DIMS, 1)
    model = torch.nn.Linear(DIMS, 1)
    opt = torch.optim.SGD(model.parameters(), lr=lr_at(args.mode, 0))
    with lrwatch.Monitor(opt, log=args.log, run=args.mode) as mon:
        step = 0
        while step < args.steps or (args.stop_file and not os.path.exists(args.stop_file)):
            for group in opt.param_groups:
                group["lr"] = lr_at(args.mode, step)
            x = torch.randn(BATCH, DIMS)
            if args.mode == "flaky" and step % 12 == 11:
                x[0, 0] = math.nan  # a corrupt sample
            y = x @ w_true + 0.1 * torch.randn(BATCH, 1)
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad()
            loss.backward()
            finite = math.isfinite(loss.item())
            if finite:
                opt.step()
            step += 1
            mon.step(loss=loss)
            if args.mode == "diverge" and not finite:
                raise FloatingPointError(f"the loss is {loss.item()} at step {step}")
            time.sleep(args.sleep)


if __name__ == "__main__":
    main()
