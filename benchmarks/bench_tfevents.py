"""TensorBoard event-file read rate: lrwatch's tfevents reader vs tensorboard's EventAccumulator.

    python benchmarks/bench_tfevents.py [--quick] [--steps N]

Generates an event file once (benchmarks/out/) with ``torch.utils.tensorboard.SummaryWriter``:
``loss``, ``lr`` and ``grad_norm`` scalars at every step. Then, in the same run, times
lrwatch (``read_runs`` on the file: framing, CRC32C, protobuf decoding, store) and
``EventAccumulator(path, size_guidance={'scalars': 0}).Reload()`` (every scalar kept), in
scalars/s. Needs torch and tensorboard (``pip install tensorboard``; not a dependency).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, emit, fmt_rate, out_dir

TAGS = ("loss", "lr", "grad_norm")


def generate(steps: int) -> Path:
    """The event file for ``steps`` steps (written once, reused)."""
    root = out_dir() / f"tfevents_{steps}"
    found = sorted(root.glob("events.out.tfevents.*")) if root.exists() else []
    if found:
        return found[0]
    import math

    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(root), max_queue=10_000, flush_secs=3600)
    for step in range(steps):
        writer.add_scalar("loss", 3.0 * math.exp(-step / 50_000) + 0.01 * math.sin(step), step)
        writer.add_scalar("lr", 3e-4 * min(1.0, (step + 1) / 2000), step)
        writer.add_scalar("grad_norm", 1.0 + 0.1 * math.cos(step), step)
    writer.close()
    return sorted(root.glob("events.out.tfevents.*"))[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="20k steps instead of 200k")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    steps = args.steps or (20_000 if args.quick else 200_000)
    path = generate(steps)
    scalars = steps * len(TAGS)
    print(f"{scalars:,} scalars, {path.stat().st_size / 1e6:.1f} MB: {path}")
    res: dict[str, Any] = {"steps": steps, "scalars": scalars, "bytes": path.stat().st_size}

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def accumulate() -> None:
        acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
        acc.Reload()
        assert len(acc.Scalars("loss")) == steps

    res["event_accumulator_sps"] = scalars / best_of(accumulate, 1)

    try:
        from lrwatch.sources import read_runs

        def lrwatch_read() -> None:
            store = read_runs([str(path)])
            run = next(iter(store.runs.values()))
            got = {k: len(s) for k, s in run.series.items()}
            assert got.get("loss") == steps, got

        res["lrwatch_sps"] = scalars / best_of(lrwatch_read, args.repeat)
        res["lrwatch_vs_event_accumulator"] = res["lrwatch_sps"] / res["event_accumulator_sps"]
    except Exception as exc:  # the tfevents reader may not have landed yet
        res["lrwatch_error"] = repr(exc)

    print(f"  EventAccumulator  {fmt_rate(res['event_accumulator_sps'])}scalars/s")
    if "lrwatch_sps" in res:
        print(
            f"  lrwatch           {fmt_rate(res['lrwatch_sps'])}scalars/s "
            f"({res['lrwatch_vs_event_accumulator']:.1f}x EventAccumulator)"
        )
    else:
        print(f"  lrwatch: unavailable ({res['lrwatch_error']})")
    emit("tfevents", res)


if __name__ == "__main__":
    main()
