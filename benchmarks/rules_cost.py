"""Per-record cost of the rule engine on 1M records, against baselines measured in the same run.

Baselines: a bare loop appending each record's loss to a bounded deque (the least any
incremental consumer does), and ``RunData.add`` (what the store does with the same records).
The stream is a realistic warmup + cosine run with loss, lr and grad_norm on every record, a
val loss every 1000 steps, and a few spikes, so every rule does its work.

    python benchmarks/rules_cost.py [--records N] [--batch B]
"""

from __future__ import annotations

import argparse
import math
import time
from collections import deque

import numpy as np

from lrwatch.records import Metrics, Record
from lrwatch.rules import Engine
from lrwatch.store import RunData


def make_records(n: int, seed: int = 0) -> list[Record]:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    warm = max(1, n // 20)
    lr = np.where(t < warm, 1e-3 * (t + 1) / warm, 1e-3 * 0.5 * (1 + np.cos(np.pi * t / n)))
    loss = (0.5 + 3.0 / (1 + t / 2000) ** 0.7) * np.exp(0.1 * rng.standard_normal(n))
    loss[rng.integers(warm, n, 20)] *= 4.0
    grad = np.exp(0.2 * rng.standard_normal(n))
    out: list[Record] = []
    for i in range(n):
        values = {"loss": float(loss[i]), "lr": float(lr[i]), "grad_norm": float(grad[i])}
        if i and i % 1000 == 0:
            values["val_loss"] = float(0.45 + 3.0 / (1 + i / 2000) ** 0.7)
        out.append(Metrics(i, values))
    return out


def timed(fn, records: list[Record], batch: int) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    for i in range(0, len(records), batch):
        fn(records[i : i + batch])
    return time.perf_counter() - start


def bare_deque(records: list[Record], batch: int) -> float:
    window: deque[float] = deque(maxlen=64)

    def consume(chunk: list[Record]) -> None:
        for rec in chunk:
            loss = rec.values.get("loss")  # type: ignore[union-attr]
            if loss is not None and math.isfinite(loss):
                window.append(loss)

    return timed(consume, records, batch)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000, help="records per feed() call")
    args = parser.parse_args()
    n = args.records
    t0 = time.perf_counter()
    records = make_records(n)
    print(f"generated {n:,} records in {time.perf_counter() - t0:.1f} s")
    base = bare_deque(records, args.batch)
    store = timed(RunData("bench").add, records, args.batch)
    engine = Engine()
    cost = timed(engine.feed, records, args.batch)
    per = 1e6 / n
    print(f"baseline  bare loop + deque append  {base * per:7.2f} µs/record")
    print(f"baseline  RunData.add (the store)   {store * per:7.2f} µs/record")
    print(
        f"engine    Engine.feed               {cost * per:7.2f} µs/record"
        f"  ({cost / base:.0f}× the bare loop, {cost / store:.1f}× the store)"
    )
    print(f"          {n / cost / 1e6:.2f} M records/s; findings: {len(engine.findings)}")
    for f in engine.findings:
        print(f"          {f.severity:7} {f.symptom:14} step {f.step}")


if __name__ == "__main__":
    main()
