"""Oscillation: the loss bounces every other step (LR past the edge of stability), or keeps
swinging widely around a level no lower than where the run started (mini-batch SGD or Adam at
an LR too high for it)."""

from __future__ import annotations

import math

from lrwatch.rules.base import Progress, Rule
from lrwatch.rules.config import OscillationConfig
from lrwatch.rules.context import RunContext
from lrwatch.rules.finding import clamp01, fmt_num, lr_change_text, scale_action
from lrwatch.rules.lr_scale import lr_can_swing
from lrwatch.rules.reporter import Reporter
from lrwatch.rules.stats import Alternation, Autocorr, Lagged, Window

#: The window's median may differ (log) by at most this from the median of the window before
#: it, or by a quarter of its own 10-90% spread (the medians' sampling noise), to count as a
#: steady level: a loss that is still falling is learning, however noisy, and one that just
#: jumped up (a shock, a blow-up) is a spike's or a divergence's business.
STEADY = math.log(1.0 / 0.95)
#: The swing test is judged every this many points (its window moves slowly; the engine's
#: per-record cost stays low).
SWING_EVERY = 4


class Oscillation(Rule):
    """Loss bouncing (period 2) or swinging without progress: the LR is too high.

    Two shapes, each from the curve's own statistics:

    * **period 2** (full batch, edge of stability): the successive differences change sign
      far more often than the 2/3 that i.i.d. noise gives (turning-point test, z ≥
      ``alternation_z``; blind to the trend), or the lag-1 autocorrelation is ≤ ``autocorr``;
      and the bounce is visible (mean |difference| ≥ ``min_spread`` of the level). A warning
      without progress, an info while the loss still improves.
    * **swing** (mini-batch): over the last ``swing_window`` points the loss spans a factor
      of e^``swing`` or more from its 10th to its 90th percentile, its median is no more than
      ``max_gain`` below the run's first loss (not below it at all when the LR is unknown),
      and the level is steady (the median is close to the median of the window before it).
      Healthy noisy SGD fails the level test (it trends down), a plateau fails the swing
      test (flat and quiet), a blow-up the steadiness. Not at an LR too small to swing
      (:func:`~lrwatch.rules.lr_scale.lr_can_swing`): a too-low LR on a noisy loss, or a
      fine-tune, also moves little, and noisily.
    """

    symptom = "oscillation"

    def __init__(self, ctx: RunContext, reporter: Reporter, config: OscillationConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config
        self.ac = Autocorr(self.cfg.window)
        self.alt = Alternation(self.cfg.window)
        self.progress = Progress(self.cfg.threshold)
        self.logs = Window(self.cfg.swing_window)
        self.medians = Lagged(max(1, self.cfg.swing_window // SWING_EVERY))
        self.ticks = 0  #: points added to the swing window
        self.hot = self.calm = 0
        self.swung = 0  #: points the swing test has held in a row (0: not swinging)
        self.onset = self.swing_onset = 0

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        self.ac.clear()
        self.alt.clear()
        self.logs.clear()
        self.medians.clear()
        self.progress = Progress(self.cfg.threshold)
        self.hot = self.swung = 0
        if direction < 0:
            self.reporter.resolve(step, "the LR was lowered")

    def on_loss(self, step: int, x: float) -> None:
        cfg, s = self.cfg, self.ctx.loss
        self.ac.add(x)
        self.alt.add(x)
        self.progress.add(step, s.ema.value)
        swinging = self._swing(step, x)
        ready = len(self.ac) >= cfg.window and not self.ctx.lr_rising
        bounce = ready and self._bounce(step)
        self.calm = 0 if (bounce or swinging) else self.calm + 1
        if self.reporter.active is not None and self.calm >= cfg.patience:
            self.reporter.resolve(step, "the swings stopped")

    # -- period 2 -----------------------------------------------------------------------

    def _bounce(self, step: int) -> bool:
        cfg, s = self.cfg, self.ctx.loss
        r, z = self.ac.value, self.alt.z()
        bounce = r <= cfg.autocorr or z >= cfg.alternation_z  # cheap tests first
        med = swing = math.nan
        if bounce:
            med, swing = s.win.median, self.alt.mean_abs_diff
            bounce = swing >= cfg.min_spread * abs(med)
        stuck = self.progress.since >= cfg.window
        self.hot = self.hot + 1 if bounce else 0
        if self.hot == 1:
            self.onset = step
        if self.hot >= cfg.patience:
            self._report(step, "warning" if stuck else "info", r, z, med, swing)
        return bounce

    # -- mini-batch swing ---------------------------------------------------------------

    def _swing(self, step: int, x: float) -> bool:
        """The swing test on the newest loss ``x``; reports once it held for long enough."""
        cfg, ctx = self.cfg, self.ctx
        if not ctx.loss.positive or x <= 0:
            return False
        self.logs.add(math.log(x))
        self.ticks += 1
        if self.ticks % SWING_EVERY:
            return self.swung > 0  # judged every SWING_EVERY points: the window moves slowly
        self.medians.add(self.logs.median)
        if len(self.logs) < cfg.swing_window or not self.medians.full:
            return False
        lo, hi = self.logs.quantile(0.1), self.logs.quantile(0.9)
        med = self.logs.median
        # Without a known LR, only a level at or above the first loss is evidence enough: a
        # too-low LR on a noisy loss also moves little (and wants the opposite fix). The
        # cheap tests come first: most points of most runs fail the spread test.
        gain = cfg.max_gain if ctx.lr is not None else 0.0
        swinging = (
            hi - lo >= cfg.swing
            and med >= math.log((1.0 - gain) * ctx.loss.first)
            and abs(med - self.medians.ago(self.medians.size)) <= max(STEADY, 0.25 * (hi - lo))
            and not ctx.lr_rising
            and lr_can_swing(ctx.optimizer, ctx.lr)
        )
        self.swung = self.swung + SWING_EVERY if swinging else 0
        if self.swung == SWING_EVERY:
            self.swing_onset = step
        if self.swung >= cfg.swing_patience:
            self._report_swing(step, math.exp(lo), math.exp(med), math.exp(hi))
        return swinging

    def _report_swing(self, step: int, lo: float, med: float, hi: float) -> None:
        if self.touch(step, "warning"):
            return
        cfg, lr = self.cfg, self.ctx.lr
        start = self.ctx.loss.first
        where = "above" if med > start else "barely below"
        self.reporter.report(
            step,
            "warning",
            self.swing_onset,
            evidence={
                "shape": "swing",
                "p10": lo,
                "median": med,
                "p90": hi,
                "window": cfg.swing_window,
                "start_level": start,
                "lr": lr,
                "optimizer": self.ctx.optimizer,
            },
            message=f"Loss swings between {fmt_num(lo)} and {fmt_num(hi)} (10th-90th "
            f"percentile of the last {cfg.swing_window} points) around {fmt_num(med)}, "
            f"{where} where it started ({fmt_num(start)}): it bounces instead of descending.",
            suggestion=f"LR too high: {lr_change_text(lr, cfg.factor)} (2-3×), or switch to a "
            "decaying schedule (cosine, step decay).",
            action=scale_action(cfg.factor),
            confidence=clamp01(0.5 + 0.2 * math.log(hi / lo) + 0.02 * self.swung),
        )

    def _report(self, step: int, sev: str, r: float, z: float, med: float, swing: float) -> None:
        if self.touch(step, sev):
            return
        lr, frac = self.ctx.lr, self.alt.fraction
        since = self.progress.since
        progress = (
            f"no new best for {since} points"
            if sev == "warning"
            else "the loss still improves, slowly and not monotonically"
        )
        self.reporter.report(
            step,
            sev,
            self.onset,
            evidence={
                "shape": "period2",
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
