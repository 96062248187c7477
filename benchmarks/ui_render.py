"""UI benchmarks: chart redraw at 1k / 100k / 10M points, first full screen on a 10M-point
store, and key-to-screen latency while a thread ingests ~100k records/s.

Run: python benchmarks/ui_render.py [--max 10000000] [--redraw-only]. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from typing import Any

import numpy as np

from lrwatch.records import Metrics
from lrwatch.store import MetricStore
from lrwatch.tui.chart import ChartSpec, Trace, render_chart
from lrwatch.tui.smooth import EmaCache
from lrwatch.tui.view import ViewState, loss_spec


def filled(n: int) -> MetricStore:
    st = MetricStore()
    run = st.run("bench")
    steps = np.arange(n)
    run.metric("loss").extend(steps, 3 * np.exp(-steps / max(n / 5, 1)) + np.random.rand(n) * 0.1)
    run.metric("lr").extend(steps, np.full(n, 3e-4))
    run.first_step, run.last_step = 0, n - 1
    return st


def redraw(n: int, width: int = 160, height: int = 20, reps: int = 20) -> None:
    st = filled(n)
    run = st.runs["bench"]
    ema = EmaCache()
    t0 = time.perf_counter()
    spec = loss_spec([run], ViewState(), ema)
    first = time.perf_counter() - t0  # includes smoothing every point once
    # The first render builds the min/max pyramids of the raw and the smoothed series (O(n),
    # once); later ones only sync the new points. Timed apart, so the loop measures the
    # steady per-frame cost, which is what must stay flat in n.
    t0 = time.perf_counter()
    render_chart(spec, width, height)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(reps):
        spec = loss_spec([run], ViewState(), ema)
        render_chart(spec, width, height)
    per = (time.perf_counter() - t0) / reps
    raw = ChartSpec("loss", [Trace(run.series["loss"], "c")], 0, n - 1)
    render_chart(raw, width, height)
    t0 = time.perf_counter()
    for _ in range(reps):
        render_chart(raw, width, height)
    per_raw = (time.perf_counter() - t0) / reps
    print(
        f"redraw {n:>10,} pts: loss panel {per * 1e3:7.2f} ms (raw trace only "
        f"{per_raw * 1e3:6.2f} ms); first smoothing {first * 1e3:7.1f} ms, "
        f"first render (pyramids) {build * 1e3:6.1f} ms"
    )


def _record_builds(app: Any) -> list[tuple[float, bool]]:
    """Wrap the loss chart's line builder: each rebuild appends (time, log-y shown), which
    :func:`_key_latencies` waits on."""
    panel = app.charts_w[0]
    builds: list[tuple[float, bool]] = []
    orig = panel.lines

    def lines(w: int, h: int) -> list:
        out = orig(w, h)
        builds.append((time.perf_counter(), app.view.log_y))
        return out

    panel.lines = lines
    return builds


async def _key_latencies(app: object, builds: list, seconds: float) -> list[float]:
    """Press ``l`` (log-y) like the terminal does, at random intervals for ``seconds``; each
    latency runs until the loss chart was rebuilt showing the toggled axis."""
    import random

    from textual import events

    lat = []
    end = time.monotonic() + seconds
    rng = random.Random(0)
    while time.monotonic() < end:
        want = not app.view.log_y
        t0 = time.perf_counter()
        app.post_message(events.Key("l", "l"))
        while not any(t > t0 and log == want for t, log in builds[-5:]):
            await asyncio.sleep(0.002)
        lat.append(next(t for t, log in builds[-5:] if t > t0 and log == want) - t0)
        await asyncio.sleep(rng.uniform(0.05, 0.25))
    return lat


async def first_screen(n: int) -> None:
    from lrwatch.tui.app import LRWatchApp

    st = filled(n)
    t0 = time.perf_counter()
    app = LRWatchApp(st)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        app.export_screenshot()
        print(
            f"first full screen, {n:,} points already in the store: {time.perf_counter() - t0:.2f} s"
        )


async def latency(rate: int = 100_000, seconds: float = 6.0, rules: bool = True) -> None:
    """Key-to-screen latency while a producer thread offers ``rate`` records/s to the UI.

    A key is posted the way the terminal driver posts it (no pilot waiting for idle, which
    never comes under load); its latency runs until the loss chart has been rebuilt showing
    the toggled log axis. Keys come at random 50-250 ms gaps, so they fall on every phase
    of the redraw and ingest cycles.
    """

    from lrwatch.session.ingest import Ingest
    from lrwatch.tui.app import LRWatchApp

    app = LRWatchApp(MetricStore())
    stop = threading.Event()
    offered = [0]
    async with app.run_test(size=(160, 48)) as pilot:
        # The app's own ingest, as a followed file would feed it (with or without the rules).
        app.session.ingest.close()
        ingest = Ingest(app.store, app.lock, app.emit, rules=rules, backpressure=True)
        app.session.ingest = ingest
        ingest.start()
        builds = _record_builds(app)

        def produce() -> None:
            step, batch = 0, rate // 20
            while not stop.is_set():
                t = time.perf_counter()
                recs = [
                    Metrics(step + i, {"loss": 1.0 / (1 + (step + i) * 1e-5), "lr": 3e-4})
                    for i in range(batch)
                ]
                offered[0] += batch
                ingest.add("bench", recs)
                ingest.flush()
                step += batch
                time.sleep(max(0.0, 0.05 - (time.perf_counter() - t)))

        th = threading.Thread(target=produce, daemon=True)
        t_start = time.perf_counter()
        th.start()
        await pilot.pause(0.5)
        lat = await _key_latencies(app, builds, seconds)
        elapsed = time.perf_counter() - t_start
        stop.set()
        th.join()
        n = app.store.runs["bench"].records if "bench" in app.store.runs else 0
        behind = ingest.rules.backlog if ingest.rules else 0
        checked = n - behind - (ingest.rules.skipped if ingest.rules else 0)
        ingest.close()
        print(
            f"key→screen at {rate:,} rec/s offered, rules {'on ' if rules else 'off'}: "
            f"median {np.median(lat) * 1e3:.0f} ms, p95 {np.quantile(lat, 0.95) * 1e3:.0f} ms, "
            f"max {max(lat) * 1e3:.0f} ms over {len(lat)} keys; ingested {n / elapsed:,.0f} rec/s "
            f"(offered {offered[0] / elapsed:,.0f}); rules checked {checked / elapsed:,.0f} rec/s"
        )


WRITER = """
import sys, time
path, rate = sys.argv[1], int(sys.argv[2])
batch = rate // 20
step = 0
with open(path, "a") as fh:
    while True:
        t, now = time.perf_counter(), time.time()  # t: wall time (the fast path wants one)
        fh.write("".join(
            f'{{"step": {s}, "t": {now:.3f}, "loss": {1.0 / (1 + s * 1e-5)!r}, "lr": 0.0003}}\\n'
            for s in range(step, step + batch)
        ))
        fh.flush()
        step += batch
        time.sleep(max(0.0, 0.05 - (time.perf_counter() - t)))
