"""Train one corpus run on the CPU and log it through the public ``lrwatch.Monitor`` API.

A :class:`RunSpec` says everything about a run (task, optimizer, schedule, faults, logging);
:func:`train_run` trains it and returns what was logged, so labels can be derived from exactly
the values the rule engine will read.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from benchmarks.corpus_lib.optimizers import torch_optimizer
from benchmarks.corpus_lib.tasks import Task, make_task

#: Logged non-finite losses after which a run "crashes" (a real job would die or be killed).
NAN_STOP = 10


@dataclass
class RunSpec:
    """One corpus run. ``intent`` is the scenario family the run was built for."""

    name: str
    intent: str
    task: str
    opt: str
    lr: float
    steps: int
    seed: int
    batch: int = 32
    train_size: int = 2048
    sched: str = "const"
    log_every: int = 1
    log_mean: bool = True  # a log_every > 1 point is the mean over the interval (HF, Lightning)
    log_lr: bool = True
    grad_norm: bool = False
    clip: float | None = None
    val_every: int = 0
    shock: tuple[int, float, int] | None = None  # (step, LR factor, steps)
    bad_batch: tuple[int, int] | None = None  # (step, steps): corrupted inputs/targets
    task_opts: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (stored in labels.json)."""
        return asdict(self)


def make_optimizer(spec: RunSpec, params: Any) -> torch.optim.Optimizer:
    """SGD, SGD with momentum 0.9, Adam or AdamW at ``spec.lr``."""
    return torch_optimizer(spec.opt, spec.lr, params)


def make_scheduler(spec: RunSpec, opt: torch.optim.Optimizer) -> Any:
    """The schedules healthy training uses; None for a constant LR."""
    n, s = spec.steps, spec.sched
    sched = torch.optim.lr_scheduler
    warm = max(1, n // 10)
    if s == "const":
        return None
    if s == "warmup":
        return sched.LambdaLR(opt, lambda i: min(1.0, (i + 1) / warm))
    if s == "warmup_cosine":
        return sched.LambdaLR(
            opt,
            lambda i: (
                (i + 1) / warm
                if i < warm
                else 0.5 * (1 + math.cos(math.pi * (i - warm) / (n - warm)))
            ),
        )
    if s == "cosine":
        return sched.CosineAnnealingLR(opt, T_max=n)
    if s == "step":
        return sched.StepLR(opt, step_size=max(1, n // 3), gamma=0.1)
    if s == "restarts":
        return sched.CosineAnnealingWarmRestarts(opt, T_0=max(1, n // 4))
    if s == "onecycle":
        return sched.OneCycleLR(opt, max_lr=spec.lr, total_steps=n + 1)
    raise ValueError(f"unknown schedule {s}")


def _batch(task: Task, spec: RunSpec, g: torch.Generator, step: int) -> tuple[Any, Any]:
    n = task.x_train.shape[0]
    if spec.batch >= n:
        x, y = task.x_train, task.y_train
    else:
        idx = torch.randint(0, n, (spec.batch,), generator=g)
        x, y = task.x_train[idx], task.y_train[idx]
    if spec.bad_batch and spec.bad_batch[0] <= step < spec.bad_batch[0] + spec.bad_batch[1]:
        # A corrupted batch (bad shard, wrong normalisation, random tokens): the cause of a
        # loss spike that the logged LR does not explain.
        if y.is_floating_point():
            x = x * 12.0  # regression: badly normalised inputs
        else:
            y = torch.randint(0, int(task.y_train.max()) + 1, y.shape, generator=g)  # wrong labels
        if not x.is_floating_point():
            x = torch.randint(0, int(task.x_train.max()) + 1, x.shape, generator=g)  # noise tokens
    return x, y


def train_run(spec: RunSpec, log_path: Path) -> dict[str, Any]:
    """Train ``spec`` and write its JSONL log; returns the logged train and val series."""
    import lrwatch

    torch.manual_seed(spec.seed)
    task = make_task(spec.task, spec.seed, spec.train_size, **spec.task_opts)
    params = list(task.model.parameters())
    opt = make_optimizer(spec, params)
    sched = make_scheduler(spec, opt)
    mon = lrwatch.Monitor(
        opt, sched, log=log_path, control="none", run=spec.name, file_commands=False,
        handle_signals=False, auto_lr=spec.log_lr, loop_sets_lr=False,
    )  # fmt: skip
    g = torch.Generator().manual_seed(spec.seed + 1)
    out: dict[str, Any] = {"steps": [], "loss": [], "val_steps": [], "val": [], "lr": []}
    acc, count, bad = 0.0, 0, 0
    status = "finished"
    for step in range(1, spec.steps + 1):
        loss, gnorm = _train_step(task, spec, opt, g, step)
        acc, count = acc + loss, count + 1
        if sched is not None:
            sched.step()
        if step % spec.log_every == 0:
            value = acc / count if spec.log_mean else loss
            acc, count = 0.0, 0
            metrics = {"loss": value}
            if spec.grad_norm:
                metrics["grad_norm"] = gnorm
            mon.step(step=step, **metrics)
            out["steps"].append(step)
            out["loss"].append(value)
            out["lr"].append(float(opt.param_groups[0]["lr"]))
            bad = bad + 1 if not math.isfinite(value) else 0
            if bad >= NAN_STOP:
                status = "crashed"
                break
        if spec.val_every and step % spec.val_every == 0:
            val = _val_loss(task)
            mon.log(step=step, val_loss=val)
            out["val_steps"].append(step)
            out["val"].append(val)
    mon.close(status)
    out["status"] = status
    return out


def _train_step(
    task: Task, spec: RunSpec, opt: torch.optim.Optimizer, g: torch.Generator, step: int
) -> tuple[float, float]:
    """One optimizer step; returns the batch loss and the grad norm before clipping."""
    task.model.train()
    x, y = _batch(task, spec, g, step)
    opt.zero_grad(set_to_none=True)
    loss = task.loss_fn(task.model(x), y)
    loss.backward()
    gnorm = math.nan
    if spec.grad_norm or spec.clip is not None:
        clip = spec.clip if spec.clip is not None else math.inf
        gnorm = float(torch.nn.utils.clip_grad_norm_(task.model.parameters(), clip))
    shocked = spec.shock is not None and spec.shock[0] <= step < spec.shock[0] + spec.shock[2]
    saved = [grp["lr"] for grp in opt.param_groups]
    if shocked:
        # The LR really used for these steps is ×factor; the Monitor's step hook logs it.
        for grp in opt.param_groups:
            grp["lr"] = grp["lr"] * spec.shock[1]  # type: ignore[index]
    opt.step()
    if shocked:
        for grp, lr in zip(opt.param_groups, saved, strict=True):
            grp["lr"] = lr
    return float(loss.detach()), gnorm


def _val_loss(task: Task) -> float:
    task.model.eval()
    with torch.no_grad():
        return float(task.loss_fn(task.model(task.x_val), task.y_val))
