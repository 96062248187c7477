"""Time to the first full screen of ``lrwatch watch`` on a big finished log, vs ``inspect``.

    python benchmarks/watch_first_screen.py [--lines N] [--quick] [--repeat K] [--watch-only]

Writes an lrwatch JSONL log of N metric lines (step, t, loss, lr, grad_norm; default 10M,
``--quick`` 1M) in benchmarks/out/, then, in the same run:

- ``lrwatch inspect FILE`` in a subprocess (wall time: read, parse, store, print);
- the watch UI in a subprocess (``LRWatchApp(paths=[FILE]).run_test()``, 160x48, headless),
  timed from the process start until the first full screen: the store holds all N records,
  the header shows the last step and the loss chart has been built once after that.

Prints both times and their ratio (goal: watch <= 1.5x inspect), the loss chart's first build
and how far the rule engine is behind then (it catches up afterwards). ``--repeat K`` runs
the pair K times interleaved (a shared machine's load hits both alike) and reports the best
of each and every pair's ratio. To see where the time goes, run it under a sampling profiler
that follows threads and subprocesses:
``py-spy record --subprocesses --threads --format raw -o out.txt -- python benchmarks/...``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, emit, out_dir, write_jsonl_log

#: Run in the child: open the app on the file and report when the first full screen is up.
CHILD = r"""
import asyncio, json, sys, time
t_start = float(sys.argv[3])
from lrwatch.tui.app import LRWatchApp

path, n = sys.argv[1], int(sys.argv[2])

async def main() -> None:
    app = LRWatchApp(paths=[path])
    done = {}
    async with app.run_test(size=(160, 48)) as pilot:
        panel = app.charts_w[0]
        orig = panel.lines

        def lines(w, h):
            # Full before the build: this frame draws all the data.
            with panel.lock:  # the reader appends under it
                run = next(iter(app.store.runs.values()), None)
                full = run is not None and len(run.series.get("loss", ())) >= n
            t0 = time.time()
            out = orig(w, h)
            if full and out and "t_full" not in done:
                done["t_full"], done["t_build"] = time.time(), t0
            return out

        panel.lines = lines
        while "t_full" not in done:
            await asyncio.sleep(0.01)
        # The header must show the last step too (it repaints on the same redraw).
        while getattr(app.header_w.summary, "step", None) != n - 1:
            await asyncio.sleep(0.01)
        t_header = time.time()
        rules = app.session.ingest.rules
        res = {
            "screen_s": max(done["t_full"], t_header) - t_start,
            "loss_chart_build_s": done["t_full"] - done["t_build"],
            "rules_backlog": rules.backlog if rules else None,
            "rules_skipped": rules.skipped if rules else None,
            "records": next(iter(app.store.runs.values())).records,
        }
        print("RESULT " + json.dumps(res), flush=True)
        app.exit()

asyncio.run(main())
"""


def time_inspect(path: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "lrwatch", "inspect", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=ROOT,
    )
    return time.perf_counter() - t0


def time_watch(path: Path, n: int) -> dict[str, Any]:
    """Run the UI child; its result dict (times from the moment it was started)."""
    argv = [sys.executable, "-c", CHILD, str(path), str(n), str(time.time())]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"watch child failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")


def summary_rows(r: dict[str, Any]) -> list[Any]:
    """The run_all summary row (``summary.Row``) for a saved result."""
    from summary import Row

    return [
        Row(
            "UI",
            f"watch: first full screen on a {r['lines']:,}-line JSONL log (rules catch up after)",
            f"{r['watch_first_screen_s']:.2f} s",
            baseline=f"inspect {r['inspect_s']:.2f} s",
            ratio=f"{r['ratio']:.2f}×",
            goal="≤ 1.5× inspect",
            met=r["ratio"] <= 1.5,
        )
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--lines", type=int, default=None, help="metric lines (default 10M)")
    ap.add_argument("--quick", action="store_true", help="1M lines")
    ap.add_argument("--repeat", type=int, default=1, help="best of this many runs each")
    ap.add_argument("--watch-only", action="store_true", help="skip inspect")
    args = ap.parse_args()
    n = args.lines or (1_000_000 if args.quick else 10_000_000)
    path = write_jsonl_log(out_dir() / f"watch_{n}.jsonl", n)
    print(f"{n:,} lines, {path.stat().st_size / 1e6:.0f} MB: {path}", flush=True)
    inspects: list[float] = []
    watches: list[dict[str, Any]] = []
    for _ in range(args.repeat):  # interleaved: a shared machine's load hits both alike
        if not args.watch_only:
            inspects.append(time_inspect(path))
            print(f"inspect: {inspects[-1]:.2f} s", flush=True)
        watches.append(time_watch(path, n))
        w = watches[-1]
        print(
            f"watch first full screen: {w['screen_s']:.2f} s (loss chart build "
            f"{w['loss_chart_build_s']:.2f} s; rules behind {w['rules_backlog']:,})",
            flush=True,
        )
    t_inspect = min(inspects) if inspects else float("nan")
    watch = min(watches, key=lambda w: w["screen_s"])
    ratios = [w["screen_s"] / i for w, i in zip(watches, inspects, strict=False)]
    ratio = watch["screen_s"] / t_inspect
    print(
        f"watch first screen {watch['screen_s']:.2f} s / inspect {t_inspect:.2f} s = "
        f"{ratio:.2f}x best/best (goal <= 1.5x); per pair " + ", ".join(f"{r:.2f}x" for r in ratios)
    )
    emit(
        "watch_first_screen",
        {
            "lines": n,
            "inspect_s": t_inspect,
            "watch_first_screen_s": watch["screen_s"],
            "ratio": ratio,
            "pair_ratios": ratios,
            "loss_chart_build_s": watch["loss_chart_build_s"],
            "rules_backlog_at_screen": watch["rules_backlog"],
        },
    )


if __name__ == "__main__":
    main()
