"""Oscillation: the loss bounces every other step (LR past the edge of stability)."""

from __future__ import annotations

import math

from lrwatch.rules.base import Progress, Rule
from lrwatch.rules.finding import clamp01, fmt_num, lr_change_text, scale_action
from lrwatch.rules.stats import Alternation, Autocorr


class Oscillation(Rule):
    """Loss bouncing every other step (period 2): LR past the edge of stability.

    Two noise-aware tests of a period-2 bounce, either one suffices: the successive
    differences change sign far more often than the 2/3 that i.i.d. noise gives (the
    turning-point test, z ≥ ``alternation_z``; it ignores the trend of the level), or the
    lag-1 autocorrelation of the level is ≤ ``autocorr`` (large swings around a flat level).
    The bounce must also be visible: mean |difference| ≥ ``min_spread`` of the level. With
    no progress of the best for a window it is a warning; while the loss still improves in
    spite of the bounce, an info (it is at the edge of stability, not lost).
    """

    symptom = "oscillation"

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine)
        self.cfg = engine.config.oscillation
        self.ac = Autocorr(self.cfg.window)
        self.alt = Alternation(self.cfg.window)
        self.progress = Progress(self.cfg.threshold)
        self.hot = self.calm = 0
        self.onset = 0

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        self.ac.clear()
        self.alt.clear()
        self.progress = Progress(self.cfg.threshold)
        self.hot = 0
        if direction < 0:
            self.resolve(step, "the LR was lowered")

    def on_loss(self, step: int, x: float) -> None:
        cfg, s = self.cfg, self.engine.loss
        self.ac.add(x)
        self.alt.add(x)
        self.progress.add(step, s.ema.value)
        if len(self.ac) < cfg.window or self.engine.lr_rising:
            return
        r, z = self.ac.value, self.alt.z()
        bounce = r <= cfg.autocorr or z >= cfg.alternation_z  # cheap tests first
        med = swing = math.nan
        if bounce:
            med, swing = s.win.median, self.alt.mean_abs_diff
            bounce = swing >= cfg.min_spread * abs(med)
        stuck = self.progress.since >= cfg.window
        self.hot = self.hot + 1 if bounce else 0
        self.calm = self.calm + 1 if not bounce else 0
        if self.hot == 1:
            self.onset = step
        if self.hot >= cfg.patience:
            self._report(step, "warning" if stuck else "info", r, z, med, swing)
        elif self.active is not None and self.calm >= cfg.patience:
            self.resolve(step, "the swings stopped")

    def _report(self, step: int, sev: str, r: float, z: float, med: float, swing: float) -> None:
        if self.touch(step, sev):
            return
        lr, frac = self.engine.lr, self.alt.fraction
        since = self.progress.since
        progress = (
            f"no new best for {since} points"
            if sev == "warning"
            else "the loss still improves, slowly and not monotonically"
        )
        self.report(
            step,
            sev,
            self.onset,
            evidence={
                "lag1_autocorr": round(r, 3),
                "alternation": round(frac, 3),
                "alternation_z": round(z, 2),
                "mean_abs_diff": swing,
                "median": med,
                "points_without_progress": since,
                "best_loss": self.progress.best,
                "lr": lr,
            },
            message=f"Loss bounces up and down every other step by {fmt_num(swing)} around "
            f"{fmt_num(med)} ({frac:.0%} of steps reverse direction, 67% for noise); "
            f"{progress}.",
            suggestion=f"LR slightly too high (past the edge of stability): "
            f"{lr_change_text(lr, 0.5)} (÷2 to ÷10), or decay it with a schedule.",
            action=scale_action(0.5),
            confidence=clamp01(
                0.5 + 0.05 * (z - self.cfg.alternation_z) + 0.2 * (sev == "warning")
            ),
        )
