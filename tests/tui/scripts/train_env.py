"""A real training run whose ``lrwatch.Monitor()`` takes everything from the environment.

Usage: python train_env.py STEPS [SLEEP]. Under ``lrwatch run`` the Monitor logs to
``$LRWATCH_LOG`` and opens its socket next to it; it also prints nanoGPT-style lines.
"""

from __future__ import annotations

import sys
import time

import torch

import lrwatch

steps = int(sys.argv[1])
sleep = float(sys.argv[2]) if len(sys.argv) > 2 else 0.02
torch.manual_seed(0)
model = torch.nn.Linear(8, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
x, y = torch.randn(256, 8), torch.randn(256, 1)
with lrwatch.Monitor(opt) as mon:
    for step in range(1, steps + 1):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        mon.step(step, loss=loss.item())
        print(f"iter {step}: loss {loss.item():.4f}, time {sleep * 1000:.2f}ms, mfu 1.00%")
        time.sleep(sleep)
print("done")
