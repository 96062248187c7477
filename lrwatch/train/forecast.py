"""The LRs a run's scheduler will give over the next steps, simulated on a copy of it.

A scheduler's state is not enough to replay it elsewhere: ``LambdaLR`` (every Hugging Face
schedule) keeps a Python function. So the run answers the ``schedule`` op itself, on the
training thread between steps: :func:`forecast` steps a *copy* of the scheduler tree, pointed at
a stub optimizer that holds copies of the param groups (without their parameters), and reads
the LRs it writes. The live optimizer, scheduler and parameters are never touched.

What the :class:`~lrwatch.train.lr.LRController` does on top is applied to the simulated LRs
the way its step hook applies it: a pinned group is flat at its pin, a multiplier scales the
schedule. Where the future LR is not the scheduler's to give, the forecast says so
(``exact: false`` and ``why``): a loop that assigns the LR itself (nothing to simulate), a
``ReduceLROnPlateau`` (flat until the metric decides), no scheduler at all (flat, unless the
loop sets the LR and that was not detected yet).

torch is never imported here: schedulers and optimizers are used duck-typed.
"""

from __future__ import annotations

import copy
from typing import Any

from lrwatch.train.lr import unwrap_scheduler, walk_schedulers

#: Steps simulated when neither the request nor the run's ``total_steps`` says how many.
DEFAULT_HORIZON = 1000
#: Most steps simulated in one answer, whatever was asked: the training thread waits while it
#: runs. 10,000 steps took 45-80 ms per torch scheduler measured (LambdaLR, OneCycleLR,
#: CosineAnnealingWarmRestarts, SequentialLR; 2 shared cores), up to ~0.45 s under a load of 7
#: (docs/lr-changes.md, "Preview").
MAX_STEPS = 10_000

_LOOP = "the loop sets the LR itself: only the loop knows its next values"
_PLATEAU = "ReduceLROnPlateau: flat until the metric decides (it may cut the LR at any step)"
_NONE = "no scheduler: flat, unless the training loop sets the LR itself"


class _StubOptimizer:
    """What a torch scheduler needs of an optimizer: ``param_groups`` (copies, no params).

    ``_opt_called`` and a ``step`` marked as wrapped keep torch's "lr_scheduler.step() before
    optimizer.step()" warning quiet without touching the process-wide warning filters.
    """

    def __init__(self, groups: list[dict[str, Any]]) -> None:
        self.param_groups = [_copy_group(g) for g in groups]
        self.defaults: dict[str, Any] = {}
        self._opt_called = True

    def step(self, closure: Any = None) -> None:
        """Never called: the stub only carries LRs."""

    step._wrapped_by_lr_sched = True  # type: ignore[attr-defined]


def _copy_group(group: dict[str, Any]) -> dict[str, Any]:
    """A param group without its parameters; tensor values cloned (torch fills them in place)."""
    out: dict[str, Any] = {}
    for key, value in group.items():
        if key == "params":
            out[key] = []
        elif hasattr(value, "clone") and hasattr(value, "fill_"):
            out[key] = value.detach().clone()
        else:
            out[key] = value
    return out


def _copy_scheduler(scheduler: Any, stub: _StubOptimizer) -> Any:
    """A shallow copy of ``scheduler`` (and its sub-schedulers) that drives ``stub``.

    Lists and dicts on the scheduler are copied one level down so that an in-place write by
    the copy (``base_lrs[i] = ...``) cannot reach the live one.
    """
    twin = copy.copy(scheduler)
    for key, value in vars(scheduler).items():
        if key == "_schedulers":
            setattr(twin, key, [_copy_scheduler(s, stub) for s in value])
        elif isinstance(value, list):
            setattr(twin, key, list(value))
        elif isinstance(value, dict):
            setattr(twin, key, dict(value))
    if hasattr(twin, "optimizer"):
        twin.optimizer = stub
    return twin


