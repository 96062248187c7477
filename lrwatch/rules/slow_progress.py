"""Slow progress: the loss falls far too slowly (LR too low), or is stuck at a large LR."""

from __future__ import annotations

import math

from lrwatch.lrchange import LRChange
from lrwatch.rules.base import Rule, rel
from lrwatch.rules.config import SlowProgressConfig
from lrwatch.rules.context import RunContext
from lrwatch.rules.finding import (
    clamp01,
    fmt_lr,
    lr_change_text,
    scale_action,
    set_action,
)
from lrwatch.rules.lr_scale import lr_is_large, lr_is_normal, lr_is_tiny
from lrwatch.rules.reporter import Reporter
from lrwatch.rules.stats import Lagged


class SlowProgress(Rule):
    """Loss falls steadily but far too slowly (or not at all) for an LR at its peak."""

    symptom = "slow_progress"

    def __init__(self, ctx: RunContext, reporter: Reporter, config: SlowProgressConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config
        self.lag = Lagged(self.cfg.window)
        self.run_start = math.nan
        self.run_best = math.inf
        self.done = False

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        # Warm restarts and step decay keep the run's start: slow progress is judged since the
        # start of training, so later (small) relative progress is never mistaken for it.
        if explicit or direction > 0:
            self.lag.clear()
        if explicit:
            self.run_start = math.nan
            self.run_best = math.inf
            self.done = False
        if (
            direction > 0
            and self.reporter.active is not None
            and self.reporter.active.symptom == self.symptom
        ):
            # Raising the LR answers "too low"; a stuck_high_lr finding waits for the loss.
            self.reporter.resolve(step, "the LR was raised")

    def on_loss(self, step: int, x: float) -> None:
        cfg, ctx, s = self.cfg, self.ctx, self.ctx.loss
        if not s.baselined:
            return
        if math.isnan(self.run_start):
            self.run_start = s.start
        c = s.ema.value
        self.run_best = min(self.run_best, c)
        self.lag.add(c)
        if ctx.lr_rising or not s.positive or self.run_start <= 0:
            return
        if not self.lag.full:
            self._early(step, c)
            return
        progress = (self.run_start - c) / self.run_start
        learned = self.run_best < self.run_start * (1.0 - cfg.max_progress)
        if self.reporter.active is not None:
            if learned:
                self.reporter.resolve(step, "the loss is falling faster now")
            elif self._still_stuck(progress):
                self._escalate(step)
            return
        if self.done or learned:
            return  # it learned: what follows is divergence's or plateau's business
        if ctx.lr is not None and ctx.lr_max and ctx.lr < cfg.min_lr_fraction * ctx.lr_max:
            return  # the schedule has decayed the LR: slow progress is expected
        a, b = self.lag.ago(cfg.window), self.lag.ago(cfg.window // 2)
        d1, d2 = a - b, b - c
        # The EMA (beta 0.9) keeps ~23% of the point noise; a half-window drop must clear
        # 3 of those sigmas to be a trend rather than wander.
        sig = 3.0 * 0.23 * math.sqrt(2.0) * s.noise
        # Too low an LR: the loss falls along a straight line, no knee (a right LR drops fast
        # and then decelerates; a loss leaving a plateau accelerates). Both halves alike.
        steady = d1 > sig and d2 > sig and cfg.linearity * d1 <= d2 <= d1 / cfg.linearity
        flat = abs(a - c) <= cfg.flat_progress * self.run_start and progress < cfg.flat_progress
        if not (steady or flat):
            return
        kind = _kind(
            steady,
            flat,
            large=lr_is_large(ctx.optimizer, ctx.lr),
            normal=lr_is_normal(ctx.optimizer, ctx.lr),
            known=ctx.lr is not None,
            noisy=rel(s.noise, s.win.median) > cfg.max_noise,
        )
        if kind is not None:
            self._report(step, progress, d1, d2, kind)

    def _still_stuck(self, progress: float) -> bool:
        """A "never learned" info whose loss still has not moved after ``stuck_points``
        points: by then it is not a late start, and a person should look."""
        f = self.reporter.active
        return (
            f is not None
            and f.severity == "info"
            and f.evidence.get("kind") == "stuck"
            and progress < self.cfg.flat_progress * 3
            and self.ctx.loss.n >= self.cfg.stuck_points
        )

    def _escalate(self, step: int) -> None:
        f = self.reporter.active
        assert f is not None
        progress = f.evidence["progress"]
        _, _, _, message, _ = self._verdict("stuck", progress, self.ctx.lr)
        f.evidence = {**f.evidence, "points": self.ctx.loss.n}
        self.reporter.report(step, "warning", symptom=f.symptom, message=message)

    def _early(self, step: int, c: float) -> None:
        """Before a full window: a loss that barely moved over ``min_points`` points at a
        peak LR *tiny* for the optimizer (sparse logs: HF's default interval gives 20-40
        points on a short run). A decayed schedule does not excuse it: the loss did not move
        even at the peak."""
        cfg, ctx = self.cfg, self.ctx
        if self.done or self.reporter.active is not None or ctx.loss.n < cfg.min_points:
            return
        if not lr_is_tiny(ctx.optimizer, ctx.lr_max):
            return
        progress = (self.run_start - c) / self.run_start
        if progress < cfg.early_progress and self.run_best > self.run_start * (
            1.0 - cfg.early_progress
        ):
            first = self.lag.ago(len(self.lag) - 1)
            self._report(step, progress, first - c, 0.0, "flat")

    def _report(self, step: int, progress: float, d1: float, d2: float, kind: str) -> None:
        cfg, ctx = self.cfg, self.ctx
        lr = ctx.lr
        self.done = True
        symptom, sev, action, message, suggestion = self._verdict(kind, progress, lr)
        evidence = {
            "start_loss": self.run_start,
            "loss_smoothed": ctx.loss.ema.value,
            "progress": progress,
            "drop_first_half": d1,
            "drop_second_half": d2,
            "window": cfg.window,
            "kind": kind,
            "optimizer": ctx.optimizer,
            "lr": lr,
        }
        # The stuck-at-a-large-LR case has its own symptom id (the rule's is slow_progress).
        self.reporter.report(
            step,
            sev,
            symptom=symptom,
            evidence=evidence,
            message=message,
            suggestion=suggestion,
            action=action,
            confidence=clamp01(0.5 + (cfg.max_progress - progress)),
        )

    def _verdict(
        self, kind: str, progress: float, lr: float | None
    ) -> tuple[str, str, LRChange | None, str, str]:
        """Symptom id, severity, action, message and suggestion for a finding of ``kind``."""
        cfg, ctx = self.cfg, self.ctx
        symptom = self.symptom
        action: LRChange | None
        after = f"after {ctx.loss.n} points"
        chance = _chance(ctx.loss.win.median)
        if kind == "flat" and lr is None:
            kind = "stuck"  # it never moved, and nothing says how large the LR is
        if kind == "stuck_high_lr":
            # No progress at all at an LR already large for the optimizer (Adam-like >= 1e-2,
            # SGD >= 1): at such an LR a too-low LR is implausible; the usual cause is an LR
            # so high the updates bounce around (or kill units) and never descend. Its own
            # id: it is not "too slow" (slow_progress) and the loss is not rising (divergence).
            symptom, sev, action = "stuck_high_lr", "warning", scale_action(0.1)
            message = (
                f"Loss has made no progress ({_pct(progress)} {after}){chance} at an LR of "
                f"{fmt_lr(lr or 0)}, already large for {ctx.optimizer or 'this optimizer'}: "
                "the LR is likely too high."
            )
            suggestion = (
                f"LR too high: {lr_change_text(lr, 0.1)}, or run an LR range test "
                "(lrwatch find-lr) to find a working LR."
            )
        elif kind == "slow_normal":
            sev, action = "info", None
            message = (
                f"Loss falls slowly along a straight line: {_pct(progress)} {after}, at an "
                f"LR of {fmt_lr(lr or 0)}, normal for "
                f"{ctx.optimizer or 'most optimizers'}."
            )
            suggestion = (
                "The LR is not obviously too low: run an LR range test (lrwatch find-lr) "
                "before raising it; a hard task or label noise also learns slowly."
            )
        elif kind == "stuck":
            # Flat at a normal LR: it never learned. A too-high LR or broken data look like
            # this too, so no LR direction is suggested; an info, because a run can sit at
            # chance for a hundred points and then learn (a late start is not a fault).
            sev, action = "info", None
            maybe = (
                "At a normal LR that is rarely"
                if lr is not None
                else "The log gives no LR: it may be"
            )
            message = (
                f"Loss has made no progress ({_pct(progress)} {after}){chance}: it never "
                f"learned. {maybe} a too-low LR, but a too-high one, or broken labels or "
                "inputs, look like this."
            )
            suggestion = (
                "Check the labels and inputs (can the model overfit one batch?), then run "
                "an LR range test (lrwatch find-lr)."
            )
        elif lr is None:
            # Nothing says how large the LR is: a slow line or a flat loss does not tell
            # a too-low LR from a too-high one, so no direction is suggested.
            how = "has not moved" if kind == "flat" else "falls slowly along a straight line"
            sev, action = "info", None
            message = (
                f"Loss {how}: {_pct(progress)} {after}; "
                "the log does not give the LR, so its direction cannot be judged."
            )
            suggestion = (
                "If the LR is small for the optimizer (Adam < 1e-4, SGD < 1e-2), raise it "
                "10×; otherwise run an LR range test (lrwatch find-lr)."
            )
        else:
            how = "has not moved" if kind == "flat" else "falls slowly along a straight line"
            sev, action = "warning", set_action(lr, cfg.factor)
            message = f"Loss {how}: {_pct(progress)} {after}, with no sign of slowing down."
            peak = ctx.lr_max
            if lr is not None and peak and lr < cfg.min_lr_fraction * peak:
                # The schedule has decayed it: scale the whole schedule (its peak) instead.
                action = scale_action(cfg.factor)
                suggestion = (
                    f"LR too low even at its peak ({fmt_lr(peak)}): raise the schedule "
                    f"{cfg.factor:g}× (peak {fmt_lr(peak)} → {fmt_lr(peak * cfg.factor)}), "
                    "or run an LR range test (lrwatch find-lr)."
                )
            else:
                suggestion = (
                    f"LR too low: {lr_change_text(lr, cfg.factor)}, or run an LR range test "
                    "(lrwatch find-lr)."
                )
        return symptom, sev, action, message, suggestion


def _kind(
    steady: bool, flat: bool, *, large: bool, normal: bool, known: bool, noisy: bool
) -> str | None:
    """Which finding a steady or flat loss is, by how large the LR is for the optimizer.

    Too low an LR is blamed only below a normal LR; at a large LR a flat loss is the LR's
    fault the other way, and a steady fall there is not slow progress at all. A quiet flat
    loss at an unknown LR is "flat" (its message, :meth:`SlowProgress._verdict`, says it
    never learned, as for "stuck").
    """
    if large:
        return "stuck_high_lr" if flat else None
    if steady:
        return "slow_normal" if normal else "steady"
    if flat:
        return "flat" if (known and not normal) or (not known and not noisy) else "stuck"
    return None


def _pct(progress: float) -> str:
    """'12% lower than at the start' / '3% higher than at the start'."""
    word = "lower" if progress >= 0 else "higher"
    return f"{abs(progress):.0%} {word} than at the start"


#: Classes up to which a loss at ln(K) is named as a K-class classifier's chance level.
MAX_CLASSES = 100


def chance_classes(loss: float) -> int | None:
    """K when ``loss`` is within 1% of ln K (2 ≤ K ≤ 100): the cross-entropy of a K-class
    classifier that predicts uniformly, i.e. one that has learned nothing."""
    if not 0.6 < loss < math.log(MAX_CLASSES + 0.5):
        return None
    k = round(math.exp(loss))
    if 2 <= k <= MAX_CLASSES and abs(loss - math.log(k)) <= 0.01 * math.log(k):
        return k
    return None


def _chance(level: float) -> str:
    """', sitting at ln 6 = 1.79, the chance level of a 6-class classifier' or ''."""
    k = chance_classes(level)
    if k is None:
        return ""
    return f", sitting at ln {k} = {math.log(k):.3g}, the chance level of a {k}-class classifier"
