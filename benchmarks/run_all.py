"""Run every benchmark, each in its own process, and print a Markdown summary.

    python benchmarks/run_all.py [--quick] [--only store,ingest,...]

Each benchmark prints its result as JSON on its last line and saves it in
benchmarks/out/<name>.json; this script adds benchmarks/out/results.md (the table to paste
into docs/benchmarks.md, with the machine).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, machine, out_dir

BENCHES = {
    "store": "bench_store.py",
    "ingest": "bench_ingest.py",
    "memory": "bench_memory.py",
    "tail": "bench_tail.py",
    "tfevents": "bench_tfevents.py",
}


def run(name: str, quick: bool) -> dict[str, Any] | None:
    argv = [sys.executable, str(ROOT / "benchmarks" / BENCHES[name])]
    if quick:
        argv.append("--quick")
    print(f"== {name}: {' '.join(argv[1:])}", flush=True)
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    lines = done.stdout.strip().splitlines()
    for line in lines[:-1]:
        print("   " + line)
    if done.returncode or not lines:
        print(f"   FAILED ({done.returncode}): {done.stderr.strip()[-1500:]}")
        return None
    return json.loads(lines[-1])


def summary(results: dict[str, dict[str, Any]]) -> str:
    """A Markdown table of the headline numbers against their goals."""
    rows = ["| benchmark | result | baseline (same run) | ratio | goal |", "|---|---|---|---|---|"]
    if r := results.get("ingest"):
        base = r["msgspec_decode_lines_rps"]
        best = r.get("read_runs_rps") or r.get("parser_store_rps")
        if best:
            rows.append(
                f"| JSONL ingest, {r['records']:,} records | {best:,.0f} rec/s | msgspec "
                f"decode_lines {base:,.0f} rec/s | {best / base:.2f}× | ≥ 0.5× |"
            )
        if r.get("pandas_read_json_rps"):
            rows.append(
                f"| pandas.read_json(lines=True) | {r['pandas_read_json_rps']:,.0f} rec/s | "
                f"msgspec | {r['pandas_read_json_rps'] / base:.2f}× | — |"
            )
    if r := results.get("memory"):
        rows.append(
            f"| peak RSS, {r['command']}, {r['records']:,} records | "
            f"{r['peak_minus_baseline_mb']:,.0f} MB over baseline | numeric columns "
            f"{r['numeric_columns_mb']:,.0f} MB | {r['ratio_to_numeric']:.2f}× | ≤ 2× |"
        )
    if r := results.get("tail"):
        s = r["to_store"]
        rows.append(
            f"| tail write → store | p50 {s['p50_ms']:.0f} / p95 {s['p95_ms']:.0f} / max "
            f"{s['max_ms']:.0f} ms | — | — | ≤ 150 ms |"
        )
    if r := results.get("tfevents"):
        acc = r["event_accumulator_sps"]
        ours = r.get("lrwatch_sps")
        rows.append(
            f"| tfevents read, {r['scalars']:,} scalars | "
            f"{f'{ours:,.0f} scalars/s' if ours else 'n/a'} | EventAccumulator {acc:,.0f}/s | "
            f"{f'{ours / acc:.1f}×' if ours else '—'} | — |"
        )
    if r := results.get("store"):
        f = r["full"]
        rows.append(
            f"| reduce {f['points']:,} points → 200 columns | {f['store_reduce_ms']:.2f} ms | "
            f"reduce_points {f['reduce_points_ms']:.1f} ms, numpy {f['numpy_nanmin_nanmax_ms']:.1f}"
            f" ms | {f['speedup_vs_reduce_points']:.0f}× faster | — |"
        )
        for row in r["live"]:
            rows.append(
                f"| live update at {row['points']:,} points (append 1000 + reduce) | "
                f"{row['append1000_reduce_median_ms']:.2f} ms | brute force "
                f"{row['brute_reduce_median_ms']:.2f} ms | — | flat |"
            )
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small sizes (a minute or two)")
    ap.add_argument("--only", default=",".join(BENCHES), help="comma-separated subset")
    args = ap.parse_args()
    results = {}
    for name in args.only.split(","):
        res = run(name.strip(), args.quick)
        if res is not None:
            results[name.strip()] = res
    m = machine()
    text = (
        summary(results)
        + f"\n\nMachine: {m['nproc']} CPUs ({m['cpu']}), Python {m['python']}, "
        + f"numpy {m['numpy']}, {m['platform']}\n"
    )
    (out_dir() / "results.md").write_text(text)
    print("\n" + text)


if __name__ == "__main__":
    main()
