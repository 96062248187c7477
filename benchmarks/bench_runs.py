"""The runs table at scale (issue 14): opening a 1000-run sweep, its memory, and keys while
100 runs append live, each against a one-run baseline measured in the same run.

    python benchmarks/bench_runs.py            # 1000 runs x 10k points; 100 live runs
    python benchmarks/bench_runs.py --quick    # 100 runs x 2k points; 20 live runs
    python benchmarks/bench_runs.py --keep     # leave the generated sweep in its temp dir

Every case runs in its own subprocess (``runs_cases.py``: a clean RSS, its own interpreter)
with the app in-process and headless (``LRWatchApp(paths=[DIR]).run_test(size=(160, 48))``):

- **open**: a sweep ``DIR/lrNNNN/train.jsonl`` (step, t, loss, lr, grad_norm; 6 in 10 end
  ``finished``, 1 ``crashed``, 3 have no end record), from app start to (a) the table drawn
  with every row's state and step, (b) the whole backlog read, (c) every row judged by the
  rules (or how far they got); RSS at each, peak RSS; cursor keys while the backlog is read.
  Baseline: one run of the same shape, from app start to its first full chart screen; run
  before and after the sweep (interleaved: a shared machine's load hits both alike).
- **live**: a sweep whose first L runs another process appends to (R lines/s each), the
  rules caught up first; ``down``/``up`` on the table at random 50-250 ms gaps until the
  cursor row is drawn, then ``enter`` and ``l`` on that run's charts until the loss chart is
  rebuilt. Baseline: the same with 1 live run, run first and last.

The corpus is made of 16 distinct bodies (numpy columns formatted by ``np.savetxt``), each
file its own header + one body + its ending, in a temp dir deleted at the end. Results go
to ``benchmarks/out/runs.json``; the last stdout line is that JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, emit, loadavg
from runs_corpus import make_sweep
from summary import latency_text

CASES = Path(__file__).resolve().parent / "runs_cases.py"  # the in-process cases
RAW_BYTES_PER_POINT = 5 * 8  # step, t, loss, lr, grad_norm as float64


def case(*argv: str, timeout: float = 1200) -> dict[str, Any]:
    """Run one case of runs_cases.py in its own process; its JSON result (plus its wall time
    and anything it printed to stderr when it exited non-zero)."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(CASES), *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=timeout,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{"case"')]
    if not lines:
        raise RuntimeError(
            f"runs_cases.py {' '.join(argv)} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
        )
    res: dict[str, Any] = json.loads(lines[-1])
    res["process_s"] = round(time.perf_counter() - t0, 1)
    if proc.returncode:  # the result came, the app's shutdown failed: say so, keep the numbers
        res["exit"] = proc.returncode
        res["stderr_tail"] = proc.stderr.strip().splitlines()[-1:]
    print(f"   {json.dumps(res)}", flush=True)
    return res


def scale(root: Path, runs: int, points: int, judge_timeout: float) -> dict[str, Any]:
    """The open case and its one-run baseline (before and after), with ratios."""
    t0 = time.perf_counter()
    sweep = make_sweep(root / "sweep", runs, points)
    one = make_sweep(root / "one", 1, points) / "lr0000" / "train.jsonl"
    made = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in sweep.glob("*/train.jsonl"))
    print(
        f"== corpus: {runs:,} runs x {points:,} points, {size / 1e6:,.0f} MB in {made:.1f} s",
        flush=True,
    )
    print("== single run (baseline)", flush=True)
    before = case("single", str(one), "--points", str(points))
    print(f"== open {runs:,} runs", flush=True)
    sweep_res = case("open", str(sweep), "--runs", str(runs), "--judge-timeout", str(judge_timeout))
    print("== single run (baseline, again)", flush=True)
    after = case("single", str(one), "--points", str(points))
    base_s = min(before["first_screen_s"], after["first_screen_s"])
    base_rss = max(before["peak_rss_mib"], after["peak_rss_mib"])
    peak = max(sweep_res["peak_rss_mib"], sweep_res["rss_end_mib"])
    raw_mib = runs * points * RAW_BYTES_PER_POINT / 2**20
    return {
        "runs": runs,
        "points": points,
        "corpus_mb": round(size / 1e6),
        "single": [before, after],
        "sweep": sweep_res,
        "table_vs_single": round(sweep_res["table_s"] / base_s, 1),
        "read_vs_single": round(sweep_res["read_s"] / base_s, 1),
        "peak_rss_mib": peak,
        "rss_vs_single": round(peak / base_rss, 1),
        "raw_numeric_mib": round(raw_mib),
        "rss_vs_raw": round(peak / raw_mib, 2),
    }


