"""LR changes survive every torch scheduler: each modified run against an unmodified twin."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch.optim import lr_scheduler as S

from lrwatch.train.lr import LRController

N = 48  # steps per run: long enough for restarts, cycles, milestones and the end of schedules
K = 13  # the change lands at the boundary before step K
LRS = (0.1, 0.03)  # two param groups with different LRs, so ratios are visible


class Probe(torch.optim.Optimizer):
    """An optimizer whose step records the LR each group actually uses (after all hooks)."""

    def __init__(self, model: torch.nn.Module) -> None:
        groups = [{"params": [p], "lr": lr} for p, lr in zip(model.parameters(), LRS, strict=True)]
        super().__init__(groups, {"lr": LRS[0], "momentum": 0.9, "betas": (0.9, 0.99)})
        self.seen: list[list[float]] = []

    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        self.seen.append([float(g["lr"]) for g in self.param_groups])


def _model() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Linear(2, 1)  # two parameters -> two param groups


def _hf_linear_warmup(step: int, warmup: int = 5, total: int = N) -> float:
    """transformers.get_linear_schedule_with_warmup's lambda."""
    if step < warmup:
        return step / max(1, warmup)
    return max(0.0, (total - step) / max(1, total - warmup))


SCHEDULERS: dict[str, Callable[[torch.optim.Optimizer], Any]] = {
    "none": lambda o: None,
    "lambda_hf": lambda o: S.LambdaLR(o, _hf_linear_warmup),
    "multiplicative": lambda o: S.MultiplicativeLR(o, lambda e: 0.97),
    "step": lambda o: S.StepLR(o, step_size=7, gamma=0.5),
    "multistep": lambda o: S.MultiStepLR(o, milestones=[5, 20, 30], gamma=0.3),
    "exponential": lambda o: S.ExponentialLR(o, gamma=0.95),
    "cosine": lambda o: S.CosineAnnealingLR(o, T_max=20, eta_min=0.001),
    "warm_restarts": lambda o: S.CosineAnnealingWarmRestarts(o, T_0=6, T_mult=2, eta_min=0.002),
    "cyclic": lambda o: S.CyclicLR(
        o, base_lr=[0.01, 0.003], max_lr=[0.1, 0.03], step_size_up=5, cycle_momentum=False
    ),
    "cyclic_momentum": lambda o: S.CyclicLR(
        o, base_lr=[0.01, 0.003], max_lr=[0.1, 0.03], step_size_up=4, mode="triangular2"
    ),
    "onecycle": lambda o: S.OneCycleLR(o, max_lr=[0.1, 0.03], total_steps=N + 1),
    "linear": lambda o: S.LinearLR(o, start_factor=0.2, total_iters=20),
    "constant": lambda o: S.ConstantLR(o, factor=0.5, total_iters=18),
    "polynomial": lambda o: S.PolynomialLR(o, total_iters=40, power=2.0),
    "sequential": lambda o: S.SequentialLR(
        o,
        [S.LinearLR(o, 0.1, total_iters=8), S.CosineAnnealingLR(o, T_max=30, eta_min=0.0)],
        milestones=[8],
    ),
    "sequential_lambda": lambda o: S.SequentialLR(
        o, [S.ConstantLR(o, 0.3, total_iters=10), S.LambdaLR(o, lambda e: 0.9**e)], [15]
    ),
    "chained": lambda o: S.ChainedScheduler(
        [S.ConstantLR(o, factor=0.1, total_iters=5), S.ExponentialLR(o, gamma=0.9)]
    ),
    "plateau": lambda o: S.ReduceLROnPlateau(o, patience=2, factor=0.5, min_lr=[1e-4, 1e-5]),
}
# The losses a ReduceLROnPlateau sees: improving, then stuck, so it reduces several times.
PLATEAU_METRICS = [1.0 / (1 + t) if t < 10 else 0.1 for t in range(N)]


def nanogpt_lr(it: int) -> float:
    """nanoGPT's get_lr: linear warmup, cosine decay to min_lr, then min_lr."""
    warmup, decay, lr, min_lr = 5, 35, 0.1, 0.01
    if it < warmup:
        return lr * (it + 1) / (warmup + 1)
    if it > decay:
        return min_lr
    ratio = (it - warmup) / (decay - warmup)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (lr - min_lr)


Change = Callable[[LRController, int], Any]


