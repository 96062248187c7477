"""A tiny real training run that is stable until told to blow up, and keeps snapshots, for
the autopilot's rewind countdown test.

Usage: python train_blowup.py LOG STOP_FILE GO_FILE. Linear regression with SGD at LR 0.05
(it converges); a Monitor with a control socket next to LOG (run ``snap``) that keeps a
snapshot every 20 steps, the newest 100 (a tiny model; a loaded machine may take many steps
to send the rewind, which must still find its snapshot). Once GO_FILE exists the loop
multiplies the LR by 25 (1.25: every step multiplies the error by 1.5, a divergence), once,
so the test decides when the trouble starts: after the snapshots from before it are known.
Runs until STOP_FILE exists (at most 20,000 steps), sleeping 10 ms a step.
"""

from __future__ import annotations

import os
import sys
import time

import torch

import lrwatch

log, stop, go = sys.argv[1], sys.argv[2], sys.argv[3]
torch.manual_seed(0)
w_true = torch.randn(8, 1)
model = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
blown = False
with lrwatch.Monitor(
    opt, log=log, control="unix", run="snap", model=model, snapshot_every=20, keep=100
) as mon:
    for _ in range(20_000):
        if os.path.exists(stop):
            break
        if not blown and os.path.exists(go):
            blown = True
            for group in opt.param_groups:
                group["lr"] *= 25
        x = torch.randn(256, 8)
        loss = torch.nn.functional.mse_loss(model(x), x @ w_true)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon.step(loss=loss.item())
        time.sleep(0.01)
