"""What snapshots and ``rewind`` cost (issue 12): per snapshot, per step, per rewind.

    python benchmarks/rewind_cost.py [--quick] [--device cpu|cuda]

* **Snapshot cost** against the parameter count (1e5, 1e6, 1e7, 5e7 parameters; ``--quick``
  stops at 1e7): the time one snapshot takes on the training thread and the memory it holds,
  for AdamW (parameters + two moment buffers), best of a few takes.
* **Step overhead** of ``snapshot_every=100`` against a Monitor without snapshots, on an MLP
  of about 1e6 parameters (AdamW, batch 64): rounds interleaved, best round counts, the ratio
  is against the baseline measured in the same run.
* **Rewind latency**: a separate training process (the same MLP, ``snapshot_every=10``);
  request sent → restored → ack, over a held Unix socket, against ``scale_lr``'s ack (the
  same boundary round trip without a restore) measured on the same connection.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, emit

TRAINER = textwrap.dedent(
    """
    import os, sys, torch, lrwatch
    log, device = sys.argv[1], sys.argv[2]
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 512)
    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with lrwatch.Monitor(opt, log=log, model=model, snapshot_every=10) as mon:
        while not os.path.exists(log + ".stop"):
            loss = model(torch.randn(64, 512, device=device)).pow(2).mean()
            opt.zero_grad(); loss.backward(); opt.step()
            mon.step(loss=loss.item())
    """
)


def _mlp(device: str) -> Any:
    import torch

    return torch.nn.Sequential(
        torch.nn.Linear(512, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 512)
    ).to(device)


def snapshot_cost(n_params: int, device: str, takes: int) -> dict[str, Any]:
    """One AdamW state of ``n_params`` parameters: ms and MiB per snapshot."""
    import torch

    from lrwatch.train.lr import LRController
    from lrwatch.train.snapshots import Parts, take

    chunk = 1_000_000
    sizes = [chunk] * (n_params // chunk) + ([n_params % chunk] if n_params % chunk else [])
    model = torch.nn.ParameterList(torch.nn.Parameter(torch.randn(s, device=device)) for s in sizes)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    opt.step()  # allocates the moment buffers
    parts = Parts(model, opt, None, LRController(opt))
    best, mib = float("inf"), 0.0
    for _ in range(takes):
        if device == "cuda":
            torch.cuda.synchronize()
        snap = take(1, parts)
        best = min(best, snap.seconds)
        mib = snap.nbytes / 2**20
        del snap
    del model, opt, parts
    return {"params": n_params, "ms": round(best * 1e3, 2), "mib": round(mib, 1)}


def step_time(steps: int, every: int | None, device: str) -> float:
    """Seconds per training step of the MLP with a Monitor (snapshots every ``every``)."""
    import torch

    import lrwatch

    torch.manual_seed(0)
    model = _mlp(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with tempfile.TemporaryDirectory() as d:
        mon = lrwatch.Monitor(
            opt, log=Path(d) / "s.jsonl", control="none", model=model, snapshot_every=every
        )
        x = torch.randn(64, 512, device=device)
        t0 = time.perf_counter()
        for _ in range(steps):
            loss = model(x).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            mon.step(loss=loss.item())
        dt = time.perf_counter() - t0
        mon.close()
    return dt / steps


def _summary(xs: list[float]) -> dict[str, float]:
    ms = sorted(x * 1e3 for x in xs)
    return {
        "median_ms": round(statistics.median(ms), 2),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 2),
        "min_ms": round(ms[0], 2),
    }


def rewind_latency(n: int, device: str) -> dict[str, Any]:
    """Ack latency of ``rewind`` (restore included) and of ``scale_lr``, same connection."""
    from lrwatch.control.client import ControlClient, read_header

    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as d:
        log = os.path.join(d, "bench.jsonl")
        proc = subprocess.Popen([sys.executable, "-c", TRAINER, log, device], env=env)
        try:
            while not (os.path.exists(log) and read_header(log)):
                time.sleep(0.05)
            client = ControlClient.from_log(log, timeout=60)
            while not client.request("status")["snapshots"]:
                time.sleep(0.05)
            rewind, scale = [], []
            for i in range(n):
                t0 = time.perf_counter()
                reply = client.request("scale_lr", factor=2.0 if i % 2 else 0.5)
                scale.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                reply = client.request("rewind", steps_back=1)
                rewind.append(time.perf_counter() - t0)
                assert reply["ok"], reply
            client.close()
        finally:
            Path(log + ".stop").touch()
            proc.wait(timeout=60)
    return {"rewind_ack": _summary(rewind), "scale_lr_ack_baseline": _summary(scale)}


def summary_rows(r: dict[str, Any]) -> list[Any]:
    """run_all's summary rows (``summary.Row``): the largest snapshot, step overhead, latency."""
    from summary import Row

    big = r["snapshot"][-1]
    lat, base = r["rewind_ack"], r["scale_lr_ack_baseline"]
    ratio = r["step_ratio_every_100_vs_off"]
    return [
        Row(
            "training side",
            f"one snapshot, {big['params']:,} params + AdamW state",
            f"{big['ms']:.0f} ms, {big['mib']:.0f} MiB",
        ),
        Row(
            "training side",
            f"step time with `snapshot_every=100` ({r['mlp_params']:,}-param MLP)",
            f"{r['step_ms']['every_100']:.3f} ms",
            f"no snapshots {r['step_ms']['off']:.3f} ms",
            f"{ratio:.3f}×",
        ),
        Row(
            "control",
            "`rewind` ack (restore included)",
            f"median {lat['median_ms']:.1f} ms",
            f"`scale_lr` ack {base['median_ms']:.1f} ms",
            f"{lat['median_ms'] / base['median_ms']:.2f}×",
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)  # the machine is shared: one thread measures steadier
    sizes = [100_000, 1_000_000, 10_000_000] + ([] if args.quick else [50_000_000])
    takes, steps, rounds, n = (3, 300, 2, 10) if args.quick else (5, 500, 4, 40)
    cost = [snapshot_cost(s, args.device, takes) for s in sizes]
    for c in cost:
        print(f"snapshot {c['params']:>11,} params: {c['ms']:9.2f} ms  {c['mib']:8.1f} MiB")
    best = {"off": float("inf"), "every_100": float("inf")}
    for _ in range(rounds):  # interleaved: a busy machine slows both alike
        best["off"] = min(best["off"], step_time(steps, None, args.device))
        best["every_100"] = min(best["every_100"], step_time(steps, 100, args.device))
    ratio = best["every_100"] / best["off"]
    print(
        f"step: off {best['off'] * 1e3:.3f} ms, snapshot_every=100 "
        f"{best['every_100'] * 1e3:.3f} ms ({ratio:.3f}×)"
    )
    latency = rewind_latency(n, args.device)
    for key, s in latency.items():
        print(f"{key:>22}: median {s['median_ms']:8.2f} ms  p90 {s['p90_ms']:8.2f} ms")
    emit(
        "rewind_cost",
        {
            "device": args.device,
            "snapshot": cost,
            "step_ms": {k: round(v * 1e3, 3) for k, v in best.items()},
            "step_ratio_every_100_vs_off": round(ratio, 3),
            "mlp_params": sum(p.numel() for p in _mlp("cpu").parameters()),
            **latency,
        },
    )


if __name__ == "__main__":
    main()