def live(
    root: Path, runs: int, points: int, live_runs: int, rates: list[int], seconds: float
) -> list[dict[str, Any]]:
    """Key latencies on the table and the charts with 1 (baseline, first and last) and
    ``live_runs`` runs appending at each rate."""
    plan = [(1, rates[0])] + [(live_runs, r) for r in rates] + [(1, rates[0])]
    out = []
    for n, rate in plan:
        d = root / f"live-{n}-{rate}-{len(out)}"
        make_sweep(d, runs, points, endings=False)  # fresh: the writer grows the files
        print(f"== live: {n} of {runs} runs appending {rate} lines/s each", flush=True)
        out.append(
            case(
                "live",
                str(d),
                "--runs",
                str(runs),
                "--live",
                str(n),
                "--rate",
                str(rate),
                "--seconds",
                str(seconds),
            )
        )
        shutil.rmtree(d, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="100 runs x 2k points, 20 live runs")
    ap.add_argument("--runs", type=int, help="sweep size (1000; quick 100)")
    ap.add_argument("--points", type=int, help="points per run (10,000; quick 2,000)")
    ap.add_argument("--live", type=int, help="runs appending live (100; quick 20)")
    ap.add_argument("--rates", default="10,100", help="lines/s per live run, comma-separated")
    ap.add_argument("--seconds", type=float, help="seconds of keys per screen (8; quick 4)")
    ap.add_argument("--judge-timeout", type=float, help="seconds to wait for every row judged")
    ap.add_argument("--only", choices=("scale", "live"), help="one part only")
    ap.add_argument("--keep", action="store_true", help="keep the generated logs")
    a = ap.parse_args()
    runs = a.runs or (100 if a.quick else 1000)
    points = a.points or (2_000 if a.quick else 10_000)
    live_runs = a.live or (20 if a.quick else 100)
    seconds = a.seconds or (4.0 if a.quick else 8.0)
    judge = a.judge_timeout or (120.0 if a.quick else 300.0)
    rates = [int(x) for x in a.rates.split(",")]
    root = Path(tempfile.mkdtemp(prefix="lrwatch-bench-runs-"))
    load_before = loadavg()
    res: dict[str, Any] = {"quick": a.quick, "load_before": [round(x, 2) for x in load_before]}
    try:
        if a.only in (None, "scale"):
            res["scale"] = scale(root, runs, points, judge)
        if a.only in (None, "live"):
            # 2k points of history per live run (1k quick): the charts have something to draw.
            res["live_points"] = 1_000 if a.quick else 2_000
            res["live"] = live(root, live_runs, res["live_points"], live_runs, rates, seconds)
    finally:
        if a.keep:
            print(f"kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    res["load_after"] = [round(x, 2) for x in loadavg()]
    report(res)
    emit("runs", res)


def report(res: dict[str, Any]) -> None:
    """The results as lines a person reads (the JSON follows)."""
    if "scale" in res:
        s = res["scale"]
        sw, one = s["sweep"], s["single"]
        print(f"open {s['runs']:,} runs x {s['points']:,} points ({s['corpus_mb']:,} MB):")
        print(
            f"  (a) table with every row's state and step: {sw['table_s']:.2f} s ({sw['rows_peeked']} rows from peeks)"
        )
        print(
            f"  (b) backlog read: {sw['read_s']:.1f} s; (c) every row judged: "
            + (
                f"{sw['judged_s']:.0f} s"
                if "judged_s" in sw
                else f"not in time: {sw['judged_rows']} of {s['runs']} rows"
            )
        )
        print(f"  keys on the table while reading: {latency_text(sw['keys_during_read'])}")
        print(
            f"  single run: first full chart screen {one[0]['first_screen_s']:.2f} / {one[1]['first_screen_s']:.2f} s; table {s['table_vs_single']}x, read {s['read_vs_single']}x"
        )
        print(
            f"  RSS: table {sw['rss_table_mib']:.0f} MiB, read {sw['rss_read_mib']:.0f} MiB, peak {s['peak_rss_mib']:.0f} MiB = {s['rss_vs_single']}x single run ({one[0]['peak_rss_mib']:.0f} MiB), {s['rss_vs_raw']}x raw numeric {s['raw_numeric_mib']} MiB"
        )
    for r in res.get("live", []):
        print(
            f"live {r['live']:>3} of {r['runs']} runs x {r['rate_per_run']} lines/s (written {r['written_lps']:,}/s, ingested {r['ingested_rps']:,}/s, UI process CPU {r['ui_process_cpu']:.0%}):"
        )
        print(
            f"  table down/up: {latency_text(r['table_keys'])}; charts l: {latency_text(r['chart_keys'])}"
        )


if __name__ == "__main__":
    main()
