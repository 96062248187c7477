"""The runs-table scale benchmark's in-process cases (issue 14), which ``bench_runs.py`` runs
each in its own subprocess (a clean RSS) on the logs of ``runs_corpus.py``:

    python benchmarks/runs_cases.py open DIR --runs N --points P [--judge-timeout S]
    python benchmarks/runs_cases.py single FILE --points P
    python benchmarks/runs_cases.py live DIR --runs N --live L --rate R --seconds S

Each prints one JSON line (its result) last. Timings are taken in-process with the Pilot
(``LRWatchApp(...).run_test(size=(160, 48))``) by wrapping the table's and the chart's
``render_line``/``lines`` from outside: lrwatch has no benchmark hooks.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from runs_corpus import start_writer, stop_writer

# -- measuring inside the app ---------------------------------------------------------------


def rss_mib() -> float:
    """This process's resident set now (MiB)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def peak_rss_mib() -> float:
    """Peak resident set of this process so far (ru_maxrss, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Probe:
    """Wraps the runs table and the loss chart (class-level, before the app exists) and
    records what they drew: when the cursor row was drawn, when rows were set."""

    def __init__(self) -> None:
        from lrwatch.tui.widgets.charts import ChartPanel
        from lrwatch.tui.widgets.runs_table import RunsTable

        self.cursor_draws: deque[tuple[float, int]] = deque(maxlen=400)
        self.chart_builds: deque[tuple[float, str]] = deque(maxlen=50)
        self.on_rows: list[Callable[[Any], None]] = []
        self.on_draw: list[Callable[[], None]] = []
        self.app: Any = None
        #: Checked before each loss-chart build; the first build it is true for is recorded.
        self.chart_full: Callable[[], bool] | None = None
        self.chart_full_at: float | None = None
        probe = self
        render_line, set_rows, lines = RunsTable.render_line, RunsTable.set_rows, ChartPanel.lines

        def table_line(table: RunsTable, y: int) -> Any:
            strip = render_line(table, y)
            index = y + int(table.scroll_offset.y)
            if index == table.cursor:
                probe.cursor_draws.append((time.perf_counter(), index))
            for fn in probe.on_draw:
                fn()
            return strip

        def table_rows(table: RunsTable, rows: Any, replace_all: bool = False) -> None:
            set_rows(table, rows, replace_all)
            for fn in probe.on_rows:
                fn(table)

        def chart_lines(panel: ChartPanel, width: int, height: int) -> Any:
            loss = panel.chart == "loss" and probe.app is not None
            full = loss and probe.chart_full is not None and probe.chart_full()
            out = lines(panel, width, height)
            if loss:
                now = time.perf_counter()
                probe.chart_builds.append((now, probe.app.view.y_scale))
                if full and out and probe.chart_full_at is None:
                    probe.chart_full_at = now
            return out

        RunsTable.render_line = table_line  # type: ignore[method-assign]
        RunsTable.set_rows = table_rows  # type: ignore[method-assign]
        ChartPanel.lines = chart_lines  # type: ignore[method-assign]


async def wait_for(cond: Callable[[], object], timeout: float, step: float = 0.005) -> bool:
    """Yield to the app until ``cond()``; False after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(step)
    return True


async def first_after(seen: deque[tuple[float, Any]], t0: float, what: Any) -> float | None:
    """When ``what`` was first seen after ``t0`` (waiting up to 10 s for it; None: never)."""

    def hit() -> float | None:
        return next((t for t, x in list(seen) if t > t0 and x == what), None)

    await wait_for(lambda: hit() is not None, 10.0, 0.002)
    return hit()


def key(name: str) -> Any:
    """A key event as the terminal driver posts it (no Pilot waiting for idle)."""
    from textual import events

    return events.Key(name, name if len(name) == 1 else None)


async def cursor_latencies(
    app: Any, probe: Probe, seconds: float, seed: int = 0, done: Callable[[], bool] | None = None
) -> list[float]:
    """Press up/down at random 50-250 ms gaps for ``seconds`` (or until ``done()``); each
    latency runs until the table has drawn its cursor on the row the key moved it to (down,
    turning at the end)."""
    table = app.runs_view.screen.table
    rng, lat, direction = random.Random(seed), [], 1
    end = time.monotonic() + seconds
    while time.monotonic() < end and not (done is not None and done()):
        if not 0 <= table.cursor + direction < len(table.rows):
            direction = -direction
        target = table.cursor + direction
        t0 = time.perf_counter()
        app.post_message(key("down" if direction > 0 else "up"))
        t = await first_after(probe.cursor_draws, t0, target)
        if t is not None:
            lat.append(t - t0)
        await asyncio.sleep(rng.uniform(0.05, 0.25))
    return lat


