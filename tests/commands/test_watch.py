"""``lrwatch watch``: the UI over real files, followed while another thread appends to them."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from lrwatch.cli import build_parser
from lrwatch.tui.app import LRWatchApp

FIXTURES = Path(__file__).parent.parent / "fixtures"


async def _until(pilot: Any, cond: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def _header(app: LRWatchApp) -> str:
    return str(app.query_one("#header").render().plain)


def test_arguments() -> None:
    args = build_parser().parse_args(
        ["watch", "a.log", "runs/", "--no-follow", "--rules", "r.toml"]
    )
    assert args.paths == ["a.log", "runs/"] and args.no_follow and args.rules == "r.toml"
    assert args.func.__module__ == "lrwatch.commands.watch"


async def test_follows_appends_and_counts_unreadable_lines(tmp_path: Path) -> None:
    log = tmp_path / "train.log"
    log.write_text(
        "".join(f"iter {i}: loss {3 - i * 0.01:.4f}, time 10.0ms, mfu 1.0%\n" for i in range(50))
    )
    app = LRWatchApp(paths=[str(log)])
    async with app.run_test(size=(100, 30)) as pilot:
        await _until(
            pilot, lambda: "train" in app.store.runs and app.store.runs["train"].last_step == 49
        )
        await _until(pilot, lambda: "read-only" in _header(app))

        def writer() -> None:  # another writer, like the training process
            with log.open("a") as fh:
                for i in range(50, 120):
                    fh.write(f"iter {i}: loss {3 - i * 0.01:.4f}, time 10.0ms, mfu 1.0%\n")
                    if i == 80:
                        fh.write("iter 81: loss ???, time 10.0ms\n")  # torn / garbled line
                    fh.flush()
                    time.sleep(0.002)

        th = threading.Thread(target=writer)
        th.start()
        th.join()
        await _until(pilot, lambda: app.store.runs["train"].last_step == 119)
        await _until(pilot, lambda: "step 119" in _header(app))
        assert "1 unreadable line" in _header(app)  # errors are visible, never silent
        assert "100" in str(app.query_one("#loss").render().plain).splitlines()[-1]  # x axis


async def test_a_finished_log_without_following() -> None:
    app = LRWatchApp(paths=[str(FIXTURES / "nanogpt_healthy.log")], follow=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _until(pilot, lambda: (r := app.current_run) is not None and r.records > 0)
        await _until(pilot, lambda: "nanogpt_healthy" in _header(app))
        run = app.current_run
        assert run is not None and len(run.series["loss"]) > 10


async def test_a_missing_path_is_an_error_on_screen(tmp_path: Path) -> None:
    app = LRWatchApp(paths=[str(tmp_path / "nope.jsonl")], follow=False)
    async with app.run_test(size=(80, 24)) as pilot:
        status = app.query_one("#status")
        await _until(pilot, lambda: status.has_class("error"))
        assert "nope.jsonl" in str(status.render().plain)
