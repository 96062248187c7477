"""The LR range test (Smith 2015; popularised by fastai): sweep the LR up, watch the loss.

``find_lr`` trains the user's model for ``num_iter`` steps while the LR grows exponentially from
``start_lr`` to ``end_lr``, smooths the loss, stops once it diverges, then puts the model, the
optimizer, the gradients and torch's RNG back exactly as they were. Two suggestions come back:

* ``steepest``: where the smoothed loss falls fastest per decade of LR (the rule of
  torch-lr-finder's ``plot(suggest_lr=True)`` and fastai's ``steep``);
* ``valley``: fastai's default -- about 2/3 of the way down the longest run of decreasing loss
  (a longest-decreasing-subsequence search), which is more robust to a noisy curve.

Torch is imported inside the function: ``lrwatch.train`` must stay importable without it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["LRFinderResult", "find_lr", "steepest_lr", "valley_index", "valley_lr"]


@dataclass(slots=True)
class LRFinderResult:
    """What a range test saw: one entry per iteration it ran."""

    lrs: list[float] = field(default_factory=list)  #: LR of each iteration (group 0)
    losses: list[float] = field(default_factory=list)  #: smoothed, bias-corrected loss
    raw_losses: list[float] = field(default_factory=list)  #: the loss of each batch
    diverged: bool = False  #: stopped early because the loss diverged
    suggestions: dict[str, float] = field(default_factory=dict)  #: rule name -> LR

    @property
    def steepest(self) -> float | None:
        """LR at the steepest descent of the smoothed loss (None if the sweep was too short)."""
        return self.suggestions.get("steepest")

    @property
    def valley(self) -> float | None:
        """LR from fastai's valley rule (None if the sweep was too short)."""
        return self.suggestions.get("valley")

    @property
    def min_loss_lr(self) -> float | None:
        """LR at which the smoothed loss was lowest."""
        if not self.losses:
            return None
        return self.lrs[int(np.nanargmin(self.losses))]


def _trim(lrs: list[float], losses: list[float], num_iter: int) -> tuple[np.ndarray, np.ndarray]:
    """Drop the first tenth (flat, noisy) and the last 5 points (the blow-up), as fastai does."""
    lo, hi = num_iter // 10, len(losses) - 5
    x = np.asarray(lrs[lo:hi], dtype=np.float64)
    y = np.asarray(losses[lo:hi], dtype=np.float64)
    finite = np.isfinite(y)
    if not finite.all():  # cut at the first non-finite point, like fastai's NaN handling
        cut = int(np.argmin(finite))
        x, y = x[:cut], y[:cut]
    return x, y


def steepest_lr(lrs: list[float], losses: list[float], num_iter: int) -> float | None:
    """LR where d(loss)/d(log lr) is most negative, on the trimmed curve."""
    x, y = _trim(lrs, losses, num_iter)
    if len(y) < 3:
        return None
    slope = np.gradient(y, np.log(x))
    return float(x[int(np.argmin(slope))])


def valley_lr(lrs: list[float], losses: list[float], num_iter: int) -> float | None:
    """fastai's ``valley``: 2/3 of the way down the longest decreasing run of the loss."""
    x, y = _trim(lrs, losses, num_iter)
    if len(y) < 3:
        return None
    return float(x[valley_index(list(y))])


def valley_index(losses: list[float]) -> int:
    """Index fastai's ``valley`` picks on an (already trimmed) loss curve.

    Finds the longest strictly decreasing subsequence (O(n²): n is the number of sweep
    iterations, hundreds) and returns the point about 2/3 of the way into it, exactly as
    fastai computes it (including its start one before the run, ``max_end - lds[max_end]``).
    """
    n = len(losses)
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return max(0, max_start + int(sections) + int(sections / 2))


def _batches(data: Iterable[Any]) -> Iterator[Any]:
    """Cycle through ``data`` (a DataLoader, a list of batches, ...) as long as asked."""
    while True:
        it = iter(data)
        empty = True
        for batch in it:
            empty = False
            yield batch
        if empty or it is data:  # a one-shot iterator cannot be restarted
            return


def _move(obj: Any, device: Any) -> Any:
    if hasattr(obj, "to"):
        return obj.to(device)
    if isinstance(obj, tuple | list):
        return type(obj)(_move(o, device) for o in obj)
    if isinstance(obj, dict):
        return {k: _move(v, device) for k, v in obj.items()}
    return obj