def run(
    name: str,
    changes: dict[int, Change] | None = None,
    *,
    loop: bool = False,
    steps: range = range(N),
    state: dict[str, Any] | None = None,
    save_at: int | None = None,
) -> tuple[list[list[float]], dict[str, Any] | None]:
    """Train ``steps`` steps; apply ``changes[t]`` at the boundary before step t.

    ``loop`` assigns the LR every step like nanoGPT (ratio of the groups kept).
    ``state`` resumes from a checkpoint; ``save_at`` returns one taken before step save_at.
    """
    opt = Probe(_model())
    sched = SCHEDULERS[name](opt)
    ctl = LRController(opt, sched)
    if state is not None:
        opt.load_state_dict(state["opt"])
        if sched is not None:
            sched.load_state_dict(state["sched"])
        ctl.load_state_dict(state["ctl"])
    saved = None
    for t in steps:
        if changes and t in changes:
            changes[t](ctl, t)
        if t == save_at:
            saved = copy.deepcopy(
                {
                    "opt": opt.state_dict(),
                    "sched": sched.state_dict() if sched is not None else None,
                    "ctl": ctl.state_dict(),
                }
            )
        if loop:
            for g, base in zip(opt.param_groups, LRS, strict=True):
                g["lr"] = nanogpt_lr(t) * base / LRS[0]
        opt.step()
        if isinstance(sched, S.ReduceLROnPlateau):
            sched.step(PLATEAU_METRICS[t])
        elif sched is not None:
            sched.step()
    return opt.seen, saved


def assert_scaled(mod: list[list[float]], twin: list[list[float]], factors: list[float]) -> None:
    """Steps before K identical; from K on, each group's LR is factor x the twin's."""
    assert len(mod) == len(twin) == N
    assert mod[:K] == twin[:K]
    for t in range(K, N):
        for i, f in enumerate(factors):
            want = twin[t][i] * f
            if f == 2.0 or f == 1.0:  # powers of two are exact in binary floating point
                assert mod[t][i] == want, (t, i, mod[t][i], want)
            else:
                assert math.isclose(mod[t][i], want, rel_tol=1e-12, abs_tol=0.0), (t, i)


SCALES = [(2.0, None), (0.1, None), (2.0, 1), (0.1, 0)]


@pytest.mark.parametrize("name", SCHEDULERS)
@pytest.mark.parametrize(("factor", "group"), SCALES)
def test_rescale_is_exactly_factor_times_the_twin(name: str, factor: float, group: int | None):
    twin, _ = run(name)
    mod, _ = run(name, {K: lambda c, t: c.scale(factor, group, step=t)})
    factors = [factor if group in (None, i) else 1.0 for i in range(2)]
    assert_scaled(mod, twin, factors)


@pytest.mark.parametrize(("factor", "group"), SCALES)
def test_nanogpt_loop_that_assigns_the_lr(factor: float, group: int | None):
    twin, _ = run("none", loop=True)
    for flag in (True, None):  # told, and detected

        def change(c: LRController, t: int, flag: bool | None = flag) -> None:
            c.loop_sets_lr = flag
            c.scale(factor, group, step=t)

        mod, _ = run("none", {K: change}, loop=True)
        assert_scaled(mod, twin, [factor if group in (None, i) else 1.0 for i in range(2)])


@pytest.mark.parametrize("name", ["none", "lambda_hf", "cosine", "cyclic", "onecycle", "plateau"])
def test_set_keeps_ratios_and_hits_the_value(name: str):
    twin, _ = run(name)
    results = []
    mod, _ = run(name, {K: lambda c, t: results.append(c.set(0.05, step=t))})
    old, new = results[0]
    assert math.isclose(new[0], 0.05, rel_tol=1e-12)
    assert math.isclose(new[1] / new[0], old[1] / old[0], rel_tol=1e-12)
    assert_scaled(mod, twin, [0.05 / old[0]] * 2)


@pytest.mark.parametrize(
    ("name", "loop"),
    [(n, False) for n in ("none", "lambda_hf", "warm_restarts", "onecycle", "sequential")]
    + [("none", True)],
)
def test_pin_holds_exactly_then_unpin_resumes_the_schedule(name: str, loop: bool):
    twin, _ = run(name, loop=loop)
    changes: dict[int, Change] = {
        K: lambda c, t: c.set(0.0123, group=1, mode="pin", step=t),
        30: lambda c, t: c.unpin(step=t),
    }
    mod, _ = run(name, changes, loop=loop)
    assert mod[:K] == twin[:K]
    assert all(m[1] == 0.0123 and m[0] == w[0] for m, w in zip(mod[K:30], twin[K:30], strict=True))
    assert mod[30:] == twin[30:]  # the schedule's own state was never touched


