"""Overfitting: the val loss (or a named eval set's) rises while the train loss falls."""

from __future__ import annotations

import math
from collections import deque

from lrwatch.rules.base import Rule, rel
from lrwatch.rules.config import OverfittingConfig
from lrwatch.rules.context import RunContext
from lrwatch.rules.finding import clamp01, fmt_num, lr_change_text
from lrwatch.rules.reporter import Reporter
from lrwatch.rules.stats import Ema, Window


class Overfitting(Rule):
    """Val loss rising above its best for several evaluations while the train loss falls."""

    symptom = "overfitting"

    def __init__(
        self,
        ctx: RunContext,
        reporter: Reporter,
        config: OverfittingConfig,
        metric: str = "val_loss",
    ) -> None:
        super().__init__(ctx, reporter)
        self.metric = metric  #: the val loss judged: ``val_loss`` or a named eval set's
        self.cfg = config
        self.train = Ema(0.9)
        self.evals = 0
        self.recent: deque[float] = deque(maxlen=3)
        self.best = math.inf
        self.best_step = 0
        self.train_at_best = math.nan
        self.hot = 0
        self.onset = 0
        self.last = math.nan
        #: log differences of successive evaluations: the val curve's own noise
        self.diffs = Window(16)

    def on_loss(self, step: int, x: float) -> None:
        self.train.add(x)

    def _noise(self) -> float:
        """Relative noise of one evaluation (robust sigma of successive log differences
        / sqrt 2); 0 until 5 differences are in."""
        if len(self.diffs) < 5:
            return 0.0
        return math.expm1(self.diffs.sigma / math.sqrt(2.0))

    def on_val(self, step: int, x: float) -> None:
        if not math.isfinite(x):
            return
        self.evals += 1
        if self.last > 0 and x > 0:
            self.diffs.add(math.log(x / self.last))
        self.last = x
        train = self.train.value
        # Judge the median of the last 3 evaluations: one lucky (noisy) low eval must not
        # become a "best" that every later evaluation seems to rise above.
        self.recent.append(x)
        x = sorted(self.recent)[len(self.recent) // 2]
        if x < self.best:
            self.best, self.best_step, self.train_at_best = x, step, train
            self.hot = 0
            self.reporter.resolve(step, "val loss reached a new best")
            return
        cfg = self.cfg
        # A rise must clear the val curve's own noise (2 sigmas of one evaluation), not only
        # the fixed ``rise``: a noisy healthy run sits a few % above its best for a while.
        bar = max(cfg.rise, 2.0 * self._noise())
        rising = x >= self.best + bar * abs(self.best)
        falling = math.isnan(self.train_at_best) or not (train >= self.train_at_best)
        self.hot = self.hot + 1 if rising and falling else 0
        if self.hot == 1:
            self.onset = step
        if self.hot >= cfg.patience and self.evals >= cfg.min_evals:
            gap = rel(x - self.best, self.best)
            # Act now only when the gap is large: a few % above the best is worth watching.
            sev = "warning" if gap >= max(cfg.warn_rise, bar) else "info"
            self.reporter.report(
                step,
                sev,
                self.onset,
                evidence={
                    "val_loss": x,
                    "best_val_loss": self.best,
                    "best_step": self.best_step,
                    "rise": gap,
                    "train_loss_now": train,
                    "train_loss_at_best": self.train_at_best,
                    "evals_rising": self.hot,
                    "val_noise": self._noise(),
                    "metric": self.metric,
                },
                message=f"Overfitting: {self._what()} {fmt_num(x)} is {gap:.0%} above its best "
                f"({fmt_num(self.best)} at step {self.best_step}) while the train loss falls.",
                suggestion=f"Keep the checkpoint from step {self.best_step} and stop early; or "
                f"regularise (weight decay, dropout, augmentation) or "
                f"{lr_change_text(self.ctx.lr, 0.5)}.",
                action=None,
                confidence=clamp01(0.5 + 0.1 * self.hot + gap),
            )

    def _what(self) -> str:
        return "val loss" if self.metric == "val_loss" else f"{self.metric} (an eval set)"
