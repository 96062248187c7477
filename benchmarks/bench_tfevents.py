"""TensorBoard event-file read time: lrwatch's tfevents reader vs tensorboard's EventAccumulator.

    python benchmarks/bench_tfevents.py [--quick] [--steps N] [--repeat N]

Generates an event file once (benchmarks/out/tfevents_<steps>/) with
``torch.utils.tensorboard.SummaryWriter``: ``loss``, ``lr``, ``grad_norm`` and ``throughput``
scalars at every step (1,000,000 steps, 4,000,000 scalars; 20,000 steps with --quick; the
first full-size run spends minutes writing it). Then, in the same run and on the same file,
times:

* ``EventAccumulator(path, size_guidance={'scalars': 0}).Reload()`` (every scalar kept),
  once: it is the slow one;
* lrwatch ``read_runs`` on the file (framing, CRC32C, protobuf decoding, store) as
  ``lrwatch inspect`` and ``diagnose`` read it: block mode (``blocks=True``), best of
  ``--repeat``;
* the same with ``blocks=False`` (the per-record path the live tailer's consumers get),
  best of ``--repeat``.

Each time is wall clock and this process's CPU time; the ratios are EventAccumulator's time
over lrwatch's. The machine is shared: CPU-time ratios move less with the load than wall-time
ones. Needs torch and tensorboard (``pip install tensorboard``; not dependencies).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, fmt_rate, loadavg, out_dir

TAGS = ("loss", "lr", "grad_norm", "throughput")


def generate(steps: int) -> Path:
    """The event file for ``steps`` steps (written once, into a temporary folder that is
    renamed when complete, so an interrupted run never leaves a short file to reuse)."""
    root = out_dir() / f"tfevents_{steps}"
    found = sorted(root.glob("events.out.tfevents.*")) if root.exists() else []
    if found:
        return found[0]
    import math

    from torch.utils.tensorboard import SummaryWriter

    tmp = root.with_name(root.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    writer = SummaryWriter(log_dir=str(tmp), max_queue=10_000, flush_secs=3600)
    for step in range(steps):
        writer.add_scalar("loss", 3.0 * math.exp(-step / 50_000) + 0.01 * math.sin(step), step)
        writer.add_scalar("lr", 3e-4 * min(1.0, (step + 1) / 2000), step)
        writer.add_scalar("grad_norm", 1.0 + 0.1 * math.cos(step), step)
        writer.add_scalar("throughput", 5000.0 + 100.0 * math.sin(step / 7), step)
    writer.close()
    tmp.rename(root)
    return sorted(root.glob("events.out.tfevents.*"))[0]


def timed(fn: Callable[[], Any], repeat: int) -> dict[str, float]:
    """Best wall and best CPU seconds of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return {"wall_s": round(min(wall), 3), "cpu_s": round(min(cpu), 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="20k steps instead of 1M")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=2, help="lrwatch reads per path (best kept)")
    args = ap.parse_args()
    steps = args.steps or (20_000 if args.quick else 1_000_000)
    path = generate(steps)
    scalars = steps * len(TAGS)
    size = path.stat().st_size
    print(f"{scalars:,} scalars, {size / 1e6:.1f} MB: {path}")
    res: dict[str, Any] = {"steps": steps, "tags": len(TAGS), "scalars": scalars, "bytes": size}
    res["loadavg_before"] = [round(x, 2) for x in loadavg()]

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from lrwatch.sources import read_runs

    def accumulate() -> None:
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        assert all(len(acc.Scalars(tag)) == steps for tag in TAGS)

    def lrwatch_read(blocks: bool) -> Callable[[], None]:
        def read() -> None:
            store = read_runs([str(path)], blocks=blocks)
            run = next(iter(store.runs.values()))
            got = {k: len(s) for k, s in run.series.items()}
            assert all(got.get(tag) == steps for tag in TAGS) and run.skipped == 0, got

        return read

    # lrwatch before and after the long EventAccumulator read, so a change of load during
    # the run shows up as a spread rather than as a skewed ratio.
    half = max(1, args.repeat // 2)
    blocks = timed(lrwatch_read(True), half)
    acc = timed(accumulate, 1)
    per_record = timed(lrwatch_read(False), args.repeat)
    again = timed(lrwatch_read(True), max(1, args.repeat - half))
    blocks = {k: min(blocks[k], again[k]) for k in blocks}
    res["loadavg_after"] = [round(x, 2) for x in loadavg()]
    res["event_accumulator"] = acc
    res["lrwatch_blocks"] = blocks
    res["lrwatch_per_record"] = per_record
    res["event_accumulator_sps"] = scalars / acc["wall_s"]
    res["lrwatch_sps"] = scalars / blocks["wall_s"]
    res["lrwatch_per_record_sps"] = scalars / per_record["wall_s"]
    for name, got in (("blocks", blocks), ("per_record", per_record)):
        for clock in ("wall", "cpu"):
            res[f"ratio_{name}_{clock}"] = round(acc[f"{clock}_s"] / got[f"{clock}_s"], 2)
    res["lrwatch_vs_event_accumulator"] = res["ratio_blocks_wall"]

    print(f"  load average {res['loadavg_before']} -> {res['loadavg_after']}")
    rows = (
        ("EventAccumulator", acc, None),
        ("lrwatch read_runs, blocks=True", blocks, "blocks"),
        ("lrwatch read_runs, blocks=False", per_record, "per_record"),
    )
    for label, got, key in rows:
        line = (
            f"  {label:<32} {got['wall_s']:8.2f} s wall {got['cpu_s']:8.2f} s CPU  "
            f"{fmt_rate(scalars / got['wall_s'])}scalars/s"
        )
        if key:
            line += f"  {res[f'ratio_{key}_wall']:.1f}x ({res[f'ratio_{key}_cpu']:.1f}x CPU)"
        print(line)
    emit("tfevents", res)


if __name__ == "__main__":
    main()