def test_rescale_of_a_pinned_group_scales_the_pin():
    twin, _ = run("cosine")
    mod, _ = run("cosine", {5: lambda c, t: c.set(0.02, mode="pin"), K: lambda c, t: c.scale(2.0)})
    pin1 = mod[5][1]
    assert math.isclose(pin1, twin[5][1] * 0.02 / twin[5][0], rel_tol=1e-12)  # ratio kept
    assert mod[5:K] == [[0.02, pin1]] * (K - 5)
    assert mod[K:] == [[0.04, 2 * pin1]] * (N - K)


@pytest.mark.parametrize(
    "name", ["lambda_hf", "cyclic", "onecycle", "sequential", "plateau", "none"]
)
@pytest.mark.parametrize("mode", ["rescale", "pin"])
def test_resume_from_checkpoint_keeps_the_change(name: str, mode: str):
    changes: dict[int, Change] = {K: lambda c, t: c.scale(2.0, group=0, mode=mode, step=t)}
    full, saved = run(name, changes, save_at=30)
    assert saved is not None
    resumed, _ = run(name, steps=range(30, N), state=saved)
    assert resumed == full[30:]


def test_resume_of_a_loop_owned_run_keeps_the_multiplier():
    changes: dict[int, Change] = {K: lambda c, t: c.scale(0.1, step=t)}
    full, saved = run("none", changes, loop=True, save_at=30)
    assert saved is not None and saved["ctl"]["loop_detected"]
    resumed, _ = run("none", loop=True, steps=range(30, N), state=saved)
    assert resumed == full[30:]


def test_history_and_current_report_what_the_optimizer_uses():
    opt = Probe(_model())
    sched = S.LambdaLR(opt, _hf_linear_warmup)
    ctl = LRController(opt, sched)
    for _ in range(7):
        opt.step()
        sched.step()
    before = ctl.current()
    old, new = ctl.scale(2.0, step=7)
    assert old == before and new == [2 * x for x in before]
    assert sched.get_last_lr() == new  # what HF logs as "learning_rate" shows the change
    opt.step()
    assert opt.seen[-1] == new
    assert ctl.history == [
        {"step": 7, "mode": "rescale", "group": None, "factor": [2.0, 2.0], "old": old, "new": new}
    ]


@pytest.mark.parametrize(
    "bad",
    [
        lambda c: c.scale(0.0),
        lambda c: c.scale(-1.0),
        lambda c: c.scale(float("nan")),
        lambda c: c.set(float("inf")),
        lambda c: c.scale(2.0, group=2),
        lambda c: c.scale(2.0, group=True),
        lambda c: c.scale(2.0, mode="sideways"),
    ],
)
def test_bad_input_raises_and_changes_nothing(bad: Callable[[LRController], Any]):
    opt = Probe(_model())
    ctl = LRController(opt, S.StepLR(opt, 3))
    before = ctl.current()
    with pytest.raises(ValueError):
        bad(ctl)
    assert ctl.current() == before and ctl.history == [] and not ctl._active


def test_set_refuses_a_zero_current_lr():
    opt = Probe(_model())
    ctl = LRController(opt, S.LambdaLR(opt, _hf_linear_warmup))  # warmup starts at LR 0
    with pytest.raises(ValueError, match="current LR"):
        ctl.set(0.01)
    with pytest.raises(ValueError, match="current LR"):
        ctl.set(0.01, mode="pin")  # all groups keep their ratios: undefined from 0
    ctl.set(0.01, group=0, mode="pin")
    assert ctl.current() == [0.01, 0.0]


def test_hooks_only_while_needed_and_real_sgd_trains_with_the_pinned_lr():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    ctl = LRController(opt, S.StepLR(opt, 2))
    ctl.scale(2.0)
    assert not ctl._active  # re-anchoring needs no per-step work
    ctl.set(0.25, mode="pin")
    seen = []  # a hook registered later (the Monitor's LR capture) sees the pinned LR
    opt.register_step_pre_hook(lambda o, a, k: seen.append(o.param_groups[0]["lr"]))
    w0 = model.weight.detach().clone()
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    assert torch.equal(model.weight.detach(), w0 - 0.25 * torch.ones(1, 3))
    assert seen == [0.25]
    assert opt.param_groups[0]["lr"] == 1.0  # the schedule's value is back after the step
    ctl.unpin()
    assert not ctl._active


def test_import_without_torch_in_sys_modules():
    import subprocess
    import sys

    code = "import sys, lrwatch.train.lr; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
