"""Smoke test: the real ``lrwatch`` command in a real terminal (tmux), driven by keys."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import start_script

SCRIPT = Path(__file__).parent / "scripts" / "train_tiny.py"


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def _screen(session: str) -> str:
    return _tmux("capture-pane", "-p", "-t", session)


def _wait_for(session: str, *needles: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _screen(session)
        if all(n in screen for n in needles):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{needles} not on screen:\n{screen}")


@pytest.fixture
def trainer(tmp_path: Path) -> Iterator[Path]:
    log = tmp_path / "tiny.jsonl"
    proc = start_script(SCRIPT, log, "20000", "0.02", ready=(tmp_path / "tiny.sock").exists)
    yield log
    proc.terminate()
    proc.wait(10)


def _start(cmd: str, cols: int = 120, rows: int = 40, after: str = "") -> str:
    """Run ``lrwatch CMD`` in a new tmux session; without ``after`` it is the pane's process."""
    session = f"lrw-{uuid.uuid4().hex[:8]}"
    launch = "" if after else "exec "
    env = f"cd {shlex.quote(os.getcwd())} && TERM=xterm-256color {launch}{shlex.quote(sys.executable)} -m lrwatch"
    subprocess.run(
        [
            "tmux",
            "new-session",
            "-d",
            "-s",
            session,
            "-x",
            str(cols),
            "-y",
            str(rows),
            f"{env} {cmd}{after}",
        ],
        check=True,
    )
    return session


def test_attach_in_a_real_terminal(trainer: Path) -> None:
    session = _start(f"attach unix:{trainer.with_suffix('.sock')}")
    try:
        # The header can be on screen a frame before the charts: wait for both.
        _wait_for(session, "tiny", "● live", "control ✓", "Quit", "loss  ━ raw", "lr (log)")
        _tmux("send-keys", "-t", session, "l")
        _wait_for(session, "loss (log)")
        _tmux("send-keys", "-t", session, "?")
        _wait_for(session, "lrwatch keys", "set an exact LR")
        _tmux("send-keys", "-t", session, "Escape")
        time.sleep(0.5)  # a key right after ESC would read as alt+key
        _tmux("send-keys", "-t", session, "/")
        _wait_for(session, "Change the LR of run tiny", "0.05 → 5e-3")
        _tmux("send-keys", "-t", session, "y")
        _wait_for(session, "scale_lr applied at step")
        _tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 10
        while session in _tmux("ls") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert session not in _tmux("ls"), "q did not quit"
    finally:
        _tmux("kill-session", "-t", session)


def test_watch_a_log_file_in_a_real_terminal() -> None:
    fixture = Path(__file__).parent.parent / "fixtures" / "nanogpt_healthy.log"
    session = _start(f"watch {shlex.quote(str(fixture))}", cols=80, rows=24)
    try:
        screen = _wait_for(session, "nanogpt_healthy", "loss", "Quit")
        # nanoGPT text logs no LR: the header says "lr -" and the loss gets the LR panel's room.
        assert "read-only" in screen and "lr -" in screen and "lr (log)" not in screen
        _tmux("send-keys", "-t", session, "w")
        _wait_for(session, "window last 100")
        _tmux("send-keys", "-t", session, "-")
        _wait_for(session, "is read-only")
    finally:
        _tmux("kill-session", "-t", session)


NANOGPT = Path(__file__).parent / "scripts" / "print_nanogpt.py"


def test_run_output_survives_a_killed_ui(tmp_path: Path) -> None:
    """SIGKILL the UI of ``lrwatch run``: the child goes on and its console file is complete."""
    cmd = f"run --dir {tmp_path} -- {shlex.quote(sys.executable)} {NANOGPT} 400 0.01"
    session = _start(cmd, cols=80, rows=24)
    try:
        _wait_for(session, "print_nanogpt.console", "live", "Quit")
        ui_pid = int(_tmux("display", "-p", "-t", session, "#{pane_pid}").strip())
        os.kill(ui_pid, 9)
        out = tmp_path / "print_nanogpt.console.log"
        deadline = time.monotonic() + 60
        while not out.read_text().endswith("finished 400\n"):
            assert time.monotonic() < deadline, "the child died with the UI"
            time.sleep(0.1)
        lines = out.read_text().splitlines()
        assert [ln.split(":")[0] for ln in lines[:-1]] == [f"iter {i}" for i in range(400)]
    finally:
        _tmux("kill-session", "-t", session)


