"""Append-to-store latency of the tailer: a writer process appends, the follow loop reads.

    python benchmarks/bench_tail.py [--quick] [--seconds S] [--rate R]

A writer process appends lrwatch JSONL records (``t`` = ``time.time()`` when written, one
flushed ``write`` per burst of 1-5 records) at about R records/s. The reader is the real
thing: ``open_runs(follow=True)`` and ``lrwatch.sources.follow`` in a thread, filling a
MetricStore. Latency = the time a record is in the store minus its ``t`` (same clock);
reported p50 / p95 / max, and also at the ``on_batch`` notification the UI reacts to.
Goal: ≤ 150 ms.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, emit

from lrwatch.records import Metrics
from lrwatch.store import MetricStore, RunData

WRITER = """
import random, sys, time
path, seconds, rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
with open(path, "a", buffering=1) as fh:
    fh.write('{"kind": "run", "v": 1, "run": "tail", "t": %.6f}\\n' % time.time())
    step, end = 0, time.time() + seconds
    while time.time() < end:
        lines = []
        for _ in range(random.randint(1, 5)):
            lines.append('{"step": %d, "t": %.6f, "loss": %r, "lr": 0.001}\\n'
                         % (step, time.time(), 1.0 / (step + 1)))
            step += 1
        fh.write("".join(lines))
        fh.flush()
        time.sleep(len(lines) / rate * random.uniform(0.5, 1.5))
print(step)
"""


class TimedRun(RunData):
    """A RunData that notes when each metric record landed in it."""

    latencies: list[float]

    def add(self, records: Any) -> int:
        records = list(records)
        n = super().add(records)
        now = time.time()
        self.latencies.extend(now - r.t for r in records if isinstance(r, Metrics) and r.t)
        return n


class TimedStore(MetricStore):
    def run(self, name: str, **info: Any) -> RunData:
        r = self.runs.get(name)
        if r is None:
            r = self.runs[name] = TimedRun(name=name, **info)
            r.latencies = []
        return r


def open_follow(path: str) -> Any:
    from lrwatch.sources import open_runs

    try:
        from lrwatch.formats import make_parser  # noqa: F401

        return open_runs([path], follow=True)
    except ImportError:  # formats' registry not there yet: the JSONL parser directly
        from lrwatch.formats.jsonl import JsonlParser

        def factory(fmt: str, names: Any = None) -> Any:
            return JsonlParser(names)

        return open_runs([path], "jsonl", follow=True, parser_factory=factory)


def pct(xs: list[float]) -> dict[str, float]:
    a = np.asarray(xs) * 1e3
    return {
        "p50_ms": float(np.percentile(a, 50)),
        "p95_ms": float(np.percentile(a, 95)),
        "max_ms": float(a.max()),
        "n": len(a),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="3 s instead of 15 s")
    ap.add_argument("--seconds", type=float, default=None)
    ap.add_argument("--rate", type=float, default=200.0, help="records/s written")
    args = ap.parse_args()
    seconds = args.seconds or (3.0 if args.quick else 15.0)
    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "live.jsonl")
        Path(path).touch()
        store = TimedStore()
        runset = open_follow(path)
        stop = threading.Event()
        notified: list[float] = []
        seen = {"n": 0}

        def on_batch(counts: dict[str, int]) -> None:
            now = time.time()
            for run in store.runs.values():
                times = run.series["loss"].times if "loss" in run.series else np.empty(0)
                notified.extend((now - times[seen["n"] :]).tolist())
                seen["n"] = len(times)

        reader = threading.Thread(target=follow_loop, args=(runset, store, on_batch, stop))
        reader.start()
        writer = subprocess.run(
            [sys.executable, "-c", WRITER, path, str(seconds), str(args.rate)],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        written = int(writer.stdout.strip())
        time.sleep(0.5)
        stop.set()
        reader.join()
        runset.close()
    run: Any = next(iter(store.runs.values()))
    got = len(run.series["loss"])
    res = {
        "seconds": seconds,
        "written": written,
        "in_store": got,
        "to_store": pct(run.latencies),
        "to_on_batch": pct(notified),
    }
    s, b = res["to_store"], res["to_on_batch"]
    print(
        f"{written} records written, {got} in the store; write -> store: p50 {s['p50_ms']:.1f} ms,"
        f" p95 {s['p95_ms']:.1f} ms, max {s['max_ms']:.1f} ms; write -> on_batch: p50 "
        f"{b['p50_ms']:.1f}, p95 {b['p95_ms']:.1f}, max {b['max_ms']:.1f} ms (goal <= 150 ms)"
    )
    emit("tail", res)


def follow_loop(runset: Any, store: MetricStore, on_batch: Any, stop: threading.Event) -> None:
    from lrwatch.sources import follow

    follow(runset, store, on_batch, stop)


if __name__ == "__main__":
    main()
