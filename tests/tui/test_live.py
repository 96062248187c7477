"""End to end: a real training subprocess with a Monitor, steered from the UI over its socket.

The UI's LR change must reach the trainer over the real Unix socket and come back as an
``lr_change`` record in the stream, with the LR series showing the new value from that step.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrwatch.numfmt import fmt_num
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.messages import ControlReply
from lrwatch.tui.widgets.dialogs import ConfirmScreen

from .helpers import until

SCRIPT = Path(__file__).parent / "scripts" / "train_tiny.py"


@pytest.fixture(scope="module")
def trainer(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp_path = tmp_path_factory.mktemp("live")
    log = tmp_path / "tiny.jsonl"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(log), "5000", "0.02"])
    deadline = time.monotonic() + 60
    while not (log.exists() and log.stat().st_size and (tmp_path / "tiny.sock").exists()):
        assert proc.poll() is None, "trainer died"
        assert time.monotonic() < deadline, "trainer did not start"
        time.sleep(0.05)
    yield log, proc
    proc.terminate()
    proc.wait(10)


async def test_lr_change_from_the_ui_reaches_the_run_and_comes_back(trainer) -> None:  # type: ignore[no-untyped-def]
    log, _ = trainer
    replies: list[ControlReply] = []

    def hook(message: object) -> None:
        if isinstance(message, ControlReply):
            replies.append(message)

    app = LRWatchApp(attach=f"unix:{log.with_suffix('.sock')}")
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await until(pilot, lambda: "tiny" in app.store.runs and app.store.runs["tiny"].last_step)
        await until(pilot, lambda: app.control_info("tiny").connected)
        assert "✓" in app.query_one("#header").render().plain  # type: ignore[attr-defined]
        await pilot.press("slash")
        assert isinstance(app.screen, ConfirmScreen)
        assert "0.05 → 5e-3" in app.screen.question
        await pilot.press("y")
        await until(pilot, lambda: bool(replies))
        assert replies[0].ok, replies[0].error
        applied = replies[0].reply["step"]
        status = app.query_one("#status").render().plain  # type: ignore[attr-defined]
        assert f"applied at step {applied:,}" in status and "0.05 → 5e-3" in status

        def lr_after() -> list[float]:
            with app.lock:
                lr = app.store.runs["tiny"].series["lr"]
                return [float(v) for s, v in zip(lr.steps, lr.values, strict=True) if s >= applied]

        await until(pilot, lambda: len(lr_after()) >= 3)
        assert all(v == pytest.approx(0.005) for v in lr_after())
        with app.lock:
            changes = [e for e in app.store.runs["tiny"].events if e.kind == "lr_change"]
        assert [(c.step, c.data["new"]) for c in changes] == [(applied, [pytest.approx(0.005)])]
        assert "5e-3" in app.query_one("#lr").render().plain  # type: ignore[attr-defined]


async def test_a_refused_command_is_shown(trainer) -> None:  # type: ignore[no-untyped-def]
    log, _ = trainer
    app = LRWatchApp(attach=f"unix:{log.with_suffix('.sock')}")
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.control_info("tiny").connected)
        await pilot.press("e")
        await pilot.press(*"9.5", "enter")  # above the run's ceiling of max(1, 100 × 0.05)
        await pilot.press("y")
        status = app.query_one("#status")
        await until(pilot, lambda: "refused" in status.render().plain)  # type: ignore[attr-defined]
        assert "out_of_range" in status.render().plain and status.has_class("error")  # type: ignore[attr-defined]


async def test_an_lr_change_made_with_ctl_shows_on_the_chart_and_the_status_line(trainer) -> None:  # type: ignore[no-untyped-def]
    log, _ = trainer
    app = LRWatchApp(paths=[str(log)])
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.control_info("tiny").connected)
        with app.lock:
            before = len([e for e in app.store.runs["tiny"].events if e.kind == "lr_change"])
        ctl = subprocess.run(
            [sys.executable, "-m", "lrwatch", "ctl", str(log), "scale-lr", "0.5"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert ctl.returncode == 0, ctl.stderr

        def changes() -> list:  # type: ignore[type-arg]
            with app.lock:
                return [e for e in app.store.runs["tiny"].events if e.kind == "lr_change"]

        await until(pilot, lambda: len(changes()) > before)
        change = changes()[-1]
        old, new = change.data["old"][0], change.data["new"][0]
        status = app.status_w
        news = f"changed at step {change.step:,} from elsewhere"
        await until(pilot, lambda: news in status.render().plain)
        label = f"{fmt_num(old)}→{fmt_num(new)}"
        # The marker on the LR chart; its label shows once a step or two follows the change
        # (at the chart's right edge it has no room): wait for it, the trainee keeps stepping.
        await until(pilot, lambda: label in app.charts_w[1].render().plain)


async def test_our_own_change_keeps_its_acknowledgement_on_the_status_line(trainer) -> None:  # type: ignore[no-untyped-def]
    log, _ = trainer
    app = LRWatchApp(paths=[str(log)])
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.control_info("tiny").connected)
        await pilot.press("plus")
        await pilot.press("y")
        status = app.status_w
        await until(pilot, lambda: "applied at step" in status.render().plain)
        applied = int(
            status.render().plain.split("applied at step ")[1].split(":")[0].replace(",", "")
        )

        def logged() -> bool:
            with app.lock:
                run = app.store.runs["tiny"]
                return any(e.kind == "lr_change" and e.step == applied for e in run.events)

        await until(pilot, logged)
        await pilot.pause(0.5)  # a few redraws after the record arrived
        assert "applied at step" in status.render().plain
        assert "from elsewhere" not in status.render().plain
