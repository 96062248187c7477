"""`lrwatch demo` and `lrwatch find-lr` as a user runs them: real processes, real sockets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from lrwatch.control.client import ControlClient
from lrwatch.demos.registry import SCENARIOS

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _lrwatch(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lrwatch", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=ENV,
    )


def test_list_names_every_demo_with_its_symptom() -> None:
    out = _lrwatch("demo", "--list")
    assert out.returncode == 0
    for name, sc in SCENARIOS.items():
        assert f"{name} " in out.stdout and sc.description in out.stdout
    assert out.stdout.count("shows:") == len(SCENARIOS)


def test_headless_prints_progress_findings_and_exits_like_diagnose(tmp_path: Path) -> None:
    out = _lrwatch("demo", "quadratic", "--headless", "--fast", "--log", str(tmp_path))
    assert out.returncode == 1, out.stderr  # lr=1.5 diverges: an error-level finding
    assert "step 100/100" in out.stdout and "divergence" in out.stdout
    assert sorted(p.name for p in tmp_path.glob("*.jsonl")) == [
        "lr=0.01.jsonl",
        "lr=0.1.jsonl",
        "lr=1.5.jsonl",
    ]
    ok = _lrwatch("demo", "schedules", "--headless", "--fast", "--steps", "60")
    assert ok.returncode == 0, ok.stdout[-2000:]


def test_unknown_demo_is_a_usage_error() -> None:
    out = _lrwatch("demo", "no-such-demo", "--headless")
    assert out.returncode == 2 and "known:" in out.stderr


def _metrics(log: Path) -> list[dict]:
    recs = []
    for line in log.read_text().splitlines():
        try:
            recs.append(json.loads(line))
        except ValueError:
            break  # a line still being written
    return recs


def _wait_for(log: Path, pred, proc: subprocess.Popen[str]) -> list[dict]:  # type: ignore[no-untyped-def]
    while True:
        assert proc.poll() is None, "the demo ended before the condition was met"
        if log.exists():
            recs = _metrics(log)
            if pred(recs):
                return recs
        time.sleep(0.05)


def test_too_high_is_rescued_by_lr_div_10_applied_live(tmp_path: Path) -> None:
    log = tmp_path / "lr-too-high.jsonl"
    cmd = [sys.executable, "-m", "lrwatch.demos.run", "too-high", "--log", str(tmp_path)]
    proc = subprocess.Popen([*cmd, "--steps", "100000", "--pace", "200"], env=ENV, text=True)
    try:
        losses = lambda recs: [r["loss"] for r in recs if "loss" in r]  # noqa: E731
        # Wait until the loss has climbed to 20× its best: the run is diverging.
        recs = _wait_for(
            log, lambda r: len(losses(r)) > 20 and losses(r)[-1] > 20 * min(losses(r)), proc
        )
        with ControlClient.from_log(log) as client:
            reply = client.request("scale_lr", factor=0.1)
        assert reply["ok"], reply
        change = _wait_for(log, lambda r: any(x.get("kind") == "lr_change" for x in r), proc)
        at = next(x for x in change if x.get("kind") == "lr_change")["step"]
        recs = _wait_for(log, lambda r: sum(1 for x in r if x.get("step", 0) > at + 150) > 0, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    # The lr_change record's step is the first step trained at the new LR.
    before = [r for r in recs if "loss" in r and r["step"] < at]
    after = [r for r in recs if "loss" in r and r["step"] >= at]
    peak = before[-1]["loss"]
    assert peak > 20 * min(r["loss"] for r in before)
    assert abs(after[0]["lr"] / before[-1]["lr"] - 0.1) < 1e-9
    # Rescued: the loss comes back down, below the best it reached before diverging.
    assert after[-1]["loss"] < peak / 20
    assert after[-1]["loss"] < min(r["loss"] for r in before)


def _val_drop(recs: list[dict], lo: int, hi: int) -> float:
    """How far the held-out loss (every 25 steps, no mini-batch noise) fell from step lo to hi."""
    val = {r["step"]: r["val_loss"] for r in recs if "val_loss" in r}
    return val[lo] - val[hi]


def test_too_low_speeds_up_after_lr_x10_applied_live(tmp_path: Path) -> None:
    log = tmp_path / "lr-too-low.jsonl"
    cmd = [sys.executable, "-m", "lrwatch.demos.run", "too-low", "--log", str(tmp_path)]
    proc = subprocess.Popen([*cmd, "--steps", "100000", "--pace", "400"], env=ENV, text=True)
    window = 100  # steps, a multiple of the demo's validation interval (25)
    try:
        steps = lambda recs: [r["step"] for r in recs if "loss" in r]  # noqa: E731
        # Let it crawl for two windows, then ask for ×10 as the findings panel suggests.
        _wait_for(log, lambda r: len(steps(r)) >= 2 * window, proc)
        with ControlClient.from_log(log) as client:
            reply = client.request("scale_lr", factor=10.0)
        assert reply["ok"], reply
        change = _wait_for(log, lambda r: any(x.get("kind") == "lr_change" for x in r), proc)
        at = next(x for x in change if x.get("kind") == "lr_change")["step"]
        start = -(-at // 25) * 25  # the first validation at the new LR
        recs = _wait_for(
            log,
            lambda r: any(x.get("step", 0) >= start + window and "val_loss" in x for x in r),
            proc,
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    lrs = {r["step"]: r["lr"] for r in recs if "loss" in r}
    assert abs(lrs[at] / lrs[at - 1] - 10.0) < 1e-9
    before = _val_drop(recs, start - window - 25, start - 25)  # a window wholly at LR 2e-4
    after = _val_drop(recs, start, start + window)
    # Same number of steps, and the run is further along (less left to learn), yet the
    # held-out loss falls several times faster at 10× the LR, and so does the training loss
    # (full-batch: no mini-batch noise).
    assert before > 0 and after > 2.5 * before, (before, after)
    train = {r["step"]: r["loss"] for r in recs if "loss" in r}
    train_before = train[at - window] - train[at - 1]
    train_after = train[at] - train[at + window - 1]
    assert train_before > 0 and train_after > 2.5 * train_before, (train_before, train_after)


def test_find_lr_cli_prints_chart_and_suggestions(tmp_path: Path) -> None:
    log = tmp_path / "sweep.jsonl"
    out = _lrwatch("find-lr", "--num-iter", "60", "--log", str(log))
    assert out.returncode == 0, out.stderr
    assert "suggested LR (steepest):" in out.stdout and "suggested LR (valley):" in out.stdout
    assert "learning rate (log scale)" in out.stdout
    recs = [json.loads(x) for x in log.read_text().splitlines()]
    lrs = [r["lr"] for r in recs if "loss" in r]
    assert 10 < len(lrs) <= 60 and lrs == sorted(lrs)
    js = _lrwatch("find-lr", "--num-iter", "30", "--json")
    data = json.loads(js.stdout)
    assert len(data["lrs"]) == len(data["losses"]) and set(data["suggestions"]) <= {
        "steepest",
        "valley",
    }


def _steps_of(cmd: list[str]) -> int:
    return int(cmd[cmd.index("--steps") + 1])


def test_open_ended_demos_run_until_the_ui_quits_only_when_paced_by_default(
    tmp_path: Path,
) -> None:
    import argparse

    from lrwatch.commands import demo

    def ns(**kw: object) -> argparse.Namespace:
        return argparse.Namespace(**{"steps": None, "fast": False, "pace": None, "seed": 0, **kw})

    sc = SCENARIOS["too-high"]
    assert sc.open_ended
    assert _steps_of(demo.child_command(sc, ns(), tmp_path, 0, ui=True)) == demo.UNTIL_STOPPED
    # headless, --fast and an explicit --steps keep their bounded step counts
    assert _steps_of(demo.child_command(sc, ns(), tmp_path, 0)) == sc.steps
    assert _steps_of(demo.child_command(sc, ns(fast=True), tmp_path, 0, ui=True)) == sc.fast_steps
    assert _steps_of(demo.child_command(sc, ns(steps=50), tmp_path, 0, ui=True)) == 50
    bounded = SCENARIOS["schedules"]  # its LR schedules span the step count: never open-ended
    assert not bounded.open_ended
    assert _steps_of(demo.child_command(bounded, ns(), tmp_path, 0, ui=True)) == bounded.steps


def test_paced_live_fix_demos_give_a_person_time() -> None:
    # The symptom is flagged near step 74 (too-high) / 103 (too-low) in the --fast tests; at
    # the default pace that must be well after the start, and the nominal run >= 2 minutes.
    for name, flagged_at in (("too-high", 74), ("too-low", 103)):
        sc = SCENARIOS[name]
        assert flagged_at / sc.pace >= 10 and sc.steps / sc.pace >= 120, name


def test_a_demo_run_stops_when_its_ui_is_killed(tmp_path: Path) -> None:
    """The UI starts the training in a session of its own, so a SIGHUP (a dropped SSH
    connection) kills only the UI: the demo's trainee must notice and stop by itself instead
    of training until its 10-million-step budget runs out."""
    import argparse

    from lrwatch.commands import demo

    ns = argparse.Namespace(steps=None, fast=False, pace=20.0, seed=0)
    cmd = demo.child_command(SCENARIOS["too-high"], ns, tmp_path / "logs", 0, ui=True)
    assert "--parent" in cmd
    # A stand-in UI process: starts the trainee as the UI does (its own session), says its
    # pid and then waits to be killed; the trainee's --parent is the stand-in's pid.
    script = (
        "import os, subprocess, sys, time\n"
        f"cmd = {cmd!r}\n"
        "cmd[cmd.index('--parent') + 1] = str(os.getpid())\n"
        "p = subprocess.Popen(cmd, start_new_session=True, stdout=subprocess.DEVNULL)\n"
        "print(p.pid, flush=True)\n"
        "time.sleep(600)\n"
    )
    ui = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert ui.stdout is not None
    trainee = int(ui.stdout.readline())
    log = tmp_path / "logs" / "lr-too-high.jsonl"
    deadline = time.monotonic() + 120
    while not (log.exists() and log.read_text().count('"step"') >= 3):
        assert time.monotonic() < deadline, "the demo never started training"
        time.sleep(0.1)
    ui.send_signal(signal.SIGKILL)
    ui.wait()
    deadline = time.monotonic() + 60
    while _alive(trainee):
        assert time.monotonic() < deadline, "the trainee outlived its UI"
        time.sleep(0.1)
    assert '"kind":"end"' in log.read_text().replace(" ", "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not reaped: its parent died first, init reaps it) counts as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