"""


async def latency_file(rate: int = 100_000, seconds: float = 6.0, blocks: bool = True) -> None:
    """Key-to-screen latency and ingest rate while another process appends ``rate`` JSONL
    metric lines/s to a log that the app follows (the real reader path, rules on).

    ``blocks``: the reader yields MetricBlock columns (the default) or one record per line.
    """
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from lrwatch.tui.app import LRWatchApp

    tmp = Path(tempfile.mkdtemp()) / "bench.jsonl"
    tmp.write_text("")
    app = LRWatchApp(paths=[str(tmp)])
    app.blocks = blocks
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp), str(rate)])
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            builds = _record_builds(app)
            await pilot.pause(1.0)
            while "bench" not in app.store.runs:  # a loaded machine: the first poll is late
                await pilot.pause(0.1)
            n0, t_start = app.store.runs["bench"].records, time.perf_counter()
            size0, cpu0 = tmp.stat().st_size, time.process_time()
            lat = await _key_latencies(app, builds, seconds)
            elapsed = time.perf_counter() - t_start
            cpu = time.process_time() - cpu0  # this process: UI, readers, rules
            n = app.store.runs["bench"].records - n0
            line = len(
                '{"step": 1000000, "t": 12345.678, "loss": 0.9090909090909091, "lr": 0.0003}\n'
            )
            written = (tmp.stat().st_size - size0) / line / elapsed
    finally:
        writer.kill()
        writer.wait()
    print(
        f"file follow, {'blocks ' if blocks else 'records'}, {rate:,} lines/s written: "
        f"key→screen median {np.median(lat) * 1e3:.0f} ms, p95 {np.quantile(lat, 0.95) * 1e3:.0f} ms, "
        f"max {max(lat) * 1e3:.0f} ms over {len(lat)} keys; ingested {n / elapsed:,.0f} rec/s "
        f"(written ~{written:,.0f} lines/s); UI process CPU {cpu / elapsed:.0%}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=10_000_000)
    ap.add_argument("--rate", type=int, default=100_000, help="records/s offered")
    ap.add_argument("--latency-only", action="store_true")
    ap.add_argument("--redraw-only", action="store_true", help="only the chart redraw timings")
    ap.add_argument("--file-only", action="store_true", help="only the file-follow benchmark")
    args = ap.parse_args()
    if args.file_only:
        for blocks in (False, True):
            asyncio.run(latency_file(args.rate, blocks=blocks))
        return
    if not args.latency_only:
        for n in (1_000, 100_000, 10_000_000):
            if n <= args.max:
                redraw(n)
        if args.redraw_only:
            return
        asyncio.run(first_screen(args.max))
    asyncio.run(latency(args.rate, rules=False))
    asyncio.run(latency(args.rate, rules=True))
    for blocks in (False, True):
        asyncio.run(latency_file(args.rate, blocks=blocks))


if __name__ == "__main__":
    main()
