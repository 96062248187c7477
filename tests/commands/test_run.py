"""``lrwatch run``: a real child process, its console file, its Monitor set up by the env.

The UI is driven with Textual's pilot on the same app ``lrwatch run`` builds; the terminal
behaviour (SIGKILL of the UI, exit code of the command) is in tests/tui/test_tmux.py.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lrwatch.commands.run import (
    exit_text,
    fresh_name,
    keeps_child,
    make_app,
    paths_for,
    rendezvous_of,
    run_name,
    start,
    stop,
)
from lrwatch.tui.messages import ControlReply
from lrwatch.tui.widgets.dialogs import ConfirmScreen, QuitRunScreen

SCRIPTS = Path(__file__).parent.parent / "tui" / "scripts"


async def _until(pilot: Any, cond: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await pilot.pause(0.05)


def _args(tmp_path: Path, *cmd: str) -> argparse.Namespace:
    return argparse.Namespace(
        dir=str(tmp_path), name=None, fmt=None, rules=None, keep=False, cmd=["--", *cmd]
    )


def _launch(
    tmp_path: Path, script: str, *argv: str
) -> tuple[argparse.Namespace, str, Path, Path, subprocess.Popen[bytes]]:
    """Start ``python script argv`` as ``lrwatch run`` does, named after the script."""
    args = _args(tmp_path, sys.executable, script, *argv)
    name = run_name(args.cmd[1:])
    out, log = paths_for(args.dir, name)
    return args, name, out, log, start(args.cmd[1:], out, log, name)


def _text(app: Any, selector: str) -> str:
    return str(app.query_one(selector).render().plain)


def test_names_and_paths(tmp_path: Path) -> None:
    assert run_name(["python", "-u", "train.py", "--lr", "3e-4"]) == "train"
    assert run_name(["torchrun", "--nproc", "2", "x.py"]) == "torchrun"
    out, log = paths_for(str(tmp_path), "exp")
    assert (out.name, log.name) == ("exp.console.log", "exp.jsonl")
    assert fresh_name(str(tmp_path), "exp") == "exp"
    log.write_text("{}\n")
    assert fresh_name(str(tmp_path), "exp") == "exp-2"  # never append to an earlier run


def test_a_left_over_rendezvous_file_is_an_earlier_run(tmp_path: Path) -> None:
    """Its announcements would be read again: the new UI would follow the old run's log."""
    _, log = paths_for(str(tmp_path), "exp")
    rendezvous_of(log).write_text('{"log": "/elsewhere/old.jsonl"}\n')
    assert fresh_name(str(tmp_path), "exp") == "exp-2"


async def test_a_monitor_configured_only_by_the_environment_is_watched_and_steered(
    tmp_path: Path,
) -> None:
    script = str(SCRIPTS / "train_env.py")
    args = _args(tmp_path, sys.executable, script, "5000", "0.02")
    name = fresh_name(args.dir, run_name(args.cmd[1:]))
    out, log = paths_for(args.dir, name)
    proc = start(args.cmd[1:], out, log, name)
    replies: list[ControlReply] = []

    def hook(message: object) -> None:
        if isinstance(message, ControlReply):
            replies.append(message)

    try:
        app = make_app(args, proc, out, log)
        async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
            # The Monitor() without arguments logged where lrwatch run told it to.
            await _until(pilot, lambda: (r := app.current_run) is not None and r.name == name)
            await _until(pilot, lambda: app.control_info(name).connected)
            assert str(tmp_path) in (app.control_info(name).endpoint or "")
            await _until(pilot, lambda: "✓" in _text(app, "#header"))
            await pilot.press("slash")
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await _until(pilot, lambda: bool(replies))
            assert replies[0].ok, replies[0].error
            applied = replies[0].reply["step"]

            def lrs_after() -> list[float]:
                with app.lock:
                    lr = app.store.runs[name].series["lr"]
                    return [
                        float(v) for s, v in zip(lr.steps, lr.values, strict=True) if s >= applied
                    ]

            await _until(pilot, lambda: len(lrs_after()) >= 3)
            assert all(v == pytest.approx(0.005) for v in lrs_after())
            # Its console output is the Monitor's run's console, not a second run: n stays.
            assert app.run_names == [name] and f"{name}.console" in app.store.runs
            await pilot.press("n")
            assert app.current_run.name == name
            await pilot.press("c")
            await _until(pilot, lambda: "iter 1: loss" in "\n".join(app.console_w.view_w.lines))
    finally:
        code = stop(proc)
    assert code is not None and proc.poll() is not None  # quitting stops the child
    assert "iter 1: loss" in out.read_text()


