"""The ``schedule`` forecast: a copy of the scheduler stepped ahead, the live run untouched.

In process: for each kind of torch scheduler, the forecast equals the LRs the optimizer then
really uses step by step (bitwise), and the optimizer, scheduler and parameters are bitwise
what they were. Out of process: a real run answers ``schedule`` over its socket, and the LRs
it logs afterwards are the forecast ones, re-anchored and pinned changes included.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch.optim import lr_scheduler as L

from lrwatch.control.client import ControlClient
from lrwatch.train.forecast import MAX_STEPS, forecast, sample_indices
from lrwatch.train.lr import LRController

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))
from ctlhelp import ctl, env, header, records, wait_for

TRAINEE = Path(__file__).with_name("schedule_trainee.py")
Make = Callable[[torch.optim.Optimizer], Any]

SCHEDULERS: dict[str, Make] = {
    "LambdaLR": lambda o: L.LambdaLR(o, lambda e: min(1.0, (e + 1) / 20) * 0.999**e),
    "OneCycleLR": lambda o: L.OneCycleLR(o, max_lr=[1e-2, 1e-3], total_steps=200),
    "CosineAnnealingWarmRestarts": lambda o: L.CosineAnnealingWarmRestarts(o, 30, eta_min=1e-5),
    "SequentialLR": lambda o: L.SequentialLR(
        o, [L.LinearLR(o, 0.1, total_iters=20), L.CosineAnnealingLR(o, 150)], milestones=[20]
    ),
    "ChainedScheduler": lambda o: L.ChainedScheduler(
        [L.ExponentialLR(o, 0.99), L.StepLR(o, 25, 0.5)]
    ),
    "CyclicLR": lambda o: L.CyclicLR(o, [1e-4, 1e-5], [1e-2, 1e-3], step_size_up=15),
}


def _setup(make: Make, tensor_lr: bool = False) -> tuple[torch.nn.Module, Any, Any]:
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    lr: Any = torch.tensor(1e-2) if tensor_lr else 1e-2
    groups = [{"params": [model.weight]}, {"params": [model.bias], "lr": 1e-3}]
    opt = torch.optim.SGD(groups, lr=lr, momentum=0.9)
    return model, opt, make(opt)


def _train(model: torch.nn.Module, opt: Any, sched: Any, n: int) -> list[list[float]]:
    """``n`` real steps; the LR per group each optimizer step used (as the Monitor logs it)."""
    used: list[list[float]] = []
    hook = opt.register_step_pre_hook(
        lambda o, a, k: used.append([float(g["lr"]) for g in o.param_groups])
    )
    x, y = torch.randn(16, 4), torch.randn(16, 1)
    for _ in range(n):
        loss = torch.nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    hook.remove()
    return used


def _same(a: Any, b: Any) -> bool:
    """Bitwise equality of nested state (tensors compared element for element, dtype too)."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) or (a != a and b != b)  # NaN equals NaN here


def _state(model: torch.nn.Module, opt: Any, sched: Any) -> dict[str, Any]:
    return copy.deepcopy(
        {
            "params": [p.detach().clone() for p in model.parameters()],
            "opt": opt.state_dict(),
            "sched": sched.state_dict(),
            "lrs": [g["lr"] for g in opt.param_groups],
        }
    )


@pytest.mark.parametrize("kind", sorted(SCHEDULERS))
def test_the_forecast_is_what_the_run_then_uses_and_nothing_live_moves(kind: str) -> None:
    model, opt, sched = _setup(SCHEDULERS[kind])
    _train(model, opt, sched, 7)  # mid-schedule, with momentum buffers
    ctrl = LRController(opt, sched)
    before = _state(model, opt, sched)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = forecast(opt, sched, ctrl, 7, 120, points=120)
    assert [str(w.message) for w in caught] == []  # torch's "step() before optimizer.step()"
    assert _same(before, _state(model, opt, sched))
    assert out["exact"] and out["why"] is None and out["scheduler"] == kind
    assert out["steps"] == list(range(8, 128))
    used = _train(model, opt, sched, 120)
    assert out["lr"] == [list(col) for col in zip(*used, strict=True)]  # bitwise


def test_pins_and_multipliers_are_applied_as_the_step_hook_applies_them() -> None:
    model, opt, sched = _setup(SCHEDULERS["OneCycleLR"])
    _train(model, opt, sched, 5)
    ctrl = LRController(opt, sched)
    ctrl.scale(0.5)  # re-anchored
    ctrl.scale(2.0, group=1, mode="pin")
    out = forecast(opt, sched, ctrl, 5, 60, points=60)
    used = _train(model, opt, sched, 60)
    assert out["lr"] == [list(col) for col in zip(*used, strict=True)]
    assert set(out["lr"][1]) == {ctrl.pinned[1]}
    assert out["pinned"] == [None, ctrl.pinned[1]]
    assert out["unpinned"][0] == out["lr"][0] and len(set(out["unpinned"][1])) > 1


