"""The ``too-high`` demo's rewind path: the demo keeps snapshots, a ``rewind`` over the real
socket takes it back to one and it trains on from there; the ``adam-mlp`` family's trainee
rewound over its socket; and the rules of ``benchmarks/rewind_vs_cut.py`` (blow-up, steps to
recover, the medians, per family) on made-up curves."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks.rewind_vs_cut import (
    SPIKE_K,
    SPIKE_LEN,
    SPIKE_START,
    Blowup,
    BlowupWatch,
    BranchResult,
    blowup,
    judge,
    median_recover,
    medians,
    metrics_of,
    read_records,
    run_branch,
    spike,
    steps_to_recover,
    table,
)
from lrwatch.control.client import ControlClient
from lrwatch.demos.runner import SNAPSHOT_EVERY, SNAPSHOT_KEEP

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
Records = list[dict[str, Any]]


def _wait_for(
    log: Path, pred: Callable[[Records], bool], proc: subprocess.Popen[str], timeout: float = 120
) -> Records:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the demo ended before the condition was met"
        if log.exists() and pred(recs := read_records(log)):
            return recs
        time.sleep(0.05)
    raise AssertionError("condition not met before the deadline")


def test_too_high_demo_rewinds_over_the_socket_and_trains_on(tmp_path: Path) -> None:
    log = tmp_path / "lr-too-high.jsonl"
    cmd = [sys.executable, "-m", "lrwatch.demos.run", "too-high", "--log", str(tmp_path)]
    proc = subprocess.Popen([*cmd, "--steps", "100000", "--pace", "200"], env=ENV, text=True)
    try:
        # Two snapshots exist (steps 25 and 50) once step 55 is logged.
        _wait_for(log, lambda r: any(m["step"] >= 55 for m in metrics_of(r)), proc)
        with ControlClient.from_log(log) as client:
            assert client.request("status")["snapshots"][:2] == [25, 50]
            reply = client.request("rewind", steps_back=10, scale_lr=0.1, by="test")
        assert reply["ok"], reply
        came_from, to = reply["step"], reply["to_step"]
        # The newest snapshot at or before 10 steps back (every 25 steps, the last 16 kept).
        assert to == (came_from - 10) // SNAPSHOT_EVERY * SNAPSHOT_EVERY
        assert came_from - to < SNAPSHOT_EVERY * SNAPSHOT_KEEP
        recs = _wait_for(
            log, lambda r: any(r.get("kind") == "rewind" for r in r) and len(_after(r)) >= 40, proc
        )
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    rewind = next(r for r in recs if r.get("kind") == "rewind")
    assert (rewind["step"], rewind["to_step"], rewind["by"]) == (came_from, to, "test")
    assert math.isclose(rewind["new"][0], 0.1 * rewind["old"][0], rel_tol=1e-9)
    before = {m["step"]: m for m in metrics_of(recs[: recs.index(rewind)])}
    after = _after(recs)
    # The demo numbers its steps from the snapshot on, at a tenth of the LR ...
    assert [m["step"] for m in after[:3]] == [to + 1, to + 2, to + 3]
    assert math.isclose(after[0]["lr"], 0.1 * before[to + 1]["lr"], rel_tol=1e-9)
    # ... and the restored weights are the snapshot's: the next step's loss is close to what
    # that step gave the first time, not to the blown-up loss it left.
    assert abs(after[0]["loss"] - before[to + 1]["loss"]) < abs(
        after[0]["loss"] - before[came_from]["loss"]
    )
    # It trains on and the loss falls below the best it reached before the climb.
    assert after[-1]["loss"] < min(m["loss"] for m in before.values())


def _after(recs: Records) -> Records:
    at = next((i for i, r in enumerate(recs) if r.get("kind") == "rewind"), len(recs))
    return metrics_of(recs[at:])


def test_benchmark_branch_rewinds_a_real_trainee_over_its_socket(tmp_path: Path) -> None:
    result = run_branch(0, "rewind", 5, tmp_path)
    # seed 0 blows up at step 44 (see docs/demos.md): back to the snapshot at 25
    assert result.blowup_step > SNAPSHOT_EVERY and result.steps_after == 5
    assert result.rewound_to == (result.blowup_step - 1) // SNAPSHOT_EVERY * SNAPSHOT_EVERY
    assert result.loss_at_snapshot is not None and result.recover is not None


# -- the benchmark's rules on made-up curves ---------------------------------------------------


def test_blowup_is_the_first_loss_above_3x_the_running_minimum() -> None:
    curve = [4.0, 2.0, 1.0, 0.5, 0.6, 1.0, 1.5, 1.6, 9.0]
    assert blowup(curve) == Blowup(index=7, minimum=0.5)  # 1.5 is not above 3 × 0.5
    assert blowup([1.0, 0.9, float("nan")]) == Blowup(2, 0.9)
    assert blowup([5.0, 4.0, 3.0]) is None
    watch = BlowupWatch()
    assert not watch.feed(100.0)  # the first loss has nothing to compare with


def test_steps_to_recover_counts_steps_after_the_intervention() -> None:
    after = [3.0, 1.0, 0.56, 0.54, 0.3]
    assert steps_to_recover(after, 1.1 * 0.5) == 4
    assert steps_to_recover(after[:3], 0.55) is None
    assert median_recover([None, 3, None]) is None  # the middle one never recovered
    assert median_recover([None, 3, 5]) == 5
    assert median_recover([2, 4]) == 3


def test_judge_measures_a_branch_from_its_log_records() -> None:
    losses = [4.0, 1.0, 0.5, 0.7, 2.0]  # blow-up at step 5: 2.0 > 3 × 0.5
    recs: Records = [{"kind": "run", "lr": [0.1]}]
    recs += [{"step": i + 1, "loss": v} for i, v in enumerate(losses)]
    recs += [{"kind": "pause", "step": 5}, {"kind": "rewind", "step": 5, "to_step": 2}]
    recs += [{"step": 3, "loss": 0.9}, {"step": 4, "loss": 0.54}, {"step": 5, "loss": 0.4}]
    r = judge(7, "rewind", recs, budget=3)
    assert (r.seed, r.blowup_step, r.minimum, r.rewound_to, r.loss_at_snapshot) == (
        7,
        5,
        0.5,
        2,
        1.0,
    )
    assert (r.recover, r.final_loss, r.steps_after) == (2, 0.4, 3)  # 0.54 < 1.1 × 0.5
    cut = judge(7, "cut", [*recs[:7], {"step": 6, "loss": 1.9}], budget=3)
    assert cut.recover is None and cut.rewound_to is None and cut.final_loss == 1.9


# -- the adam-mlp family -----------------------------------------------------------------------


def test_adam_mlp_trainee_blows_up_in_its_spike_and_rewinds_to_before_it(tmp_path: Path) -> None:
    result = run_branch(0, "rewind", 5, tmp_path, "adam-mlp")
    assert result.family == "adam-mlp" and result.steps_after == 5
    # The healthy LR does not trip the rule; the ×K spike does, within its steps ...
    assert SPIKE_START <= result.blowup_step < SPIKE_START + SPIKE_LEN
    # ... and T − 1 reaches back to the snapshot taken just before the spike.
    assert (SPIKE_START - 1) % SNAPSHOT_EVERY == 0 and result.rewound_to == SPIKE_START - 1
    log = tmp_path / "adam-mlp-seed0-rewind.jsonl"
    recs = read_records(log)
    rewind = next(r for r in recs if r.get("kind") == "rewind")
    assert rewind["by"] == "bench" and rewind["to_step"] == SPIKE_START - 1
    # The schedule was restored with the weights: the spike replays at a tenth.
    after = _after(recs)
    assert after[0]["step"] == SPIKE_START
    assert math.isclose(after[0]["lr"], SPIKE_K * 0.1 * recs[0]["lr"][0], rel_tol=1e-9)


def test_spike_multiplies_exactly_the_spike_steps() -> None:
    # LambdaLR's epoch is the steps already taken: step s runs at spike(s - 1).
    lrs = {s: spike(s - 1) for s in range(1, 200)}
    assert [s for s, f in lrs.items() if f != 1.0] == list(
        range(SPIKE_START, SPIKE_START + SPIKE_LEN)
    )
    assert lrs[SPIKE_START] == SPIKE_K


def test_smoothed_recovery_waits_for_the_mean_of_the_window() -> None:
    after = [0.4, 0.9, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5]
    assert steps_to_recover(after, 0.55) == 1  # one lucky batch is enough without a window
    assert steps_to_recover(after, 0.55, window=5) == 8  # the mean of steps 4–8 is 0.5
    assert steps_to_recover(after[:7], 0.55, window=5) is None


def _adam_mlp_log(after: list[float], *, rewind: bool) -> Records:
    # Steps 1–90 at 1.0, 91–100 at 0.5 (m = 0.5), the spike's 101 at 1.0, 102 at 2.0 (> 3 × 0.5)
    losses = [1.0] * 90 + [0.5] * 10 + [1.0, 2.0]
    recs: Records = [{"kind": "run", "lr": [3e-3]}]
    recs += [{"step": i + 1, "loss": v} for i, v in enumerate(losses)]
    recs.append({"kind": "pause", "step": 102})
    first = 101
    if rewind:
        recs.append({"kind": "rewind", "step": 102, "to_step": 100})
    else:
        first = 103
    return recs + [{"step": first + i, "loss": v} for i, v in enumerate(after)]


def test_judge_measures_an_adam_mlp_branch_by_its_family_rules() -> None:
    after = [0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.4]
    r = judge(3, "rewind", _adam_mlp_log(after, rewind=True), budget=7, family="adam-mlp")
    assert (r.family, r.blowup_step, r.minimum, r.rewound_to, r.loss_at_snapshot) == (
        "adam-mlp",
        102,
        0.5,
        100,
        0.5,
    )
    assert r.recover == 5  # mean(0.6, 0.5, 0.5, 0.5, 0.5) = 0.52 < 1.1 × 0.5
    assert math.isclose(r.final_loss, 3.5 / 7)  # the mean of the last 20 (here all 7)
    cut = judge(3, "cut", _adam_mlp_log([0.6] * 30, rewind=False), budget=25, family="adam-mlp")
    assert cut.recover is None and cut.steps_after == 25 and cut.final_loss == 0.6


def test_judge_fails_an_adam_mlp_seed_that_blew_up_before_its_spike() -> None:
    recs: Records = [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 5.0}, {"kind": "pause"}]
    with pytest.raises(ValueError, match="before the spike"):
        judge(0, "cut", recs, budget=3, family="adam-mlp")


def test_medians_and_table_keep_families_apart() -> None:
    def res(family: str, branch: str, seed: int, final: float) -> BranchResult:
        return BranchResult(seed, branch, 102, 0.5, final, 7, 10, 100, 0.5, family)

    results = [res("too-high", b, s, 1.0) for s in (0, 1) for b in ("cut", "rewind")]
    results += [res("adam-mlp", b, s, 10.0 + s) for s in (0, 1) for b in ("none", "cut", "rewind")]
    med = medians(results)
    assert med["too-high"]["final_cut"] == 1.0 and "final_none" not in med["too-high"]
    assert med["adam-mlp"]["final_none"] == 10.5 and med["adam-mlp"]["recover_rewind"] == 7
    text = table([r for r in results if r.family == "adam-mlp"])
    assert "steps to recover: no change | ÷10 | rewind+÷10" in text
    assert text.splitlines()[-1] == "| median | | | | 7 | 7 | 7 | 10.5 | 10.5 | 10.5 |"
