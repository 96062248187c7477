"""``lrwatch guard --autopilot`` end to end: guard as its own process, real separate training
processes (pilotee.py, guardee.py), everything asserted from the run's own log (what the
training process wrote) and guard's output."""

from __future__ import annotations

import contextlib
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lrwatch.commands import _autopilot_args as flags
from lrwatch.session import autopilot
from tests.control.ctlhelp import env, header, wait_for

HERE = Path(__file__).parent
PILOTEE, GUARDEE = HERE / "pilotee.py", HERE / "guardee.py"
DEADLINE = 120.0


def _records(log: Path) -> list[dict[str, Any]]:
    """The log's whole lines (a run may be writing the last one)."""
    out = []
    for line in log.read_text().splitlines() if log.exists() else []:
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def _ours(log: Path, kind: str) -> list[dict[str, Any]]:
    return [r for r in _records(log) if r.get("kind") == kind and r.get("by") == "autopilot"]


def _start(script: Path, log: Path, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(script), str(log), *args]
    return subprocess.Popen(cmd, env={**env(), **extra_env}, stderr=subprocess.DEVNULL)


def _guard(*args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "lrwatch", "guard", "--autopilot", *args]
    return subprocess.Popen(
        cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(guard: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = guard.communicate(timeout=DEADLINE)
    return guard.returncode, out, err


def _kill(*procs: subprocess.Popen[Any] | None) -> None:
    for p in procs:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()


def test_a_run_that_keeps_re_triggering_stays_inside_every_bound(tmp_path: Path) -> None:
    """The schedule multiplies the LR by 10 every 120 steps (0.3 → 3 → 30 …): each jump
    makes the loss bounce ~1000× above its floor, each ÷10 puts it back. Two changes, ≥ 150
    steps apart, between 2× and 20× the first LR: the first ÷10 is clamped to ÷5 (the
    floor), the second finding waits for the spacing, the third is left alone (count)."""
    log, stop = tmp_path / "run.jsonl", tmp_path / "run.stop"
    trainee = _start(PILOTEE, log, "--jump-every", "120", "--stop-file", str(stop))
    guard = None
    try:
        first = header(log)["lr"][0]
        guard = _guard(
            *("--max-changes", "2", "--min-steps", "150", "--horizon", "20"),
            *("--lr-floor", "2", "--lr-ceiling", "20", str(log)),
        )
        wait_for(
            lambda: any("most changes" in n["text"] for n in _ours(log, "note")),
            timeout=DEADLINE,
            what="the autopilot to spend its changes",
        )
        stop.touch()
        code, out, err = _finish(guard)
    finally:
        stop.touch()
        _kill(guard, trainee)
    assert code == 1, err  # divergence findings: diagnose's code
    changes = _ours(log, "lr_change")
    made = [c for c in changes if not c["reason"].startswith("revert")]
    assert len(made) == 2, changes
    for c in changes:
        assert c["finding"].startswith("run/divergence@") and c["via"] == "unix", c
        assert 2 * first * (1 - 1e-9) <= c["new"][0] <= 20 * first * (1 + 1e-9), c
    for c in made:
        assert c["new"][0] < c["old"][0], c  # decreases only (the default)
        before = [x["step"] for x in changes if x["step"] < c["step"]]
        assert not before or c["step"] - max(before) >= 150, (c, before)
    assert "clamped to the floor" in made[0]["reason"]
    texts = [n["text"] for n in _ours(log, "note")]
    assert any("waits:" in t and "(fewest 150)" in t for t in texts), texts
    assert any("made the most changes (2)" in t for t in texts), texts
    # Guard said each change, with the run's acknowledgement, and each note, on its line.
    said = [line for line in out.splitlines() if "autopilot" in line]
    applied = [line for line in said if ": applied at step " in line]
    assert len(applied) == len(changes), said
    assert f"applied at step {made[0]['step']}, 3 → 0.6" in applied[0], applied
    assert any("made the most changes (2)" in line for line in said), said


def test_rewind_to_a_snapshot_before_the_blow_up_and_the_run_finishes_healthy(
    tmp_path: Path,
) -> None:
    """From step 150 the schedule runs the LR ×10 too high and would never come back by
    itself; the run keeps a snapshot every 25 steps. With rewinds allowed, the autopilot
    rewinds to the newest snapshot before the finding's onset with ÷10 (instead of lowering
    the LR in place), and the run finishes at its noise floor."""
    log = tmp_path / "run.jsonl"
    trainee = _start(PILOTEE, log, "--jump-at", "150", "--snapshot-every", "25", "--steps", "350")
    guard = None
    try:
        header(log)
        guard = _guard("--allow", "decrease,rewind", "--horizon", "20", str(log))
        code, out, err = _finish(guard)  # it ends with the run
        trainee.wait(timeout=DEADLINE)
    finally:
        _kill(guard, trainee)
    assert code == 1, err
    recs = _records(log)
    (rw,) = _ours(log, "rewind")
    onset = int(rw["finding"].rsplit("@", 1)[1])
    assert rw["finding"].startswith("run/divergence@") and onset > 150, rw
    assert rw["source"] == "snapshot" and rw["to_step"] % 25 == 0
    assert rw["to_step"] < onset and rw["to_step"] <= 150 < rw["step"], rw
    assert rw["factor"] == pytest.approx(0.1) and rw["new"][0] == pytest.approx(0.3), rw
    assert rw["reason"] and rw["via"] == "unix"
    assert not _ours(log, "lr_change")  # a rewind, not a change in place
    assert recs[-1]["kind"] == "end" and recs[-1]["status"] == "finished"
    losses = [r["loss"] for r in recs if "loss" in r]
    floor = statistics.median(losses[:100])
    assert max(losses) > 20 * floor  # it did blow up
    assert statistics.median(losses[-50:]) < 2 * floor, losses[-50:]  # and it is healthy
    line = f"autopilot: rewind to step {rw['to_step']}, ÷10 on run run (divergence since step"
    said = [s for s in out.splitlines() if line in s]
    assert len(said) == 1 and f"rewound {rw['step']} → {rw['to_step']}, LR 3 → 0.3" in said[0]


def test_a_read_only_run_is_said_once_and_alerts_go_on(tmp_path: Path) -> None:
    """A run without a control endpoint (``LRWATCH_CONTROL=none``): the autopilot says once
    that it cannot act, every alert is still said, and guard exits with diagnose's code."""
    log = tmp_path / "diverge.jsonl"
    trainee = _start(GUARDEE, log, "diverge", LRWATCH_CONTROL="none")
    guard = None
    try:
        assert header(log)["control"] is None
        guard = _guard("--json", str(log))
        code, out, err = _finish(guard)  # it ends with the run (it crashes)
        trainee.wait(timeout=DEADLINE)
    finally:
        _kill(guard, trainee)
    alerts = [json.loads(line) for line in out.splitlines()]
    pilot = [a for a in alerts if a["event"] == "autopilot"]
    assert [a["decision"] for a in pilot] == ["read-only"], pilot
    assert "read-only: autopilot cannot act" in pilot[0]["message"]
    opened = {a["symptom"] for a in alerts if a["event"] == "opened"}
    assert {"divergence", "nan_inf"} <= opened, alerts
    assert any(a["event"] == "ended" and a["symptom"] == "crashed" for a in alerts)
    assert not [r for r in _records(log) if r.get("by") == "autopilot"]
    diagnose = [sys.executable, "-m", "lrwatch", "diagnose", str(log)]
    expected = subprocess.run(diagnose, env=env(), capture_output=True, timeout=DEADLINE)
    assert code == expected.returncode == 1, err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--autopilot", "--allow", "decrease,up"], "up: choose from decrease,increase,rewind"),
        (["--autopilot", "--max-changes", "-1"], "-1 is negative"),
        (["--autopilot", "--horizon", "0"], "the horizon must be at least 1 point"),
        (["--autopilot", "--lr-floor", "nan"], "nan must be a finite number > 0"),
        (["--autopilot", "--lr-floor", "2", "--lr-ceiling", "1"], "is above --lr-ceiling"),
        (["--autopilot", "--allow", "rewind"], "--allow rewind needs decrease too"),
        (["--max-changes", "2"], "--max-changes: an autopilot bound, given without --autopilot"),
    ],
)
def test_bad_bounds_exit_2_with_a_clear_message(
    tmp_path: Path, args: list[str], message: str
) -> None:
    cmd = [sys.executable, "-m", "lrwatch", "guard", *args, str(tmp_path / "none.jsonl")]
    done = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=DEADLINE)
    assert done.returncode == 2 and message in done.stderr, done.stderr


def test_the_flags_speak_the_autopilots_words() -> None:
    """The flags' choices and defaults are spelled out (``--help`` imports no session code):
    they must be the autopilot's."""
    assert flags.ACTIONS == autopilot.ACTIONS and flags.ON_FAIL == autopilot.ON_FAIL
    d = autopilot.Bounds()
    assert {
        "max_changes": d.max_changes,
        "min_steps": d.min_steps,
        "floor": d.floor,
        "ceiling": d.ceiling,
        "horizon": d.horizon,
        "on_fail": d.on_fail,
        "severity": d.severity,
    } == flags.DEFAULTS