def test_run_returns_the_commands_exit_code(tmp_path: Path) -> None:
    cmd = f"run --dir {tmp_path} -- {shlex.quote(sys.executable)} {NANOGPT} 30 0.01 3"
    session = _start(cmd, cols=100, rows=30, after="; echo EXIT=$?; sleep 30")
    try:
        screen = _wait_for(session, "exited with code 3", "print_nanogpt.console", "step 29")
        assert "● crashed" in screen
        _tmux("send-keys", "-t", session, "q")
        screen = _wait_for(session, "EXIT=3")
        assert "lrwatch run: print_nanogpt exited with code 3" in screen
    finally:
        _tmux("kill-session", "-t", session)


def test_watch_reads_a_pipe_on_stdin() -> None:
    fixture = Path(__file__).parent.parent / "fixtures" / "hf_trainer_console.log"
    session = f"lrw-{uuid.uuid4().hex[:8]}"
    line = (
        f"cd {shlex.quote(os.getcwd())} && cat {shlex.quote(str(fixture))} | "
        f"TERM=xterm-256color {shlex.quote(sys.executable)} -m lrwatch watch -"
    )
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "80", "-y", "24", line], check=True
    )
    try:
        _wait_for(session, "stdin", "step 120", "loss")
        _tmux("send-keys", "-t", session, "l")  # keys come from the terminal, not the pipe
        _wait_for(session, "loss (log)")
    finally:
        _tmux("kill-session", "-t", session)


TRAIN_ENV = Path(__file__).parent / "scripts" / "train_env.py"


@pytest.mark.parametrize("answer", ["y", "n"])
def test_run_quit_asks_whether_to_stop_the_training(tmp_path: Path, answer: str) -> None:
    """q in ``lrwatch run``: y stops the training, n leaves it running; either quits at once.

    The training would run for ~30 minutes: the UI used to hang on q until it ended.
    """
    cmd = f"run --dir {tmp_path} -- {shlex.quote(sys.executable)} {TRAIN_ENV} 100000 0.02"
    session = _start(cmd, cols=100, rows=30, after="; echo EXIT=$?; sleep 60")
    pid_file = tmp_path / "child.pid"
    try:
        _wait_for(session, "train_env", "● live", "control ✓", timeout=60)
        _tmux("send-keys", "-t", session, "q")
        _wait_for(session, "Stop the training too?")
        _tmux("send-keys", "-t", session, answer)
        screen = _wait_for(session, "EXIT=")
        if answer == "y":
            assert "lrwatch run: train_env killed by SIGINT" in screen, screen
            assert "EXIT=130" in screen
        else:
            assert "train_env still running (pid" in screen and "EXIT=0" in screen, screen
            assert "stop it: kill -INT" in screen
            pid = int(screen.split("still running (pid ")[1].split(")")[0])
            pid_file.write_text(str(pid))
            os.kill(pid, 0)  # alive
            log = tmp_path / "train_env.jsonl"
            size = log.stat().st_size
            deadline = time.monotonic() + 30
            while log.stat().st_size == size:  # and still logging
                assert time.monotonic() < deadline, "the training stopped logging"
                time.sleep(0.1)
    finally:
        _tmux("kill-session", "-t", session)
        if pid_file.exists():
            os.killpg(int(pid_file.read_text()), 15)


MEMBER = Path(__file__).parent / "scripts" / "sweep_member.py"


def test_a_sweep_in_a_real_terminal_opens_on_the_table_and_a_typed_burst_filters_it(
    tmp_path: Path,
) -> None:
    """A filter typed fast (``/crashed⏎`` in one burst, as tmux sends it) must reach the
    filter: the table's bindings used to see the keys typed before ``/`` took effect."""
    from tests.control.ctlhelp import env

    procs = [
        subprocess.Popen(
            [sys.executable, str(MEMBER), str(tmp_path / f"lr{i}.jsonl"), "--steps", "80"]
            + (["--crash-at", "40"] if i >= 10 else []),
            env=env(),
            stderr=subprocess.DEVNULL,
        )
        for i in range(12)
    ]
    for p in procs:
        p.wait(timeout=120)
    session = _start(f"watch {tmp_path}", cols=120, rows=30)
    try:
        _wait_for(session, "12 runs", "lr11", "state", "worst finding", timeout=60)
        _tmux("send-keys", "-t", session, "/", "c", "r", "a", "s", "h", "e", "d", "Enter")
        screen = _wait_for(session, "filter “crashed”: 2 shown")
        rows = [line.split()[0] for line in screen.splitlines()[2:] if line.startswith("  lr")]
        assert rows == ["lr10", "lr11"], screen
        _tmux("send-keys", "-t", session, "Enter")
        _wait_for(session, "lr10", "● crashed", "loss  ━ raw")
        _tmux("send-keys", "-t", session, "Escape")
        _wait_for(session, "filter “crashed”: 2 shown")  # back, filter kept
    finally:
        _tmux("kill-session", "-t", session)
