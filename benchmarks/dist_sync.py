"""Cost per step of lrwatch's distributed LR sync, 2 gloo ranks on CPU.

    python benchmarks/dist_sync.py [--steps 2000]

In one run, on the same two processes, times a tiny DDP training step (Linear 64->64, batch 32)
without any sync (baseline), with ``DistSync(every=1)`` (blocking broadcast each step) and with
``DistSync(every=8)`` (async broadcast every 8 steps), then the bare ``exchange`` call alone.
Prints microseconds per step (median of 5 repeats) from rank 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 5


def _timed(fn, steps: int) -> float:
    """Median microseconds per step of ``fn(step)`` over REPEATS runs of ``steps`` steps."""
    import torch.distributed as dist

    out = []
    for _ in range(REPEATS):
        dist.barrier()
        t0 = time.perf_counter()
        for s in range(steps):
            fn(s)
        dist.barrier()
        out.append((time.perf_counter() - t0) / steps * 1e6)
    return statistics.median(out)


def rank_main(rank: int, init_file: str, steps: int) -> None:
    """One rank: time each variant and print the table on rank 0."""
    import torch
    import torch.distributed as dist

    from lrwatch.train.dist import DistSync

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=2)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(64, 64))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x = torch.randn(32, 64)

    def train(_: int) -> None:
        model(x).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()

    rows = []
    base = _timed(train, steps)
    rows.append(("DDP step, no sync (baseline)", base))
    for every in (1, 8):
        sync = DistSync(every=every)

        def with_sync(s: int, sync: DistSync = sync) -> None:
            sync.exchange(s, None)
            train(s)

        rows.append((f"DDP step + exchange(every={every})", _timed(with_sync, steps)))
        sync.close()
    for every in (1, 8):
        sync = DistSync(every=every)
        rows.append(
            (f"exchange(every={every}) alone", _timed(lambda s, y=sync: y.exchange(s), steps))
        )
        sync.close()
    dist.destroy_process_group()
    if rank == 0:
        print(f"2 gloo ranks, {steps} steps x {REPEATS} repeats, median us/step")
        for name, us in rows:
            extra = f"  (+{us - base:7.1f} us vs baseline)" if name.startswith("DDP step +") else ""
            print(f"  {name:<36} {us:9.1f}{extra}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--rank", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--init", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rank is not None:
        rank_main(args.rank, args.init, args.steps)
        return
    env = {**os.environ, "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        init = str(Path(tmp) / "init")
        cmd = [sys.executable, __file__, "--steps", str(args.steps), "--init", init, "--rank"]
        procs = [subprocess.Popen([*cmd, str(r)], env=env) for r in range(2)]
        sys.exit(max(p.wait() for p in procs))


if __name__ == "__main__":
    main()
