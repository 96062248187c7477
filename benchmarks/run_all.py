"""Run every benchmark, each in its own process, and print a summary table against the goals.

    python benchmarks/run_all.py                 # every benchmark at full size (~5-10 min)
    python benchmarks/run_all.py --quick         # small sizes (~2 min)
    python benchmarks/run_all.py --only store,ui # a subset; --list names them all
    python benchmarks/run_all.py --only rules_quality   # opt-in: scores the rules corpus

Each script runs as a subprocess (its output is shown as it comes). Scripts that save
``benchmarks/out/<name>.json`` are read from there; the text-only ones are parsed
(``stdout_parsers.py``) and saved there by this script. The summary (``summary.py``: result, the
baseline measured in the same run, ratio, the issue's goal, met or not) goes to stdout,
``benchmarks/out/results.md`` and, with every collected result, ``benchmarks/out/results.json``.
Exit 1 when a benchmark failed to run or its output could not be read; unmet goals are results,
not failures.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_plot
import ctl_storm
import rewind_cost
import rewind_vs_cut
import serve_first_paint
import stdout_parsers
import summary
import watch_first_screen
from common import ROOT, loadavg, machine, out_dir

Argv = tuple[str, ...]


@dataclass(frozen=True)
class Bench:
    """One benchmark script: how to call it at full and quick size, and where its result is."""

    name: str
    issue: int
    script: str
    what: str
    full: tuple[Argv, ...] = ((),)
    quick: tuple[Argv, ...] = (("--quick",),)
    #: ``benchmarks/out/<json>.json`` the script writes; None for text-only scripts
    json: str | None = None
    parse: Callable[[list[str]], dict[str, Any]] | None = None
    #: only run when named in --only (takes minutes, or rewrites a corpus)
    opt_in: bool = False


BENCHES = [
    Bench("ingest", 2, "bench_ingest.py", "JSONL ingest rate vs msgspec, pandas", json="ingest"),
    Bench("memory", 2, "bench_memory.py", "peak RSS of inspect on 10M records", json="memory"),
    Bench("tail", 2, "bench_tail.py", "write → store latency of the live tailer", json="tail"),
    Bench(
        "tfevents", 2, "bench_tfevents.py", "event-file read vs EventAccumulator", json="tfevents"
    ),
    Bench("store", 2, "bench_store.py", "min/max reduction, live update", json="store"),
    Bench("parse_text", 11, "parse_text.py", "text-log lines/s per log shape", json="parse_text"),
    Bench(
        "rules_cost",
        3,
        "rules_cost.py",
        "rule engine µs/record at two sizes",
        full=(("--records", "100000"), ("--records", "1000000")),
        quick=(("--records", "20000"), ("--records", "200000")),
        parse=stdout_parsers.parse_rules_cost,
    ),
    Bench(
        "rules_quality",
        3,
        "rules_quality.py",
        "rule engine quality on the labelled corpus (trains it when absent: minutes)",
        full=(("--doc", ""),),
        quick=(("--doc", ""),),
        json="rules_quality",
        opt_in=True,
    ),
    Bench(
        "monitor",
        4,
        "monitor_overhead.py",
        "Monitor.step vs SummaryWriter",
        json="monitor_overhead",
    ),
    Bench(
        "ctl", 4, "ctl_roundtrip.py", "set-lr round trip to the applied ack", json="ctl_roundtrip"
    ),
    Bench(
        "ctl_storm",
        17,
        "ctl_storm.py",
        "owner's status latency and step time under a tokenless connection storm",
        json="ctl_storm",
    ),
    Bench(
        "rewind_cost",
        12,
        "rewind_cost.py",
        "snapshot ms/MiB vs parameter count, step overhead, rewind ack latency",
        json="rewind_cost",
    ),
    Bench(
        "rewind_vs_cut",
        12,
        "rewind_vs_cut.py",
        "rewind + ÷10 against ÷10 alone: too-high and adam-mlp families, 5 seeds, real training",
        quick=(("--seeds", "0,1", "--budget", "100"),),
        json="rewind_vs_cut",
    ),
    Bench(
        "dist_sync",
        4,
        "dist_sync.py",
        "distributed LR sync cost per step (2 gloo ranks)",
        quick=(("--steps", "500"),),
        parse=stdout_parsers.parse_dist_sync,
    ),
    Bench(
        "ui",
        5,
        "ui_render.py",
        "chart redraw, first screen, key latency under ingest",
        quick=(("--max", "1000000"),),
        parse=stdout_parsers.parse_ui_render,
    ),
    Bench(
        "watch_first_screen",
        5,
        "watch_first_screen.py",
        "lrwatch watch: first full screen on a 10M-line log vs inspect",
        json="watch_first_screen",
    ),
    Bench(
        "runs",
        14,
        "bench_runs.py",
        "runs table: open 1000 runs × 10k points, memory, keys while 100 runs append",
        json="runs",
    ),
    Bench(
        "find_lr",
        6,
        "find_lr_compare.py",
        "find_lr vs torch-lr-finder and fastai",
        quick=(("--seeds", "2", "--train-steps", "150"),),
        parse=stdout_parsers.parse_find_lr,
    ),
]
BENCHES += (
    Bench("plot", 13, "bench_plot.py", "lrwatch plot: SVG/PNG at 1k vs 10M points", json="plot"),
    Bench(
        "serve",
        13,
        "serve_first_paint.py",
        "lrwatch serve: first paint in Chromium vs the terminal",
        json="serve_first_paint",
    ),
)
BY_NAME = {b.name: b for b in BENCHES}
# Its summary row lives with the benchmark (summary.ROWS holds the builders).
summary.ROWS.setdefault("watch_first_screen", watch_first_screen.summary_rows)
summary.ROWS.setdefault("ctl_storm", ctl_storm.summary_rows)
summary.ROWS.setdefault("rewind_cost", rewind_cost.summary_rows)
summary.ROWS.setdefault("rewind_vs_cut", rewind_vs_cut.summary_rows)
summary.ROWS.setdefault("plot", bench_plot.summary_rows)
summary.ROWS.setdefault("serve_first_paint", serve_first_paint.summary_rows)


def _stream(proc: subprocess.Popen[str], sink: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        sink.append(line)
        print("   " + line.rstrip(), flush=True)


def invoke(argv: list[str], timeout: float) -> tuple[int, str]:
    """Run one script, echoing its output; (exit code, stdout+stderr). 124 on timeout."""
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    # Own session, so a timeout also ends the script's children (dist_sync's ranks).
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    reader = threading.Thread(target=_stream, args=(proc, lines), daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        rc = 124
    reader.join(timeout=5)
    return rc, "".join(lines)


def _last_json(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def collect(bench: Bench, outputs: list[str], started: float) -> dict[str, Any]:
    """The benchmark's result: its fresh out/<json>.json, its last JSON line, or parsed text."""
    if bench.json is not None:
        path = out_dir() / f"{bench.json}.json"
        if path.exists() and path.stat().st_mtime >= started:
            return json.loads(path.read_text())
        if (res := _last_json(outputs[-1])) is not None:
            return res
        raise stdout_parsers.ParseError(f"{bench.script} wrote no {path.name} in this run")
    assert bench.parse is not None
    res = {**bench.parse(outputs), "machine": machine()}
    (out_dir() / f"{bench.name}.json").write_text(json.dumps(res, indent=2))
    return res


