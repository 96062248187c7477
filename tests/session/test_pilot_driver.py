"""The autopilot end to end: a real, separate torch training process (pilot_trainee.py), a
headless Session following its log and running the rules, the Autopilot deciding and the
PilotDriver sending through the run's RunControl. Everything is asserted from the run's own
log: what the training process wrote."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lrwatch.session.autopilot import Autopilot, Bounds, Decision
from lrwatch.session.events import (
    ControlReply,
    ControlState,
    FindingsChanged,
    ReadProgress,
    SessionEvent,
)
from lrwatch.session.pilot_driver import PilotDriver
from lrwatch.session.pilot_view import pilot_view
from lrwatch.session.session import Session
from tests.control.ctlhelp import env, header, records, wait_for

TRAINEE = Path(__file__).with_name("pilot_trainee.py")


class Pilot:
    """The loop an owner (guard, the UI) runs: a Session's events in, decisions out."""

    def __init__(self, log: Path, bounds: Bounds) -> None:
        self.findings: list[Any] = []
        self.lock = threading.Lock()
        self.session = Session(self.emit, paths=[str(log)])
        self.autopilot = Autopilot(bounds)
        self.decisions: list[Decision] = []
        self.replies: list[dict[str, Any]] = []

    def emit(self, ev: SessionEvent) -> None:
        if isinstance(ev, FindingsChanged):
            with self.lock:
                self.findings = list(ev.findings)
        elif isinstance(ev, ReadProgress) and ev.done:
            self.session.ingest.release_rules()

    def start(self) -> None:
        self.session.start()
        threading.Thread(target=self.session.read_files, daemon=True).start()

    def connect(self, name: str) -> None:
        """Connect the run's control as the owner does (the job, then its events back)."""
        rc = wait_for(lambda: name in self.session.store.runs and self.session.control(name))
        wait_for(lambda: rc.endpoint is not None or self.session.control(name).endpoint)
        job = rc.connect_job()
        assert job is not None
        for ev in job():
            assert isinstance(ev, ControlState)
            rc.handle_state(ev, None, over=False)
        assert rc.connected, rc.error

    def step(self, name: str) -> None:
        """One tick: the view, the decisions, each carried out (countdown 0)."""
        with self.lock:
            findings = list(self.findings)
        with self.session.store.view([name]) as runs:
            if not runs:
                return
            view = pilot_view(runs[0], findings, None, self.autopilot.bounds.horizon)
        rc = self.session.control(name)
        for d in self.autopilot.decide(name, view, time.time()):
            self.decisions.append(d)
            result = PilotDriver(rc, self.autopilot).execute(d)
            self.replies.append(result.reply)
            self.decisions += result.notes
            for ev in result.events:  # handed back on the owner's thread, as for any job
                if isinstance(ev, ControlReply):
                    rc.handle_reply(ev)
                elif isinstance(ev, ControlState):
                    rc.handle_state(ev, None, over=False)

    def close(self) -> None:
        self.session.close()


def _start(tmp: Path, *args: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    log, stop = tmp / "run.jsonl", tmp / "run.stop"
    cmd = [sys.executable, str(TRAINEE), str(log), "--stop-file", str(stop), *args]
    return subprocess.Popen(cmd, env=env(), stderr=subprocess.PIPE), log, stop


@pytest.fixture
def driven(tmp_path: Path) -> Iterator[Any]:
    """Start a trainee with the given args and a Pilot following it; stop both at the end."""
    made: list[tuple[subprocess.Popen[bytes], Path, Pilot]] = []

    def make(bounds: Bounds, *args: str) -> tuple[Pilot, Path]:
        proc, log, stop = _start(tmp_path, *args)
        header(log)
        pilot = Pilot(log, bounds)
        made.append((proc, stop, pilot))
        pilot.start()
        pilot.connect("run")
        return pilot, log

    yield make
    for proc, stop, pilot in made:
        stop.touch()
        pilot.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def drive(pilot: Pilot, until: Any, timeout: float = 90) -> None:
    """Tick the pilot until ``until()`` holds (fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out driving the autopilot"
        pilot.step("run")
        time.sleep(0.05)


def ours(log: Path, kind: str) -> list[dict[str, Any]]:
    return [r for r in records(log) if r.get("kind") == kind and r.get("by") == "autopilot"]


def test_a_run_that_keeps_diverging_stays_inside_every_bound(driven: Any) -> None:
    """Real divergence: the schedule multiplies the LR by 10 every 120 steps, so a stable
    run (LR 0.125) blows up again and again (SGD on this problem diverges above ~0.6). The
    autopilot may make 2 changes, ≥ 80 steps apart, between 2× and 20× the first LR: the
    first ÷10 is clamped to ÷5 there; a revert is clamped to the ceiling; once both changes
    are spent, the next finding is left alone and the log says so."""
    bounds = Bounds(max_changes=2, min_steps=80, floor=2.0, ceiling=20.0, horizon=30, countdown=0)
    pilot, log = driven(bounds, "--jump-every", "120", "--sleep", "0.025")
    drive(pilot, lambda: any("most changes" in d.reason for d in pilot.decisions))
    changes = ours(log, "lr_change")
    first = header(log)["lr"][0]
    made = [c for c in changes if not c["reason"].startswith("revert")]
    assert len(made) == bounds.max_changes
    for c in changes:
        assert c["finding"].startswith("run/") and c["reason"] and c["via"] == "unix", c
        low, high = bounds.floor * first, bounds.ceiling * first
        assert low * (1 - 1e-9) <= c["new"][0] <= high * (1 + 1e-9), c
    for c in made:
        assert c["new"][0] < c["old"][0]
        before = [x["step"] for x in changes if x["step"] < c["step"]]
        assert not before or c["step"] - max(before) >= bounds.min_steps, (c, before)
    assert "clamped to the floor" in made[0]["reason"]
    notes = wait_for(lambda: ours(log, "note"), what="autopilot notes in the log")
    texts = [n["text"] for n in notes]
    assert any("made the most changes (2)" in t for t in texts), texts
    assert all(n.get("finding") for n in notes)


def test_a_change_that_made_the_loss_worse_is_reverted(driven: Any) -> None:
    """Real training, a misdiagnosis: at step 60 the data change (the target flips sign), the
    loss jumps ~700× and the divergence rule fires although the LR (0.02, stable) is not the
    cause. ÷10 only slows the re-fit, so the mean loss over the horizon after the change is
    above the mean over as many points before it (which hold the pre-shift floor): the
    autopilot reverts its change (×10), attributed, and writes why."""
    bounds = Bounds(horizon=20, countdown=0)
    pilot, log = driven(bounds, "--lr", "0.02", "--shift-at", "60", "--sleep", "0.03")
    drive(
        pilot,
        lambda: (
            any(d.kind == "revert" for d in pilot.decisions) and len(ours(log, "lr_change")) == 2
        ),
    )
    change, revert = ours(log, "lr_change")
    assert change["new"][0] == pytest.approx(change["old"][0] * 0.1)
    assert revert["new"][0] == pytest.approx(change["old"][0])  # back where it was
    assert revert["finding"] == change["finding"] and change["finding"].startswith("run/divergence")
    assert revert["reason"].startswith("revert: the loss got worse after ÷10"), revert
    assert revert["step"] > change["step"]
