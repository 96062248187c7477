"""How the UI tells a finished, idle or lost run apart, on real files and real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

from lrwatch.tui.app import LRWatchApp

from .helpers import start_script, until

FIXTURES = Path(__file__).parent.parent / "fixtures"
SCRIPT = Path(__file__).parent / "scripts" / "train_tiny.py"


def _header(app: LRWatchApp) -> str:
    return app.header_w.render().plain


def _trainer(log: Path, steps: int, sleep: float) -> subprocess.Popen[bytes]:
    sock = log.with_suffix(".sock")
    return start_script(SCRIPT, log, steps, sleep, ready=sock.exists)


async def test_a_log_not_written_for_hours_is_idle_not_live(tmp_path: Path) -> None:
    csv = tmp_path / "metrics.csv"
    shutil.copy(FIXTURES / "lightning_sgd_lr8_nan_metrics.csv", csv)
    hours_ago = time.time() - 3 * 3600 - 60
    os.utime(csv, (hours_ago, hours_ago))
    app = LRWatchApp(paths=[str(csv)])
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "step 599" in _header(app))
        header = _header(app)
        assert "● idle 3h ago" in header and "live" not in header


async def test_a_finished_run_closing_its_socket_is_not_an_error(tmp_path: Path) -> None:
    log = tmp_path / "tiny.jsonl"
    proc = _trainer(log, steps=60, sleep=0.05)
    try:
        app = LRWatchApp(paths=[str(log)])
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.control_info("tiny").connected)
            await until(pilot, lambda: "finished" in _header(app))
            await until(pilot, lambda: "■ run tiny finished" in app.status_w.render().plain)
            await pilot.pause(2.5)  # past the grace a dropped connection gets before "lost"
            header = _header(app)
            assert "control – run finished" in header and "✗" not in header, header
            assert not app.status_w.has_class("error"), app.status_w.render().plain
            assert app.clients == {}  # no more status pings to a closed socket
    finally:
        proc.wait(30)


async def test_a_run_that_dies_without_an_end_record_is_lost(tmp_path: Path) -> None:
    log = tmp_path / "tiny.jsonl"
    proc = _trainer(log, steps=100_000, sleep=0.02)
    try:
        app = LRWatchApp(paths=[str(log)])
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.control_info("tiny").connected)
            proc.kill()  # no end record, no goodbye
            proc.wait(10)
            await until(pilot, lambda: "✗ lost" in _header(app))
            assert app.status_w.has_class("error") and "lost" in app.status_w.render().plain
            assert "● live" in _header(app)  # only after a minute of silence: stalled
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_a_pipe_at_eof_is_idle_and_a_log_without_lr_gives_the_loss_the_room() -> None:
    r, w = os.pipe()
    os.write(w, (FIXTURES / "nanogpt_healthy.log").read_bytes())
    os.close(w)
    app = LRWatchApp(paths=["-"], stdin_fd=r)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "input closed" in _header(app))
        header = _header(app)
        assert "● idle input closed" in header and "live" not in header
        assert "lr -" in header
        await until(pilot, lambda: not app.charts_w[1].display)  # no empty LR panel
        await until(pilot, lambda: app.charts_w[0].size.height >= 18)  # all the body
