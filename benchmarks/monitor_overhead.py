"""Per-step cost of ``Monitor.step`` with 4 metrics, against baselines measured in the same run.

    python benchmarks/monitor_overhead.py [--quick]

Baselines: torch's ``SummaryWriter.add_scalar`` for the same 4 metrics, and a bare
``json.dumps`` + ``file.write`` of the same dict. Variants are interleaved round by round and
the best round counts, so a busy machine hurts every variant alike. Goal (issue 4): Monitor
≤ 0.5× SummaryWriter, a few µs per step.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import machine, out_dir


def bench_monitor(
    tmp: Path,
    n: int,
    tensors: bool = False,
    optimizer: bool = False,
    system_every: float | None = None,
) -> float:
    import torch

    import lrwatch

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1) if optimizer else None
    log = tmp / f"m{time.perf_counter_ns()}.jsonl"
    mon = lrwatch.Monitor(opt, log=log, run="bench", system_every=system_every)
    loss = torch.tensor(0.5) if tensors else 0.5
    t0 = time.perf_counter()
    for _ in range(n):
        mon.step(loss=loss, grad_norm=1.25, acc=0.75, tokens_per_s=12345.0)
    dt = time.perf_counter() - t0
    mon.close()
    return dt / n


def bench_tensorboard(tmp: Path, n: int) -> float:
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(log_dir=str(tmp / f"tb{time.perf_counter_ns()}"))
    t0 = time.perf_counter()
    for i in range(n):
        w.add_scalar("loss", 0.5, i)
        w.add_scalar("grad_norm", 1.25, i)
        w.add_scalar("acc", 0.75, i)
        w.add_scalar("tokens_per_s", 12345.0, i)
    dt = time.perf_counter() - t0
    w.close()
    return dt / n


def bench_json(tmp: Path, n: int) -> float:
    with open(tmp / f"j{time.perf_counter_ns()}.jsonl", "w") as f:
        t0 = time.perf_counter()
        for i in range(n):
            rec = {"step": i, "t": time.time(), "loss": 0.5, "grad_norm": 1.25}
            rec.update(acc=0.75, tokens_per_s=12345.0)
            f.write(json.dumps(rec) + "\n")
        dt = time.perf_counter() - t0
    return dt / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    n, rounds = (5_000, 3) if args.quick else (50_000, 5)
    variants: dict[str, Callable[[Path, int], float]] = {
        "monitor": bench_monitor,
        "monitor_tensor_loss": lambda tmp, n: bench_monitor(tmp, n, tensors=True),
        "monitor_with_optimizer": lambda tmp, n: bench_monitor(tmp, n, optimizer=True),
        # System metrics sampled in their own thread: at the suggested 10 s (no sample falls
        # in a round: what a step pays for the sampler existing), and every 5 ms (a stress
        # test, 2000× the suggested rate: the GIL the sampler's psutil calls hold).
        "monitor_system_10s": lambda tmp, n: bench_monitor(tmp, n, system_every=10.0),
        "monitor_system_5ms": lambda tmp, n: bench_monitor(tmp, n, system_every=0.005),
        "summarywriter": bench_tensorboard,
        "json_write": bench_json,
    }
    best = {k: float("inf") for k in variants}
    with tempfile.TemporaryDirectory() as d:
        for _ in range(rounds):
            for name, fn in variants.items():
                best[name] = min(best[name], fn(Path(d), n))
    us = {k: round(v * 1e6, 3) for k, v in best.items()}
    result = {
        "bench": "monitor_overhead",
        "steps": n,
        "rounds": rounds,
        "us_per_step": us,
        "ratio_vs_summarywriter": round(best["monitor"] / best["summarywriter"], 3),
        "ratio_vs_json_write": round(best["monitor"] / best["json_write"], 3),
        "ratio_system_10s_vs_monitor": round(best["monitor_system_10s"] / best["monitor"], 3),
        "ratio_system_5ms_vs_monitor": round(best["monitor_system_5ms"] / best["monitor"], 3),
        "machine": machine(),
    }
    for k, v in us.items():
        print(f"{k:>24}: {v:8.2f} µs/step")
    print(
        f"Monitor.step = {result['ratio_vs_summarywriter']}× SummaryWriter, "
        f"{result['ratio_vs_json_write']}× json.dumps+write"
    )
    (out_dir() / "monitor_overhead.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
