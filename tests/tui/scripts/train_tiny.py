"""A tiny real training run with a Monitor, for the UI's end-to-end tests.

Usage: python train_tiny.py LOG STEPS [SLEEP]. Logs loss/lr to LOG and opens a control
socket next to it; sleeps between steps so a test has time to steer it.
"""

from __future__ import annotations

import sys
import time

import torch

import lrwatch

log, steps = sys.argv[1], int(sys.argv[2])
sleep = float(sys.argv[3]) if len(sys.argv) > 3 else 0.02
torch.manual_seed(0)
model = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x, y = torch.randn(256, 8), torch.randn(256, 1)
with lrwatch.Monitor(opt, log=log, control="unix", run="tiny") as mon:
    for step in range(1, steps + 1):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon.step(step, loss=loss.item())
        time.sleep(sleep)