async def test_console_only_output_is_shown_and_the_exit_code_reported(tmp_path: Path) -> None:
    args, name, out, log, proc = _launch(
        tmp_path, str(SCRIPTS / "print_nanogpt.py"), "300", "0.002", "3"
    )
    try:
        app = make_app(args, proc, out, log)
        async with app.run_test(size=(100, 30)) as pilot:
            await _until(pilot, lambda: "exited with code 3" in _text(app, "#status"))
            run = app.store.runs[f"{name}.console"]
            await _until(pilot, lambda: run.last_step == 299)
            await _until(pilot, lambda: "299" in _text(app, "#header"))
            header = _text(app, "#header")
            assert f"{name}.console" in header and "add lrwatch.Monitor()" in header
            assert "● crashed" in header  # exit code 3, though the output has no end record
            assert app.query_one("#status").has_class("error")
            chart = _text(app, "#loss")
            assert chart.startswith("loss") and any(0x2800 < ord(c) <= 0x28FF for c in chart)
            assert run.series["loss"].values[0] == pytest.approx(5.0)
    finally:
        assert stop(proc) == 3
    lines = out.read_text().splitlines()
    assert len(lines) == 301 and lines[-1] == "finished 300"


async def _quit_with(tmp_path: Path, answer: str) -> tuple[Any, Any]:
    """Start a long real training under the app, press q then ``answer``; the app has exited."""
    args, name, out, log, proc = _launch(tmp_path, str(SCRIPTS / "train_env.py"), "3000", "0.02")
    try:
        app = make_app(args, proc, out, log)
        async with app.run_test(size=(100, 30)) as pilot:
            await _until(pilot, lambda: (r := app.current_run) is not None and r.name == name)
            await pilot.press("q")
            assert isinstance(app.screen, QuitRunScreen)
            text = " ".join(str(w.render()) for w in app.screen.query("Label"))
            assert "Stop the training too?" in text and "leave it running" in text
            await pilot.press(answer)
        # Textual's thread workers run in the loop's default executor, which asyncio.run
        # joins on exit: the thread that waits on the child must end though the child runs
        # (it used to block in wait() and lrwatch run hung on q until the training ended).
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(loop.shutdown_default_executor(), timeout=30)
        assert proc.poll() is None
        return app, proc
    except BaseException:
        stop(proc)
        raise


async def test_q_asks_and_n_leaves_the_training_running(tmp_path: Path) -> None:
    app, proc = await _quit_with(tmp_path, "n")
    try:
        assert app.stop_child is False
        assert proc.poll() is None
    finally:
        stop(proc)


async def test_q_then_y_quits_at_once_and_stops_the_training(tmp_path: Path) -> None:
    app, proc = await _quit_with(tmp_path, "y")
    assert app.stop_child is True
    code = stop(proc)  # what lrwatch run does next: SIGINT to the training
    assert code != 0 and proc.poll() is not None


async def test_esc_in_the_quit_dialog_stays(tmp_path: Path) -> None:
    args, _, out, log, proc = _launch(tmp_path, str(SCRIPTS / "print_nanogpt.py"), "3000", "0.01")
    try:
        app = make_app(args, proc, out, log)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("q")
            assert isinstance(app.screen, QuitRunScreen)
            await pilot.press("escape")
            assert not isinstance(app.screen, QuitRunScreen) and app.is_running
    finally:
        stop(proc)


def test_exit_codes_of_killed_children_read_like_the_shell() -> None:
    assert exit_text(3) == "exited with code 3"
    assert exit_text(-2) == "killed by SIGINT"


def test_only_a_yes_stops_the_training_a_failed_ui_leaves_it_running() -> None:
    assert keeps_child(stop_child=True, ui_return_code=0) is False  # q, y
    assert keeps_child(stop_child=False, ui_return_code=0) is True  # q, n (or --keep)
    assert keeps_child(stop_child=True, ui_return_code=1) is True  # the UI crashed
    assert keeps_child(stop_child=True, ui_return_code=None) is True  # it never exited