def _is_plateau(scheduler: Any) -> bool:
    return any(
        c.__name__ == "ReduceLROnPlateau"
        for s in walk_schedulers(scheduler)
        for c in type(s).__mro__
    )


def sample_indices(horizon: int, points: int) -> list[int]:
    """At most ``points`` indices in ``[0, horizon)``, evenly spread, first and last kept."""
    if horizon <= 0:
        return []
    n = max(2, min(points, horizon))
    if horizon <= n:
        return list(range(horizon))
    return sorted({round(i * (horizon - 1) / (n - 1)) for i in range(n)})


def forecast(
    optimizer: Any,
    scheduler: Any,
    controller: Any,
    step: int,
    horizon: int,
    points: int = 200,
) -> dict[str, Any]:
    """The LRs of the next ``horizon`` optimizer steps (``step + 1`` on), sampled.

    Call on the training thread between steps (after ``scheduler.step()``: the groups then
    hold the next step's LR). Returns ``steps`` (sampled step numbers), ``lr`` (one list per
    group, the effective LRs: pins and multipliers applied), ``unpinned`` (the schedule's LRs
    per group ignoring pins, when a group is pinned), ``exact``, ``why``, ``scheduler`` (class
    name) and ``horizon`` (steps simulated).
    """
    scheduler = unwrap_scheduler(scheduler)
    horizon = max(1, min(int(horizon), MAX_STEPS))
    pins = list(controller.pinned) if controller is not None else []
    mult = list(getattr(controller, "_mult", [])) if controller is not None else []
    out: dict[str, Any] = {
        "scheduler": type(scheduler).__name__ if scheduler is not None else None,
        "exact": True,
        "why": None,
        "pinned": pins,
    }
    if controller is not None and controller.loop_owned:
        return {**out, "exact": False, "why": _LOOP, "horizon": 0, "steps": [], "lr": []}
    schedule, why = _simulate(optimizer, scheduler, horizon, points)
    if scheduler is None and not (controller is not None and controller.loop_sets_lr is False):
        why = why or _NONE
    lrs = [[v * _at(mult, g, 1.0) for v in col] for g, col in enumerate(_columns(schedule))]
    effective = [[_at(pins, g, None) or v for v in col] for g, col in enumerate(lrs)]
    result = {
        **out,
        "exact": why is None,
        "why": why,
        "horizon": schedule[-1][0] + 1 if schedule else 0,
        "steps": [step + 1 + k for k, _ in schedule],
        "lr": effective,
    }
    if any(p is not None for p in pins):
        result["unpinned"] = lrs
    return result


def _at(values: list[Any], i: int, default: Any) -> Any:
    return values[i] if i < len(values) else default


def _columns(schedule: list[tuple[int, list[float]]]) -> list[list[float]]:
    """Per group, the LRs of the sampled steps."""
    if not schedule:
        return []
    return [[lrs[g] for _, lrs in schedule] for g in range(len(schedule[0][1]))]


def _simulate(
    optimizer: Any, scheduler: Any, horizon: int, points: int
) -> tuple[list[tuple[int, list[float]]], str | None]:
    """``[(k, LR per group of step + 1 + k)]`` at the sampled ``k``, and why it is not exact."""
    stub = _StubOptimizer(optimizer.param_groups)
    wanted = sample_indices(horizon, points)
    first = [float(g["lr"]) for g in stub.param_groups]
    if scheduler is None or _is_plateau(scheduler):  # flat: nothing to simulate
        return [(k, first) for k in wanted], None if scheduler is None else _PLATEAU
    twin = _copy_scheduler(scheduler, stub)
    out: list[tuple[int, list[float]]] = [(0, first)]
    for k in range(1, horizon):
        try:
            twin.step()
        except Exception as exc:  # OneCycleLR past its total_steps raises ValueError
            return out, f"the schedule ends {k} steps from now ({type(exc).__name__})"
        if k == wanted[len(out)]:
            out.append((k, [float(g["lr"]) for g in stub.param_groups]))
    return out, None
