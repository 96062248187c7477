"""`lrwatch demo` without a name in a real terminal (tmux): the picker starts the chosen demo."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from pathlib import Path


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=False).stdout


def _wait_for(session: str, *needles: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session)
        if all(n in screen for n in needles):
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{needles} not on screen:\n{screen}")


def test_picker_starts_the_chosen_demo_and_comes_back(tmp_path: Path) -> None:
    done = tmp_path / "exit-code"
    cmd = (
        f"cd {shlex.quote(os.getcwd())} && TERM=xterm-256color OMP_NUM_THREADS=1 "
        f"{shlex.quote(sys.executable)} -m lrwatch demo --fast --steps 40 --log {tmp_path}; "
        f"echo $? > {done}"
    )
    session = f"lrw-demo-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["tmux", "new-session", "-d", "-s", session, "-x", "100", "-y", "30", cmd], check=True
    )
    try:
        _wait_for(session, "enter start", "quadratic", "range-test")
        _tmux("send-keys", "-t", session, "Down", "Down", "Enter")  # the third: too-low
        screen = _wait_for(session, "lr-too-low", "step 40")
        assert "control" in screen and "Quit" in screen
        recs = [json.loads(x) for x in (tmp_path / "lr-too-low.jsonl").read_text().splitlines()]
        assert recs[0]["kind"] == "run" and recs[0]["run"] == "lr-too-low"
        assert [r["step"] for r in recs if "loss" in r] == list(range(1, 41))
        assert not (tmp_path / "lr-too-high.jsonl").exists()
        # q leaves the demo for the picker, still on the demo just run (too-low), not the next.
        _tmux("send-keys", "-t", session, "q")
        _wait_for(session, "enter start", "too-low shows:")
        assert "oscillation shows:" not in _tmux("capture-pane", "-p", "-t", session)
        _tmux("send-keys", "-t", session, "q")
        deadline = time.monotonic() + 30
        while not done.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert done.read_text().strip() == "0"
    finally:
        _tmux("kill-session", "-t", session)
