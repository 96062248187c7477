"""A tiny real training run that keeps snapshots (or diverges), for the rewind and autopilot
UI tests.

Usage: python train_snap.py LOG STOP_FILE [LR] [SNAPSHOT_EVERY]. Linear regression with SGD at
``LR`` (default 0.05: it converges; 1.05 makes every step multiply the error by ~1.1, a slow
divergence); a Monitor with a control socket next to LOG (run ``snap``) that keeps a snapshot
every ``SNAPSHOT_EVERY`` steps (default 50, the newest 10). Runs until STOP_FILE exists (at
most 20,000 steps), sleeping 10 ms a step so a test has time to steer it.
"""

from __future__ import annotations

import os
import sys
import time

import torch

import lrwatch

log, stop = sys.argv[1], sys.argv[2]
lr = float(sys.argv[3]) if len(sys.argv) > 3 else 0.05
every = int(sys.argv[4]) if len(sys.argv) > 4 else 50
torch.manual_seed(0)
w_true = torch.randn(8, 1)
model = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=lr)
with lrwatch.Monitor(
    opt, log=log, control="unix", run="snap", model=model, snapshot_every=every, keep=10
) as mon:
    for _ in range(20_000):
        if os.path.exists(stop):
            break
        x = torch.randn(256, 8)
        loss = torch.nn.functional.mse_loss(model(x), x @ w_true)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon.step(loss=loss.item())
        time.sleep(0.01)
