"""Peak memory of ``lrwatch inspect --json`` on a 10M-record log vs its numeric columns.

    python benchmarks/bench_memory.py [--quick] [--records N]

Runs ``python -m lrwatch inspect --json LOG`` in a subprocess and reads its peak resident
set (``ru_maxrss`` from ``wait4``), minus that of a subprocess that only imports lrwatch.
The log (benchmarks/out/, generated once) has 5 numeric columns: step, t, loss, lr,
grad_norm; their float64 size is records × 5 × 8 bytes. Goal: the difference ≤ 2× that.
Where ``inspect`` is not available yet it measures ``read_runs`` into a MetricStore.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, emit, out_dir, write_jsonl_log

NUMERIC_COLUMNS = 5

READ_RUNS = (
    "import sys, json; sys.path.insert(0, 'benchmarks'); from common import read_runs_kwargs; "
    "from lrwatch.sources import read_runs; fmt, opts = read_runs_kwargs(); "
    "st = read_runs([sys.argv[1]], fmt, **opts); r = next(iter(st.runs.values())); "
    "print(json.dumps({k: s.summary()['count'] for k, s in r.series.items()}))"
)

PARSER_STORE = (
    "import sys; from lrwatch.formats.jsonl import JsonlParser; from lrwatch.store import RunData\n"
    "p, run = JsonlParser(), RunData('r')\n"
    "with open(sys.argv[1], 'rb') as fh:\n"
    "    while chunk := fh.read(16 << 20):\n"
    "        run.add(p.feed(chunk))\n"
    "run.add(p.flush()); print({k: s.summary()['count'] for k, s in run.series.items()})"
)


def run_child(argv: list[str]) -> tuple[int, float, str]:
    """Peak RSS via a tiny wrapper, so that each measurement is one fresh child's own peak."""
    wrapper = (
        "import os, sys, subprocess, time, json; t = time.perf_counter(); "
        "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE); "
        "o, e = p.communicate(); "
        "print(json.dumps({'rc': p.returncode, 'maxrss_kb': __import__('resource')"
        ".getrusage(__import__('resource').RUSAGE_CHILDREN).ru_maxrss, "
        "'wall': time.perf_counter() - t, 'out': o.decode()[-4000:], 'err': e.decode()[-2000:]}))"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *argv], capture_output=True, check=True, env=env, cwd=ROOT
    )
    res = json.loads(done.stdout)
    if res["rc"]:
        raise RuntimeError(f"{argv} failed: {res['err']}")
    return res["maxrss_kb"] * 1024, res["wall"], res["out"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1M records instead of 10M")
    ap.add_argument("--records", type=int, default=None)
    args = ap.parse_args()
    n = args.records or (1_000_000 if args.quick else 10_000_000)
    t0 = time.perf_counter()
    path = write_jsonl_log(out_dir() / f"memory_{n}.jsonl", n)
    print(
        f"log: {path} ({path.stat().st_size / 1e9:.2f} GB, ready in {time.perf_counter() - t0:.0f} s)"
    )
    py = sys.executable
    base, _, _ = run_child([py, "-c", "import lrwatch"])
    with_deps, _, _ = run_child([py, "-c", "import lrwatch, numpy, msgspec"])
    res: dict[str, Any] = {
        "records": n,
        "baseline_rss_mb": base / 2**20,
        "baseline_with_numpy_msgspec_mb": with_deps / 2**20,
    }
    numeric = n * NUMERIC_COLUMNS * 8
    res["numeric_columns_mb"] = numeric / 2**20
    try:
        rss, wall, out = run_child([py, "-m", "lrwatch", "inspect", "--json", str(path)])
        res["command"] = "lrwatch inspect --json"
        counts = {k: m["count"] for k, m in json.loads(out)["runs"][0]["metrics"].items()}
        res["inspect_counts"] = counts
        if counts.get("loss") != n:
            raise SystemExit(f"inspect read {counts} metric points, expected {n} each")
    except RuntimeError as exc:
        print(f"inspect unavailable ({str(exc)[-200:].strip()}); measuring read_runs instead")
        try:
            rss, wall, _ = run_child([py, "-c", READ_RUNS, str(path)])
            res["command"] = "read_runs (inspect unavailable)"
        except RuntimeError:
            print("read_runs unavailable: measuring JsonlParser + RunData directly")
            rss, wall, _ = run_child([py, "-c", PARSER_STORE, str(path)])
            res["command"] = "JsonlParser + RunData, 16 MB reads (inspect unavailable)"
    res["peak_rss_mb"] = rss / 2**20
    res["peak_minus_baseline_mb"] = (rss - base) / 2**20
    res["ratio_to_numeric"] = (rss - base) / numeric
    res["ratio_to_numeric_vs_numpy_baseline"] = (rss - with_deps) / numeric
    res["wall_s"] = wall
    res["records_per_s"] = n / wall
    print(
        f"{res['command']}: peak RSS {res['peak_rss_mb']:.0f} MB - baseline "
        f"{res['baseline_rss_mb']:.0f} MB = {res['peak_minus_baseline_mb']:.0f} MB; numeric "
        f"columns {res['numeric_columns_mb']:.0f} MB -> {res['ratio_to_numeric']:.2f}x "
        f"(goal <= 2x); {wall:.1f} s"
    )
    emit("memory", res)


if __name__ == "__main__":
    main()
