"""The console pane: its line styling (pure), and ``watch`` of a Monitor log whose header
names a console file (there, and not on this machine)."""

from __future__ import annotations

import json
from pathlib import Path

from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.widgets.console import CURRENT_MATCH, MATCH, console_text

from .helpers import until


def test_matches_are_marked_and_the_current_one_stands_out() -> None:
    text = console_text("loss 2.3 val_loss 2.5", "loss")
    assert [(s.start, s.end, str(s.style)) for s in text.spans] == [(0, 4, MATCH), (13, 17, MATCH)]
    current = console_text("loss 2.3", "loss", current=True)
    assert str(current.spans[0].style) == CURRENT_MATCH
    assert console_text("Traceback (most recent call last):").style == "bold red"
    assert console_text("plain", "").spans == []


def _log(tmp_path: Path, console: str) -> Path:
    log = tmp_path / "exp1.jsonl"
    rows = [{"kind": "run", "v": 1, "run": "exp1", "t": 0.0, "console": console}]
    rows += [{"step": i, "t": float(i), "loss": 3.0 / i, "lr": 1e-3} for i in range(1, 50)]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return log


async def test_watch_shows_the_console_file_its_header_names(tmp_path: Path) -> None:
    console = tmp_path / "exp1.console"
    console.write_text("epoch 1\r 50%|##\r100%|####\nstep 49 loss 0.06\n")
    app = LRWatchApp(paths=[str(_log(tmp_path, str(console)))])
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.current_run is not None and app.current_run.last_step)
        await pilot.press("c")
        pane = app.console_w
        await until(pilot, lambda: pane.view_w.lines == ["100%|####", "step 49 loss 0.06"])
        with open(console, "a") as fh:  # appended while open: followed
            fh.write("step 50 loss 0.05\n")
        await until(pilot, lambda: pane.view_w.lines[-1:] == ["step 50 loss 0.05"])
        await pilot.press("c")
        assert not pane.is_open


async def test_a_console_file_not_on_this_machine_is_said_so(tmp_path: Path) -> None:
    app = LRWatchApp(paths=[str(_log(tmp_path, "/gpu-box/runs/exp1.console"))])
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.current_run is not None and app.current_run.last_step)
        await pilot.press("c")
        title = app.query_one("#console-title")
        await until(pilot, lambda: "not found on this machine" in str(title.render()))