class _Snapshot:
    """Everything the sweep changes, copied so it can be put back bit for bit."""

    def __init__(self, model: Any, optimizer: Any) -> None:
        import torch

        self.model_state = copy.deepcopy(model.state_dict())
        self.optim_state = copy.deepcopy(optimizer.state_dict())
        self.grads = [
            None if p.grad is None else p.grad.detach().clone() for p in model.parameters()
        ]
        self.training = model.training
        self.rng = torch.get_rng_state()
        # torch.cuda.is_initialized is not annotated in torch itself.
        cuda = torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
        self.cuda_rng = torch.cuda.get_rng_state_all() if cuda else None

    def restore(self, model: Any, optimizer: Any) -> None:
        import torch

        model.load_state_dict(self.model_state)
        optimizer.load_state_dict(self.optim_state)
        for p, g in zip(model.parameters(), self.grads, strict=True):
            p.grad = g
        model.train(self.training)
        torch.set_rng_state(self.rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)


def find_lr(
    model: Any,
    optimizer: Any,
    loss_fn: Callable[[Any, Any], Any],
    data: Iterable[Any],
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    smooth: float = 0.98,
    diverge: float = 4.0,
    on_step: Callable[[int, float, float, float], None] | None = None,
) -> LRFinderResult:
    """Run the LR range test on ``model`` and restore it afterwards.

    Args:
        model: a ``torch.nn.Module``; ``model(inputs)`` gives the outputs.
        optimizer: its optimizer; every parameter group's LR is swept, keeping the ratios
            between groups.
        loss_fn: ``loss_fn(outputs, targets) -> scalar tensor``.
        data: an iterable of ``(inputs, targets)`` batches (a DataLoader, a list); it is
            cycled if shorter than ``num_iter``.
        start_lr, end_lr: the sweep goes exponentially from one to the other in ``num_iter``
            steps (both ends included).
        smooth: exponential smoothing of the loss (bias-corrected, as in fastai).
        diverge: stop once the smoothed loss exceeds ``diverge`` × its best value.
        on_step: called as ``on_step(i, lr, loss, smoothed)`` after each iteration.

    Returns:
        An :class:`LRFinderResult` with the curve and the ``steepest``/``valley`` suggestions.
        The model's parameters and buffers, the optimizer's state and hyperparameters, the
        gradients, train/eval mode and torch's RNG state are exactly as before the call.
    """
    if not (0 < start_lr < end_lr):
        raise ValueError(f"need 0 < start_lr < end_lr, got {start_lr} and {end_lr}")
    if num_iter < 2:
        raise ValueError(f"num_iter must be at least 2, got {num_iter}")
    if not 0 <= smooth < 1:
        raise ValueError(f"smooth must be in [0, 1), got {smooth}")
    snap = _Snapshot(model, optimizer)
    try:
        result = _sweep(
            model, optimizer, loss_fn, data, start_lr, end_lr, num_iter, smooth, diverge, on_step
        )
    finally:
        snap.restore(model, optimizer)
    result.suggestions = {
        name: lr
        for name, lr in (
            ("steepest", steepest_lr(result.lrs, result.losses, num_iter)),
            ("valley", valley_lr(result.lrs, result.losses, num_iter)),
        )
        if lr is not None
    }
    return result


def _sweep(
    model: Any,
    optimizer: Any,
    loss_fn: Callable[[Any, Any], Any],
    data: Iterable[Any],
    start_lr: float,
    end_lr: float,
    num_iter: int,
    smooth: float,
    diverge: float,
    on_step: Callable[[int, float, float, float], None] | None,
) -> LRFinderResult:
    base = float(optimizer.param_groups[0]["lr"]) or 1.0
    ratios = [float(g["lr"]) / base if base else 1.0 for g in optimizer.param_groups]
    device = next(model.parameters()).device
    result = LRFinderResult()
    avg, best = 0.0, math.inf
    model.train()
    batches = _batches(data)
    for i in range(num_iter):
        try:
            inputs, targets = next(batches)
        except StopIteration:
            break
        lr = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))
        for group, ratio in zip(optimizer.param_groups, ratios, strict=True):
            group["lr"] = lr * ratio
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(_move(inputs, device)), _move(targets, device))
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        avg = smooth * avg + (1 - smooth) * value
        smoothed = avg / (1 - smooth ** (i + 1))
        result.lrs.append(lr)
        result.raw_losses.append(value)
        result.losses.append(smoothed)
        if on_step is not None:
            on_step(i, lr, value, smoothed)
        if not math.isfinite(smoothed) or (i > 0 and smoothed > diverge * best):
            result.diverged = True
            break
        best = min(best, smoothed)
    return result
