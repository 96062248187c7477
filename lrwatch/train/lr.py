"""Scheduler-safe changes to the learning rate of a live run.

Writing ``param_groups[i]["lr"]`` is undone by the next ``scheduler.step()`` of most torch
schedulers and by loops that assign the LR every iteration. :class:`LRController` applies a
change so that it survives:

* ``rescale`` (default) re-anchors the schedule: every absolute LR the optimizer groups and the
  scheduler keep (``lr``, ``initial_lr``, ``max_lr``/``min_lr``, ``base_lrs``, ``max_lrs``,
  ``min_lrs``, ``eta_min``, sub-schedulers of ``SequentialLR``/``ChainedScheduler``) is scaled
  by the same factor, so every later LR is exactly ``factor`` times what it would have been and
  the user's own optimizer/scheduler checkpoints carry the change.
* Where re-anchoring cannot be exact, a *multiplier* is applied in an optimizer step pre-hook
  and removed in the post-hook: loops that assign the LR themselves (nanoGPT's
  ``get_lr(it)``), and a single group of a cosine schedule with a shared scalar ``eta_min > 0``.
* ``pin`` holds exactly one LR from now on: the pre-hook sets it, the post-hook restores what
  the schedule had, so the schedule's own state is untouched and ``unpin`` resumes it.

torch is never imported here: the controller only touches ``param_groups`` dicts and scheduler
attributes, so ``import lrwatch.train.lr`` is free in processes without torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

MODES = ("rescale", "pin")
# Absolute LRs that torch schedulers keep inside each param group.
_GROUP_KEYS = ("lr", "initial_lr", "max_lr", "min_lr", "base_lr")
# Absolute per-group LR lists that torch schedulers keep on themselves.
_SCHED_LISTS = ("base_lrs", "max_lrs", "min_lrs", "_last_lr")


def unwrap_optimizer(optimizer: Any) -> Any:
    """The torch optimizer under framework wrappers (accelerate's ``AcceleratedOptimizer``...).

    Step hooks must sit on the object whose ``step`` torch decorates, not on a wrapper.
    """
    inner = getattr(optimizer, "optimizer", None)
    while inner is not None and hasattr(inner, "param_groups"):
        optimizer = inner
        inner = getattr(optimizer, "optimizer", None)
    return optimizer


def unwrap_scheduler(scheduler: Any) -> Any:
    """The torch scheduler under wrappers such as accelerate's ``AcceleratedScheduler``."""
    while scheduler is not None and not hasattr(scheduler, "optimizer"):
        inner = getattr(scheduler, "scheduler", None)
        if inner is None:
            break
        scheduler = inner
    return scheduler


def walk_schedulers(scheduler: Any) -> Iterator[Any]:
    """The scheduler and, recursively, the sub-schedulers of Sequential/ChainedScheduler."""
    seen: set[int] = set()
    todo = [scheduler] if scheduler is not None else []
    while todo:
        s = todo.pop()
        if id(s) in seen:
            continue
        seen.add(id(s))
        yield s
        todo.extend(getattr(s, "_schedulers", None) or [])


def _is_tensor(v: Any) -> bool:
    return hasattr(v, "mul_") and hasattr(v, "fill_")


def _read(v: Any) -> Any:
    """A snapshot of an LR value (tensors are cloned so later in-place writes do not alias)."""
    return v.clone() if _is_tensor(v) else v


def _put(group: dict[str, Any], key: str, value: Any) -> None:
    """Write an LR into a group, in place for tensor LRs (fused/capturable optimizers)."""
    old = group[key]
    if _is_tensor(old):
        old.fill_(value)
    else:
        group[key] = value


def _check_positive(name: str, x: float) -> float:
    x = float(x)
    if not math.isfinite(x) or x <= 0.0:
        raise ValueError(f"{name} must be a finite number > 0, got {x!r}")
    return x


class LRController:
    """Apply live LR changes to ``optimizer`` (and its ``scheduler``) between steps.

    Call its methods on the training thread between optimizer steps.

    Args:
        optimizer: a torch optimizer (framework wrappers are unwrapped).
        scheduler: its LR scheduler, or None; may be given later with :meth:`attach_scheduler`.
        loop_sets_lr: True if the training loop assigns ``group["lr"]`` itself every step
            (nanoGPT): ``rescale`` then uses a step-hook multiplier. None (default) detects it
            when there is no scheduler: if the LR found at the next optimizer step is not the
            one the controller wrote, the loop owns the LR and the controller switches to the
            multiplier. False: never (use it for loops that change the LR in place, e.g.
            ``g["lr"] *= 0.1``, which re-anchoring already follows).
    """

    def __init__(
        self, optimizer: Any, scheduler: Any = None, *, loop_sets_lr: bool | None = None
    ) -> None:
        self.optimizer = unwrap_optimizer(optimizer)
        self.scheduler = unwrap_scheduler(scheduler)
        self.loop_sets_lr = loop_sets_lr
        self.history: list[dict[str, Any]] = []
        n = len(self.optimizer.param_groups)
        self._pins: list[float | None] = [None] * n
        self._mult: list[float] = [1.0] * n
        self._anchor: list[float] = [1.0] * n
        self._expected: list[float] | None = None  # auto mode: the LRs we last wrote
        self._loop_detected = False
        self._saved: list[Any] | None = None  # LRs the pre-hook replaced, for the post-hook
        self._handles: list[Any] = []
        self._active = False  # whether the step hooks have work to do
        self._install_hooks()

    # -- queries -------------------------------------------------------------------------

    def current(self) -> list[float]:
        """Effective LR per param group: what the optimizer uses at its next step.

        In loop-owned mode this is the LR the loop last assigned times the multiplier (the
        loop has not yet computed the next one).
        """
        self._grow()
        return [
            float(pin) if pin is not None else float(g["lr"]) * m
            for g, pin, m in zip(self.optimizer.param_groups, self._pins, self._mult, strict=True)
        ]

    @property
    def loop_owned(self) -> bool:
        """Whether ``rescale`` uses the step-hook multiplier because the loop assigns the LR."""
        return bool(self.loop_sets_lr) or (self.loop_sets_lr is None and self._loop_detected)

    @property
    def pinned(self) -> list[float | None]:
        """The pinned LR per group (None where the group follows its schedule)."""
        self._grow()
        return list(self._pins)

    # -- changes -------------------------------------------------------------------------

    def scale(
        self,
        factor: float,
        group: int | None = None,
        mode: str = "rescale",
        *,
        step: int | None = None,
    ) -> tuple[list[float], list[float]]:
        """Multiply the effective LR of ``group`` (None: every group) by ``factor``.

        Returns the LRs per group before and after. Raises ValueError on bad input, with
        nothing changed.
        """
        factor = _check_positive("factor", factor)
        groups = self._groups(group, mode)
        old = self.current()
        factors = [factor if i in groups else 1.0 for i in range(len(old))]
        if mode == "pin":
            for i in groups:
                self._pins[i] = old[i] * factor
        else:
            self._rescale(groups, factor)
        return self._record(step, mode, group, factors, old)

    def set(
        self,
        value: float,
        group: int | None = None,
        mode: str = "rescale",
        *,
        step: int | None = None,
    ) -> tuple[list[float], list[float]]:
        """Set the effective LR of ``group`` to ``value``: a factor ``value / current``.

        With ``group=None`` every group is scaled by the same factor (ratios kept) so that
        group 0's LR becomes ``value``.
        """
        value = _check_positive("value", value)
        groups = self._groups(group, mode)
        old = self.current()
        if mode == "pin" and group is not None:  # no ratio involved: pin exactly `value`
            self._pins[group] = value
            factors = [1.0] * len(old)
            factors[group] = value / old[group] if old[group] > 0 else math.inf
            return self._record(step, mode, group, factors, old)
        ref = old[0 if group is None else group]
        if not (math.isfinite(ref) and ref > 0.0):
            raise ValueError(
                f"cannot set the LR by ratio: the current LR is {ref!r}; pin one group "
                "(group=N, mode='pin') or wait until the schedule's LR is above 0"
            )
        factor = value / ref
        if mode == "pin":
            for i in groups:  # group 0 gets exactly `value`, not value / ref * ref
                self._pins[i] = value if i == 0 else old[i] * factor
            return self._record(step, mode, group, [factor] * len(old), old)
        return self.scale(factor, group, mode, step=step)

    def unpin(
        self, group: int | None = None, *, step: int | None = None
    ) -> tuple[list[float], list[float]]:
        """Release pins: the group(s) follow their (possibly re-anchored) schedule again."""
        groups = self._groups(group, "pin")
        old = self.current()
        for i in groups:
            self._pins[i] = None
        return self._record(step, "unpin", group, [1.0] * len(old), old)

    def attach_scheduler(self, scheduler: Any) -> None:
        """Bind a scheduler created after the controller (HF creates it after the optimizer)."""
        self.scheduler = unwrap_scheduler(scheduler)
        self._sync_hooks()

    # -- checkpoints ---------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The user's changes: pins, multipliers, history.

        Re-anchored changes live in the optimizer's and scheduler's own state dicts, so a
        resume that loads those (as every training framework does) carries them; they are
        recorded here (``anchor``) only for inspection and are not re-applied on load.
        """
        return {
            "v": 1,
            "pins": list(self._pins),
            "mult": list(self._mult),
            "anchor": list(self._anchor),
            "expected": None if self._expected is None else list(self._expected),
            "loop_detected": self._loop_detected,
            "history": [dict(h) for h in self.history],
        }

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (call with the optimizer/scheduler restore)."""
        self._pins = list(d["pins"])
        self._mult = [float(m) for m in d["mult"]]
        self._anchor = [float(a) for a in d["anchor"]]
        self._expected = None if d.get("expected") is None else list(d["expected"])
        self._loop_detected = bool(d.get("loop_detected", False))
        self.history = [dict(h) for h in d.get("history", [])]
        self._sync_hooks()

    def close(self) -> None:
        """Remove the step hooks (pins and multipliers stop applying)."""
        for h in self._handles:
            h.remove()
        self._handles = []
        self._active = False

    # -- internals -----------------------------------------------------------------------

    def _grow(self) -> None:
        """Follow groups added with ``optimizer.add_param_group`` after construction."""
        extra = len(self.optimizer.param_groups) - len(self._pins)
        if extra > 0:
            self._pins += [None] * extra
            self._mult += [1.0] * extra
            self._anchor += [1.0] * extra
            if self._expected is not None:
                self._expected += [float(g["lr"]) for g in self.optimizer.param_groups[-extra:]]

    def _groups(self, group: int | None, mode: str) -> list[int]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self._grow()
        n = len(self._pins)
        if group is None:
            return list(range(n))
        if isinstance(group, bool) or not isinstance(group, int) or not 0 <= group < n:
            raise ValueError(f"group must be an int in [0, {n}), got {group!r}")
        return [group]

    def _auto_guard(self) -> bool:
        """Whether to watch for a loop overwriting the LR (auto mode without a scheduler)."""
        return self.loop_sets_lr is None and self.scheduler is None and not self._loop_detected

    def _needs_multiplier(self, i: int, anchored_all: bool) -> bool:
        """Group i cannot be re-anchored exactly: the loop owns its LR, or a scalar eta_min."""
        if self.loop_owned:
            return True
        if anchored_all:
            return False
        return any(
            float(getattr(s, "eta_min", 0.0) or 0.0) != 0.0 for s in walk_schedulers(self.scheduler)
        )

    def _rescale(self, groups: list[int], factor: float) -> None:
        free = [i for i in groups if self._pins[i] is None]
        for i in groups:
            pin = self._pins[i]
            if pin is not None:
                self._pins[i] = pin * factor  # a pinned group stays pinned, at the scaled LR
        anchored_all = len(free) == len(self._pins)
        anchored = []
        for i in free:
            if self._needs_multiplier(i, anchored_all):
                self._mult[i] *= factor
            else:
                anchored.append(i)
        self._reanchor(anchored, factor, anchored_all)
        if anchored and self._auto_guard():
            self._expected = [float(g["lr"]) for g in self.optimizer.param_groups]

    def _reanchor(self, groups: list[int], factor: float, all_groups: bool) -> None:
        """Scale every absolute LR of ``groups`` in the optimizer and the scheduler tree."""
        pgs = self.optimizer.param_groups
        for i in groups:
            self._anchor[i] *= factor
            for key in _GROUP_KEYS:
                if key in pgs[i]:
                    _put(pgs[i], key, pgs[i][key] * factor)
        for s in walk_schedulers(self.scheduler):
            for attr in _SCHED_LISTS:
                vals = getattr(s, attr, None)
                if isinstance(vals, list) and len(vals) == len(pgs):
                    for i in groups:
                        vals[i] = vals[i] * factor
            # Cosine schedules share one scalar eta_min: exact only when all groups scale.
            if all_groups and isinstance(getattr(s, "eta_min", None), int | float):
                s.eta_min = s.eta_min * factor

    def _record(
        self, step: int | None, mode: str, group: int | None, factors: list[float], old: list[float]
    ) -> tuple[list[float], list[float]]:
        self._sync_hooks()
        new = self.current()
        self.history.append(
            {"step": step, "mode": mode, "group": group, "factor": factors, "old": old, "new": new}
        )
        return old, new

    def _hooks_needed(self) -> bool:
        return (
            any(p is not None for p in self._pins)
            or any(m != 1.0 for m in self._mult)
            or (self._auto_guard() and self._expected is not None)
        )

    def _sync_hooks(self) -> None:
        """Turn the step hooks' work on only while something needs it."""
        self._active = self._hooks_needed()

    def _install_hooks(self) -> None:
        """Register the step hooks now, so they run before hooks registered later.

        A hook that records "the LR this step used" (the Monitor's) must see the pinned or
        multiplied LR, and torch runs pre-hooks in registration order. While no pin,
        multiplier or guard is active the hooks return at once.
        """
        if not self._handles and hasattr(self.optimizer, "register_step_pre_hook"):
            self._handles = [
                self.optimizer.register_step_pre_hook(self._pre_step),
                self.optimizer.register_step_post_hook(self._post_step),
            ]

    def _pre_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if not self._active:
            return
        groups = optimizer.param_groups
        if self._saved is not None:  # a step raised (or nested): put the schedule's LR back
            self._post_step(optimizer, args, kwargs)
        self._grow()
        if self._loop_overwrote(groups):
            # The loop assigned its own LR over ours: from now on it owns the LR, and the
            # re-anchored factors become a multiplier on whatever it assigns.
            self._loop_detected = True
            self._mult = [m * a for m, a in zip(self._mult, self._anchor, strict=True)]
        saved = []
        for g, pin, m in zip(groups, self._pins, self._mult, strict=True):
            saved.append(_read(g["lr"]))
            if pin is not None:
                _put(g, "lr", pin)
            elif m != 1.0:
                _put(g, "lr", g["lr"] * m)
        self._saved = saved

    def _loop_overwrote(self, groups: list[dict[str, Any]]) -> bool:
        """Auto mode: whether someone else replaced the LRs we wrote since the last change."""
        if not self._auto_guard() or self._expected is None:
            return False
        return any(float(g["lr"]) != e for g, e in zip(groups, self._expected, strict=False))

    def _post_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self._saved is None:
            return
        for g, v in zip(optimizer.param_groups, self._saved, strict=False):
            _put(g, "lr", v)
        self._saved = None