def test_a_tensor_lr_is_not_filled_in_place() -> None:
    model, opt, sched = _setup(SCHEDULERS["LambdaLR"], tensor_lr=True)
    _train(model, opt, sched, 3)
    live = opt.param_groups[0]["lr"]
    value = live.clone()
    out = forecast(opt, sched, LRController(opt, sched), 3, 50)
    assert opt.param_groups[0]["lr"] is live and torch.equal(live, value)
    assert out["lr"][0][0] == float(value) and out["lr"][0][-1] != float(value)


def test_what_cannot_be_forecast_says_so() -> None:
    _, opt, _ = _setup(lambda o: None)
    loop = forecast(opt, None, LRController(opt, loop_sets_lr=True), 0, 100)
    assert (loop["exact"], loop["steps"], loop["lr"]) == (False, [], [])
    assert "the loop sets the LR itself" in loop["why"]
    flat = forecast(opt, None, LRController(opt), 0, 100, points=10)
    assert flat["lr"] == [[1e-2] * 10, [1e-3] * 10] and not flat["exact"]
    assert "no scheduler" in flat["why"]
    assert forecast(opt, None, LRController(opt, loop_sets_lr=False), 0, 10)["exact"]
    plateau = L.ReduceLROnPlateau(opt, patience=2)
    out = forecast(opt, plateau, LRController(opt, plateau), 0, 100, points=5)
    assert out["lr"][0] == [1e-2] * 5 and "ReduceLROnPlateau" in out["why"]


def test_a_schedule_that_ends_stops_the_forecast_there() -> None:
    model, opt, sched = _setup(lambda o: L.OneCycleLR(o, max_lr=1e-2, total_steps=50))
    _train(model, opt, sched, 10)
    out = forecast(opt, sched, LRController(opt, sched), 10, 500, points=500)
    # Its last epoch (50) gives the LR of step 51; stepping past it raises.
    assert len(out["steps"]) == 41 and out["steps"][-1] == 51
    assert not out["exact"] and "ends 41 steps from now (ValueError)" in out["why"]


def test_the_horizon_is_capped_and_points_sampled() -> None:
    _, opt, sched = _setup(SCHEDULERS["LambdaLR"])
    out = forecast(opt, sched, LRController(opt, sched), 0, 10 * MAX_STEPS, points=7)
    assert out["horizon"] == MAX_STEPS and out["steps"][-1] == MAX_STEPS
    assert len(out["steps"]) == 7
    assert sample_indices(5, 200) == [0, 1, 2, 3, 4]
    assert sample_indices(101, 3) == [0, 50, 100]


# -- a real run, asked over its socket -------------------------------------------------------


def _start(tmp: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    log, stop = tmp / "sched.jsonl", tmp / "sched.stop"
    cmd = [sys.executable, str(TRAINEE), str(log), str(stop), *extra]
    proc = subprocess.Popen(cmd, env=env(), stderr=subprocess.PIPE)
    header(log)
    return proc, log, stop


def _logged(log: Path, key: str) -> dict[int, float]:
    return {r["step"]: r[key] for r in records(log) if "kind" not in r and key in r}


def test_a_live_run_forecasts_the_lrs_it_then_logs(tmp_path: Path) -> None:
    proc, log, stop = _start(tmp_path)
    try:
        with ControlClient.from_log(log, timeout=60) as client:
            assert client.request("scale_lr", factor=0.5)["ok"]
            assert client.request("scale_lr", factor=3.0, group=1, mode="pin")["ok"]
            status = client.request("status")
            assert status["scheduler"] == "LambdaLR"
            reply = client.request("schedule", horizon=80, points=80)
        assert reply["ok"] and reply["exact"] and reply["op"] == "schedule"
        assert reply["steps"] == list(range(reply["step"] + 1, reply["step"] + 81))
        last = reply["steps"][-1]
        wait_for(lambda: max(_logged(log, "loss"), default=0) >= last, what="steps logged")
    finally:
        stop.touch()
        proc.wait(60)
    lr0, lr1 = _logged(log, "lr"), _logged(log, "lr/pg1")
    assert reply["lr"][0] == [lr0[s] for s in reply["steps"]]  # bitwise, through JSON
    assert reply["lr"][1] == [lr1[s] for s in reply["steps"]]
    assert len(set(reply["lr"][0])) > 1 and len(set(reply["lr"][1])) == 1  # decays; pinned


def test_ctl_schedule_prints_the_forecast_and_a_loop_owned_lr_says_why(tmp_path: Path) -> None:
    proc, log, stop = _start(tmp_path, "--loop-sets-lr")
    try:
        out = ctl(str(log), "schedule", "--points", "3")
        assert out.returncode == 0, out.stderr
        assert (
            "no scheduler" in out.stdout and "not exact: the loop sets the LR itself" in out.stdout
        )
    finally:
        stop.touch()
        proc.wait(60)
