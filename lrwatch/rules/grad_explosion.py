"""Gradient explosion: grad-norm spikes against its rolling median, or sustained growth."""

from __future__ import annotations

import math

from lrwatch.rules.base import Rule
from lrwatch.rules.config import GradExplosionConfig
from lrwatch.rules.context import RunContext
from lrwatch.rules.finding import clamp01, fmt_num, fmt_ratio, lr_change_text, scale_action
from lrwatch.rules.reporter import Reporter
from lrwatch.rules.stats import Ema, Window


class GradExplosion(Rule):
    """Grad-norm spikes against the rolling median, or sustained growth of its EMA."""

    symptom = "grad_explosion"

    def __init__(self, ctx: RunContext, reporter: Reporter, config: GradExplosionConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config
        self.win = Window(self.cfg.window)
        self.ema = Ema(self.cfg.beta)
        self.low = math.inf
        self.n = 0
        self.hot = 0
        self.quiet = 0
        self.spikes = 0

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        if explicit:
            self.low = math.inf
            self.ema = Ema(self.cfg.beta)
            self.n = 0
            if direction < 0:
                self.reporter.resolve(step, "the LR was lowered")

    def on_grad(self, step: int, x: float) -> None:
        if not math.isfinite(x) or x < 0:
            return
        cfg = self.cfg
        med = self.win.median if len(self.win) >= cfg.min_points else math.nan
        spike = med > 0 and x >= cfg.spike_factor * med
        self.win.add(x)
        smooth = self.ema.add(x)
        self.n += 1
        if self.n > cfg.min_points:
            self.low = min(self.low, smooth)
        growth = smooth / self.low if 0 < self.low < math.inf else 1.0
        held = self.ctx.lr_rising
        self.hot = self.hot + 1 if growth >= cfg.growth and not held else 0
        if spike:
            self.spikes = self.spikes + 1 if self.reporter.active is not None else 1
            self.quiet = 0
        else:
            self.quiet += 1
        if spike or self.hot >= cfg.patience:
            if self.hot >= cfg.patience:
                sev = "error" if growth >= cfg.error_growth else "warning"
            else:
                # During a warmup (the LR still rising) one batch's spike is what warmup is
                # there to ride out: noted, not a call to act; a second one is a pattern.
                sev = "info" if held and self.spikes < 2 else "warning"
            self._report(step, x, med, smooth, growth, sev)
        elif (
            self.reporter.active is not None
            and self.quiet > cfg.cooldown
            and growth < cfg.growth / 2
        ):
            self.reporter.resolve(step, "grad norm is back to normal")

    def _report(
        self, step: int, x: float, med: float, smooth: float, growth: float, sev: str
    ) -> None:
        if self.touch(step, sev):
            return
        lr = self.ctx.lr
        if self.hot >= self.cfg.patience:
            what = f"grad norm grew {fmt_ratio(growth)} (smoothed {fmt_num(smooth)})"
        else:
            what = f"grad norm spiked to {fmt_num(x)}, {fmt_ratio(x / med)} its median ({fmt_num(med)})"
        self.reporter.report(
            step,
            sev,
            evidence={
                "grad_norm": x,
                "median": med,
                "smoothed": smooth,
                "smoothed_min": self.low,
                "growth": growth,
                "spikes": self.spikes,
                "lr": lr,
            },
            message=f"Gradient explosion: {what}.",
            suggestion=f"Clip gradients (max_norm=1.0) and {lr_change_text(lr, 0.1)}.",
            action=scale_action(0.1),
            confidence=clamp01(0.5 + 0.1 * self.spikes + 0.05 * math.log10(max(growth, 1.0))),
        )
