"""Helpers for tests that drive a real training subprocess and talk to it."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TRAINEE = Path(__file__).with_name("trainee.py")
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Trainee:
    """A running trainee.py process."""

    proc: subprocess.Popen[bytes]
    log: Path
    stop_file: Path

    def stop(self, timeout: float = 60) -> int:
        """Ask it to finish (stop file) and wait for it."""
        self.stop_file.touch()
        return self.proc.wait(timeout=timeout)

    def kill(self) -> None:
        """Kill it if still running (test cleanup)."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)


def env() -> dict[str, str]:
    """Environment for subprocesses: the repo importable, small thread pools."""
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e["OMP_NUM_THREADS"] = "1"
    e.pop("LRWATCH_LOG", None)
    e.pop("LRWATCH_CONTROL", None)
    return e


def start_trainee(
    tmp: Path,
    name: str,
    min_steps: int = 50,
    *extra: str,
    stopped: bool = False,
    log: Path | None = None,
    prefix: Sequence[str] = (),
) -> Trainee:
    """Start trainee.py logging to ``tmp/name.jsonl`` (or ``log``); ``stopped``: run exactly
    min_steps; ``prefix``: a command to run it under (e.g. :func:`ordinary_user`)."""
    log = log or tmp / f"{name}.jsonl"
    stop = tmp / f"{name}.stop"
    if stopped:
        stop.touch()
    cmd = [*prefix, sys.executable, str(TRAINEE), str(log), "--min-steps", str(min_steps)]
    cmd += ["--stop-file", str(stop), *extra]
    proc = subprocess.Popen(cmd, env=env(), stderr=subprocess.PIPE)
    return Trainee(proc, log, stop)


def ordinary_user() -> list[str]:
    """A command prefix that makes file permissions bind: as root, drop every capability
    (so a 0555 directory is read-only to the process); otherwise nothing."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]


@contextlib.contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A real filesystem of ``size`` (tmpfs) mounted at ``path``, to fill up. Needs root
    (CI runs as root); elsewhere the test is skipped with the reason."""
    path.mkdir(parents=True, exist_ok=True)
    mount = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
        capture_output=True,
        text=True,
    )
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here (needs root): {mount.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(disk: Path) -> Path:
    """Fill ``disk`` to the last byte with one file; delete it to free the space again."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        for chunk in (65536, 512, 1):  # down to the last partial block
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * chunk)
    finally:
        os.close(fd)
    return filler


def wait_for(pred: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    """Poll ``pred`` until truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def connect(path: str, timeout: float = 10) -> socket.socket:
    """A raw connection to a Monitor's unix socket (``path`` without ``unix:``)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def read_reply(s: socket.socket) -> dict[str, Any]:
    """The first whole reply line on ``s``."""
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    reply: dict[str, Any] = json.loads(buf.split(b"\n")[0])
    return reply


def records(log: Path) -> list[dict[str, Any]]:
    """Every record of a log (each line must be whole JSON)."""
    if not log.exists():
        return []
    text = log.read_text()
    return [json.loads(line) for line in text.splitlines()]


def header(log: Path) -> dict[str, Any]:
    """Wait for and return the run header."""
    return wait_for(
        lambda: next((r for r in records(log) if r.get("kind") == "run"), None),
        what=f"run header in {log}",
    )


def metric_steps(log: Path) -> int:
    """Number of metric records so far."""
    return sum(1 for r in records(log) if "kind" not in r)


def losses(log: Path) -> list[float]:
    """The loss column, in order."""
    return [r["loss"] for r in records(log) if "kind" not in r and "loss" in r]


def ctl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m lrwatch ctl ARGS``."""
    return subprocess.run(
        [sys.executable, "-m", "lrwatch", "ctl", *args],
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
