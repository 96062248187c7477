"""Rules on non-finite values, the val loss and the grad norm."""

from __future__ import annotations

import math
from collections import deque

from lrwatch.rules.base import Rule, rel
from lrwatch.rules.finding import (
    clamp01,
    fmt_num,
    fmt_ratio,
    lr_change_text,
    scale_action,
    set_action,
)
from lrwatch.rules.stats import Ema, Window


class NanInf(Rule):
    """The train loss became NaN/inf (error), or the grad norm stayed non-finite (warning).

    A single non-finite grad norm is normal under fp16 dynamic loss scaling (the scaler skips
    that step), so grad norms need ``grad_patience`` in a row.
    """

    symptom = "nan_inf"

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine)
        self.cfg = engine.config.nan_inf
        self.last_finite: tuple[int, float] | None = None
        self.lr_at_finite: float | None = None
        self.bad_loss = self.bad_grad = self.good = 0
        self.onset: tuple[int, float] | None = (
            None  #: first non-finite (step, value) of the episode
        )

    def on_any_loss(self, step: int, x: float) -> None:
        """Every train loss, finite or not (called before the other rules)."""
        if math.isfinite(x):
            self.last_finite = (step, x)
            self.lr_at_finite = self.engine.lr
            self.bad_loss = 0
            self._maybe_clear(step)
            return
        self.bad_loss += 1
        self.good = 0
        if self.active is None:
            self.onset = (step, x)
        self._report(step, "loss", x, "error")

    def on_grad(self, step: int, x: float) -> None:
        if math.isfinite(x):
            self.bad_grad = 0
            return
        self.bad_grad += 1
        if self.bad_grad >= self.cfg.grad_patience:
            if self.active is None:
                self.onset = (step, x)
            self._report(step, "grad_norm", x, "warning")

    def _maybe_clear(self, step: int) -> None:
        if self.active is None or self.bad_grad:
            return
        self.good += 1
        if self.good >= self.cfg.resolve_after:
            self.resolve(step, "values are finite again")

    def _report(self, step: int, metric: str, x: float, severity: str) -> None:
        if self.active is not None:  # cheap, so exact even between full refreshes
            ev = self.active.evidence
            ev["latest_nonfinite_step"] = step
            ev["nonfinite_points"] = self.bad_loss if metric == "loss" else self.bad_grad
        if self.touch(step, severity):
            return
        lr = self.lr_at_finite if self.lr_at_finite is not None else self.engine.lr
        last = self.last_finite
        onset_step, onset_x = self.onset or (step, x)
        if last and last[0] > onset_step:
            last = None  # a finite value after the onset is not where it blew up
        where = f" (last finite {fmt_num(last[1])} at step {last[0]})" if last else ""
        stats = self.engine.loss
        # Restart from before the loss blew up: the best smoothed loss, not the last finite one.
        good = stats.best_step if stats.baselined else (last[0] if last else step)
        count = self.bad_loss if metric == "loss" else self.bad_grad
        self.report(
            step,
            severity,
            evidence={
                "metric": metric,
                "value": x,
                "onset_value": onset_x,
                "latest_nonfinite_step": step,
                "nonfinite_points": count,
                "last_finite_step": last[0] if last else None,
                "last_finite_loss": last[1] if last else None,
                "good_step": good,
                "lr": lr,
            },
            message=f"{'Train loss' if metric == 'loss' else 'Grad norm'} became "
            f"{fmt_num(onset_x)} at step {onset_step}{where}.",
            suggestion=f"Restart from the checkpoint near step {good} and "
            f"{lr_change_text(lr, 0.1)}; clip gradients (max_norm=1.0); check for fp16 "
            "overflow or bad inputs.",
            action=set_action(lr, 0.1),
            confidence=0.99 if metric == "loss" else 0.8,
        )


class ValNan(Rule):
    """The val loss became NaN/inf while (or before) the train loss stays finite."""

    symptom = "val_nan"

    def on_val(self, step: int, x: float) -> None:
        if math.isfinite(x):
            self.resolve(step, "val loss is finite again")
            return
        nan = self.engine.nan_rule
        if self.active is None and nan is not None and nan.active is not None:
            return  # the train loss is non-finite too: one problem, reported as nan_inf
        self.report(
            step,
            "error",
            evidence={"val_loss": x, "lr": self.engine.lr},
            message=f"Val loss is {fmt_num(x)} at step {step} while the train loss is finite.",
            suggestion="Check the eval data (empty or corrupt batches) and run eval in fp32.",
            action=None,
            confidence=0.95,
        )


class Overfitting(Rule):
    """Val loss rising above its best for several evaluations while the train loss falls."""

    symptom = "overfitting"

    def __init__(self, engine, metric: str = "val_loss") -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine)
        self.metric = metric  #: the val loss judged: ``val_loss`` or a named eval set's
        self.cfg = engine.config.overfitting
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
            self.resolve(step, "val loss reached a new best")
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
            self.report(
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
                f"{lr_change_text(self.engine.lr, 0.5)}.",
                action=None,
                confidence=clamp01(0.5 + 0.1 * self.hot + gap),
            )

    def _what(self) -> str:
        return "val loss" if self.metric == "val_loss" else f"{self.metric} (an eval set)"


class GradExplosion(Rule):
    """Grad-norm spikes against the rolling median, or sustained growth of its EMA."""

    symptom = "grad_explosion"

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine)
        self.cfg = engine.config.grad_explosion
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
                self.resolve(step, "the LR was lowered")

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
        held = self.engine.lr_rising
        self.hot = self.hot + 1 if growth >= cfg.growth and not held else 0
        if spike:
            self.spikes = self.spikes + 1 if self.active is not None else 1
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
        elif self.active is not None and self.quiet > cfg.cooldown and growth < cfg.growth / 2:
            self.resolve(step, "grad norm is back to normal")

    def _report(
        self, step: int, x: float, med: float, smooth: float, growth: float, sev: str
    ) -> None:
        if self.touch(step, sev):
            return
        lr = self.engine.lr
        if self.hot >= self.cfg.patience:
            what = f"grad norm grew {fmt_ratio(growth)} (smoothed {fmt_num(smooth)})"
        else:
            what = f"grad norm spiked to {fmt_num(x)}, {fmt_ratio(x / med)} its median ({fmt_num(med)})"
        self.report(
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