async def toggle_latencies(app: Any, probe: Probe, seconds: float, seed: int = 1) -> list[float]:
    """Press ``l`` (log-y on/off) at random 50-250 ms gaps; each latency runs until the loss
    chart was rebuilt with the new y scale (as ``ui_render.py`` measures it)."""
    rng, lat = random.Random(seed), []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        want = "lin" if app.view.y_scale == "log" else "log"
        t0 = time.perf_counter()
        app.post_message(key("l"))
        t = await first_after(probe.chart_builds, t0, want)
        if t is not None:
            lat.append(t - t0)
        await asyncio.sleep(rng.uniform(0.05, 0.25))
    return lat


def stats(lat: list[float]) -> dict[str, float]:
    """Median, p95 and max (ms) and the key count of some latencies."""
    if not lat:
        return {
            "keys": 0,
            "median_ms": float("nan"),
            "p95_ms": float("nan"),
            "max_ms": float("nan"),
        }
    a = np.asarray(lat) * 1e3
    return {
        "keys": len(lat),
        "median_ms": round(float(np.median(a)), 1),
        "p95_ms": round(float(np.quantile(a, 0.95)), 1),
        "max_ms": round(float(a.max()), 1),
    }


# -- the cases ------------------------------------------------------------------------------


def _read_hook(marks: dict[str, Any], since: float, app: list[Any]) -> Callable[[Any], None]:
    """A ``run_test`` message hook noting when the backlog read started and ended."""
    from lrwatch.tui import messages as msg

    def hook(message: Any) -> None:
        if isinstance(message, msg.ReadProgress):
            now = time.perf_counter() - since
            marks.setdefault("read_started_s", round(now, 3))
            if message.done and "read_s" not in marks:
                marks["read_s"] = round(now, 3)
                marks["rss_read_mib"] = round(rss_mib(), 1)
                rules = app[0].session.ingest.rules if app else None
                marks["rules_backlog_at_read"] = rules.backlog if rules else None

    return hook


async def run_app(
    app: Any, marks: dict[str, Any], t0: float, measure: Callable[[], Any]
) -> dict[str, Any]:
    """Run ``app`` headless at 160x48 and ``await measure()`` in it; its result.

    An exception while the app shuts down (after the result is in) is kept in the result
    as ``teardown_error`` rather than losing the numbers: it is lrwatch's to fix.
    """
    result: dict[str, Any] = {}
    try:
        async with app.run_test(size=(160, 48), message_hook=_read_hook(marks, t0, [app])):
            result.update(await measure())
    except Exception as exc:
        if not result:
            raise
        result["teardown_error"] = f"{type(exc).__name__}: {exc}"
    return result


async def case_open(path: str, runs: int, judge_timeout: float) -> dict[str, Any]:
    """A sweep of ``runs`` logs from app start: (a) the table on screen with every row's
    state and step, (b) the backlog read, (c) every row judged by the rules."""
    from lrwatch.tui.app import LRWatchApp
    from lrwatch.tui.runs import UNJUDGED

    probe, marks, judged = Probe(), dict[str, Any](), [(0.0, 0)]
    t0 = time.perf_counter()
    rel = lambda: round(time.perf_counter() - t0, 3)  # noqa: E731

    def rows_set(table: Any) -> None:
        rows = table.all_rows.values()
        complete = len(rows) == runs and all(r.state and r.step is not None for r in rows)
        if "rows_s" not in marks and complete:
            marks["rows_s"] = rel()
            marks["rows_peeked"] = sum(r.peeked for r in rows)
        n = sum(r.severity != UNJUDGED for r in rows)
        if n != judged[-1][1]:
            judged.append((rel(), n))
        if n == runs and "judged_s" not in marks:
            marks["judged_s"] = rel()

    def drawn() -> None:
        if "rows_s" in marks and "table_s" not in marks:
            marks["table_s"] = rel()
            marks["rss_table_mib"] = round(rss_mib(), 1)

    probe.on_rows.append(rows_set)
    probe.on_draw.append(drawn)
    app = probe.app = LRWatchApp(paths=[path])

    async def measure() -> dict[str, Any]:
        await wait_for(lambda: "table_s" in marks, 600)
        # Usable while the backlog is read: cursor keys until the read is done.
        during = await cursor_latencies(app, probe, 600, done=lambda: "read_s" in marks)
        await wait_for(lambda: "read_s" in marks, 600)
        await wait_for(lambda: "judged_s" in marks, judge_timeout, 0.05)
        rules = app.session.ingest.rules
        with app.lock:
            records = sum(r.records for r in app.store.runs.values())
        return {
            **marks,
            "runs": runs,
            "judged_progress": judged[-8:],
            "judged_rows": judged[-1][1],
            "keys_during_read": stats(during),
            "records_in_store": records,
            "rules_skipped": rules.skipped if rules else None,
            "rss_end_mib": round(rss_mib(), 1),
            "peak_rss_mib": round(peak_rss_mib(), 1),
            "wall_s": rel(),
        }

    return await run_app(app, marks, t0, measure)


