"""UI benchmarks: chart redraw at 1k / 100k / 10M points, first full screen on a 10M-point
store, and key-to-screen latency while a thread ingests ~100k records/s.

Run: python benchmarks/ui_render.py [--max 10000000]. Prints one line per measurement.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time

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
    t0 = time.perf_counter()
    for _ in range(reps):
        spec = loss_spec([run], ViewState(), ema)
        render_chart(spec, width, height)
    per = (time.perf_counter() - t0) / reps
    raw = ChartSpec("loss", [Trace(run.series["loss"], "c")], 0, n - 1)
    t0 = time.perf_counter()
    for _ in range(reps):
        render_chart(raw, width, height)
    per_raw = (time.perf_counter() - t0) / reps
    print(
        f"redraw {n:>10,} pts: loss panel {per * 1e3:7.2f} ms (raw trace only {per_raw * 1e3:6.2f} ms); first smoothing {first * 1e3:7.1f} ms"
    )


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


async def latency(rate: int = 100_000, seconds: float = 3.0, rules: bool = True) -> None:
    from lrwatch.tui.app import LRWatchApp
    from lrwatch.tui.feeds import Ingest

    app = LRWatchApp(MetricStore())
    stop = threading.Event()
    async with app.run_test(size=(160, 48)) as pilot:
        ingest = Ingest(app.store, app.lock, app.post_message)
        ingest._rules = rules

        def produce() -> None:
            step, batch = 0, rate // 20
            while not stop.is_set():
                t = time.perf_counter()
                recs = [
                    Metrics(step + i, {"loss": 1.0 / (1 + (step + i) * 1e-5), "lr": 3e-4})
                    for i in range(batch)
                ]
                ingest.add("bench", recs)
                ingest.flush()
                step += batch
                time.sleep(max(0.0, 0.05 - (time.perf_counter() - t)))

        th = threading.Thread(target=produce, daemon=True)
        th.start()
        await pilot.pause(0.5)
        lat = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            before = app.view.log_y
            t0 = time.perf_counter()
            await pilot.press("l")
            await pilot.pause()
            assert app.view.log_y != before
            app.export_screenshot()  # the frame that shows it
            lat.append(time.perf_counter() - t0)
        stop.set()
        n = app.store.runs["bench"].records if "bench" in app.store.runs else 0
        print(
            f"key→screen while ingesting: median {np.median(lat) * 1e3:.0f} ms, p95 {np.quantile(lat, 0.95) * 1e3:.0f} ms over {len(lat)} keys, rules {rules}; ingested {n / (seconds + 0.5):,.0f} rec/s"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max", type=int, default=10_000_000)
    args = ap.parse_args()
    for n in (1_000, 100_000, 10_000_000):
        if n <= args.max:
            redraw(n)
    asyncio.run(first_screen(args.max))
    asyncio.run(latency(rules=False))
    asyncio.run(latency(rules=True))


if __name__ == "__main__":
    main()