def run(bench: Bench, quick: bool, timeout: float) -> dict[str, Any]:
    """Run one benchmark (all its invocations); a record with result or error, wall and load."""
    started = time.time()
    record: dict[str, Any] = {"name": bench.name, "issue": bench.issue, "load_before": loadavg()}
    outputs, argvs = [], []
    for tail in bench.quick if quick else bench.full:
        argv = [sys.executable, str(ROOT / "benchmarks" / bench.script), *tail]
        argvs.append(shlex.join(["python", f"benchmarks/{bench.script}", *tail]))
        print(f"== {bench.name}: {argvs[-1]}", flush=True)
        rc, text = invoke(argv, timeout)
        outputs.append(text)
        if rc:
            record["error"] = f"exit {rc}" + (" (timed out)" if rc == 124 else "")
            break
    record.update(argv=argvs, wall_s=round(time.time() - started, 1), load_after=loadavg())
    if "error" not in record:
        try:
            record["result"] = collect(bench, outputs, started)
        except (stdout_parsers.ParseError, ValueError, KeyError) as exc:
            record["error"] = f"output not understood: {exc}"
    if "error" in record:
        print(f"   FAILED: {record['error']}", flush=True)
    return record


def rows_for(record: dict[str, Any]) -> list[summary.Row]:
    """Summary rows for one record; a failed run or unreadable result is a row saying so."""
    name = record["name"]
    if "error" not in record:
        try:
            return summary.ROWS[name](record["result"])
        except (KeyError, TypeError, ZeroDivisionError, IndexError) as exc:
            record["error"] = f"result not understood: {exc!r}"
    return [summary.Row(f"issue {record['issue']}", name, f"**FAILED**: {record['error']}")]


def report(records: list[dict[str, Any]], quick: bool) -> str:
    """Markdown: the summary table, the mode, the machine and each benchmark's wall time and load."""
    rows = [row for rec in records for row in rows_for(rec)]
    m = machine()
    lines = [
        summary.table(rows),
        "",
        f"Mode: {'--quick' if quick else 'full sizes'}.",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m.get('mem_gib', '?')} GiB, Python {m['python']},"
        f" numpy {m['numpy']}, torch {m.get('torch')}, {m['platform']}.",
        "",
        "| benchmark | command | wall | load avg (1 min) before → after |",
        "|---|---|---|---|",
    ]
    for rec in records:
        cmd = "; ".join(f"`{a}`" for a in rec["argv"])
        lines.append(
            f"| {rec['name']} | {cmd} | {rec['wall_s']:.0f} s | "
            f"{rec['load_before'][0]:.2f} → {rec['load_after'][0]:.2f} |"
        )
    return "\n".join(lines) + "\n"


def _names(only: str | None) -> list[str]:
    if only is None:
        return [b.name for b in BENCHES if not b.opt_in]
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        raise SystemExit(f"unknown benchmark(s): {', '.join(unknown)}; known: {', '.join(BY_NAME)}")
    return names


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (~2 min in all)")
    ap.add_argument("--only", help="comma-separated subset (see --list)")
    ap.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per script (default 1800)")
    args = ap.parse_args(argv)
    if args.list:
        for b in BENCHES:
            extra = "  (opt-in: --only)" if b.opt_in else ""
            print(f"{b.name:<14} issue {b.issue}  {b.script:<22} {b.what}{extra}")
        return 0
    started = time.time()
    records = [run(BY_NAME[n], args.quick, args.timeout) for n in _names(args.only)]
    text = report(records, args.quick)
    (out_dir() / "results.md").write_text(text)
    payload = {
        "quick": args.quick,
        "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
        "wall_s": round(time.time() - started, 1),
        "machine": machine(),
        "benchmarks": records,
    }
    (out_dir() / "results.json").write_text(json.dumps(payload, indent=2, default=str))
    print("\n" + text)
    return 1 if any("error" in r for r in records) else 0


if __name__ == "__main__":
    raise SystemExit(main())
