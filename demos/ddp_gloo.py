"""Two processes under torch.distributed (gloo, CPU) with one Monitor per rank.

    python demos/ddp_gloo.py --steps 200 && lrwatch watch runs/ddp_gloo.jsonl

Rank 0 writes the log and serves the control socket; every rank creates a Monitor and calls
``mon.step()`` each step, and a live LR change is broadcast so all ranks apply it at the same
step (the replicas must not drift apart). Launch with torchrun instead if you prefer; this
script spawns its two ranks itself so it runs with plain ``python``.
"""

from __future__ import annotations

import argparse
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

import lrwatch


def worker(rank: int, world: int, port: int, steps: int, log: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    torch.manual_seed(0)  # same initial weights on every rank
    model = DDP(nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 1)))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    g = torch.Generator().manual_seed(rank)  # each rank sees its own shard of data
    mon = lrwatch.Monitor(opt, log=log)  # only rank 0 writes and listens
    for step in range(1, steps + 1):
        x = torch.randn(32, 10, generator=g)
        loss = nn.functional.mse_loss(model(x), x.sum(1, keepdim=True))
        opt.zero_grad()
        loss.backward()  # DDP averages the gradients across ranks here
        opt.step()
        mon.step(step, loss=loss.item())  # every rank calls it: the LR sync is collective
    mon.close()
    # Leave together: a rank that tears its gloo group down while the other still talks to
    # it can abort the other process ("terminate called without an active exception").
    dist.barrier()
    dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--log", default="runs/ddp_gloo.jsonl")
    args = p.parse_args()
    mp.spawn(worker, args=(2, free_port(), args.steps, args.log), nprocs=2, join=True)
    print(f"done: 2 ranks × {args.steps} steps, log {args.log}")


if __name__ == "__main__":
    main()