async def case_single(path: str, points: int) -> dict[str, Any]:
    """One run's log from app start to its first full chart screen (every point drawn)."""
    from lrwatch.tui.app import LRWatchApp

    probe, marks = Probe(), dict[str, Any]()
    t0 = time.perf_counter()
    app = probe.app = LRWatchApp(paths=[path])

    def full() -> bool:
        run = next(iter(app.store.runs.values()), None)
        return run is not None and len(run.series.get("loss", ())) >= points

    probe.chart_full = full

    async def measure() -> dict[str, Any]:
        await wait_for(lambda: probe.chart_full_at is not None, 600)
        assert probe.chart_full_at is not None
        return {
            **marks,
            "first_screen_s": round(probe.chart_full_at - t0, 3),
            "rss_screen_mib": round(rss_mib(), 1),
            "peak_rss_mib": round(peak_rss_mib(), 1),
        }

    return await run_app(app, marks, t0, measure)


async def _settle(app: Any, marks: dict[str, Any], runs: int, backlog: int, t0: float) -> None:
    """Until the table lists every run, the backlog is read and the rules have caught up
    (at most ``backlog`` records left: about a second of live ones)."""
    ok = await wait_for(
        lambda: (
            app.runs_view.shown
            and len(app.runs_view.screen.table.all_rows) == runs
            and "read_s" in marks
        ),
        300,
    )
    assert ok, "the table never showed every run"
    rules = app.session.ingest.rules
    await wait_for(lambda: rules is None or rules.backlog <= backlog, 300, 0.1)
    marks["settled_s"] = round(time.perf_counter() - t0, 1)
    marks["rules_backlog_start"] = rules.backlog if rules else None


async def case_live(path: str, runs: int, live: int, rate: int, seconds: float) -> dict[str, Any]:
    """``live`` of the sweep's ``runs`` logs appended to by another process at ``rate``
    lines/s each: cursor keys on the runs table, then ``l`` on the opened run's charts."""
    from lrwatch.tui.app import LRWatchApp

    files = sorted(Path(path).glob("*/train.jsonl"))
    start = files[0].read_bytes().count(b"\n") - 1  # the steps written so far
    writer = start_writer(files[:live], rate, start)
    probe, marks = Probe(), dict[str, Any]()
    t0 = time.perf_counter()
    app = probe.app = LRWatchApp(paths=[path])

    def records() -> int:
        with app.lock:
            return sum(r.records for r in app.store.runs.values())

    async def measure() -> dict[str, Any]:
        # The steady state: the rules have judged the backlog, so keys do not also compete
        # with that (it is the open case's business).
        await _settle(app, marks, runs, max(1000, 2 * live * rate), t0)
        await asyncio.sleep(1.0)
        n0, c0, w0 = records(), time.process_time(), time.perf_counter()
        table = await cursor_latencies(app, probe, seconds)
        # Open the first run (a live one) and toggle its loss chart's y scale.
        app.post_message(key("home"))
        await wait_for(lambda: app.runs_view.screen.table.cursor == 0, 10)
        app.post_message(key("enter"))
        await wait_for(lambda: not app.runs_view.shown, 10)
        await asyncio.sleep(0.5)
        charts = await toggle_latencies(app, probe, seconds)
        elapsed, cpu = time.perf_counter() - w0, time.process_time() - c0
        ingested = records() - n0
        wrote = stop_writer(writer)
        rules = app.session.ingest.rules
        return {
            **marks,
            "runs": runs,
            "live": live,
            "rate_per_run": rate,
            "written_lps": round(wrote["lines"] / wrote["seconds"]),
            "ingested_rps": round(ingested / elapsed),
            "ui_process_cpu": round(cpu / elapsed, 2),
            "rules_backlog_end": rules.backlog if rules else None,
            "rules_skipped": rules.skipped if rules else None,
            "table_keys": stats(table),
            "chart_keys": stats(charts),
        }

    try:
        return await run_app(app, marks, t0, measure)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("case", choices=("open", "single", "live"))
    ap.add_argument("path")
    ap.add_argument("--runs", type=int, default=1000)
    ap.add_argument("--points", type=int, default=10_000)
    ap.add_argument("--judge-timeout", type=float, default=240.0)
    ap.add_argument("--live", type=int, default=100)
    ap.add_argument("--rate", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=8.0)
    a = ap.parse_args()
    if a.case == "open":
        res = asyncio.run(case_open(a.path, a.runs, a.judge_timeout))
    elif a.case == "single":
        res = asyncio.run(case_single(a.path, a.points))
    else:
        res = asyncio.run(case_live(a.path, a.runs, a.live, a.rate, a.seconds))
    print(json.dumps({"case": a.case, **res}), flush=True)


if __name__ == "__main__":
    main()
