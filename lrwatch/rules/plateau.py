"""Plateaus: the train loss stops declining (info), the val loss stops improving (warning)."""

from __future__ import annotations

import math

from lrwatch.lrchange import LRChange
from lrwatch.rules.base import Progress, Rule
from lrwatch.rules.config import PlateauConfig
from lrwatch.rules.context import RunContext
from lrwatch.rules.finding import clamp01, fmt_lr, fmt_num, lr_change_text, scale_action
from lrwatch.rules.lr_scale import lr_is_small
from lrwatch.rules.reporter import Reporter
from lrwatch.rules.stats import Lagged, Trend

#: LRs below which a plateau is never answered with "lower the LR": already small for the
#: optimizer (plain SGD rarely works below 1e-2, Adam rarely below 1e-5).
_SMALL_FOR_DECAY = {"adaptive": 1e-5, "sgd": 1e-2}


class TrainPlateau(Rule):
    """No significant decline of the train loss over the last ``patience`` points (info)."""

    symptom = "plateau"
    metric = "loss"

    def __init__(self, ctx: RunContext, reporter: Reporter, config: PlateauConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config
        self.progress = Progress(self._threshold())
        self.cooldown = 0
        self.trend = Trend(self.cfg.patience)
        self.steps = Lagged(self.cfg.patience)
        self.decline = math.nan  #: fitted decline over the window, for the evidence
        self.held = 0  #: consecutive points judged without a decline
        self.log = True  #: the trend is fitted to log(loss)

    def _threshold(self) -> float:
        return self.cfg.threshold

    def _patience(self) -> int:
        return self.cfg.patience

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        self.progress = Progress(self._threshold())
        self.trend.clear()
        self.steps.clear()
        self.held = 0
        if direction != 0 or explicit:
            self.reporter.resolve(step, "the LR changed")
            self.cooldown = self.cfg.cooldown

    def on_loss(self, step: int, x: float) -> None:
        # The train loss is judged on the least-squares line through its last ``patience``
        # points: the fitted decline must be relevant (``threshold`` of the level) and real
        # (``z`` sigmas of the fit's own noise, from the point noise). A steady decline
        # hidden in batch noise point by point still shows in the fit; a flat loss whose
        # noise makes lucky new lows does not reset anything.
        s = self.ctx.loss
        if not s.baselined or self.ctx.lr_rising:
            return
        # Positive losses are fitted on the log scale: batch noise is multiplicative and
        # heavy-tailed, and a relative decline is then just a difference (scale-free).
        log = s.positive and x > 0
        if log != self.log:
            self.trend.clear()
            self.log = log
        self.trend.add(self._clipped(x, log))
        self.steps.add(step)
        if self.cooldown > 0:
            self.cooldown -= 1
        t = self.trend
        if len(t) < self.cfg.patience:
            return
        span = len(t) - 1
        decline = self.decline = -t.slope * span
        noise = s.log_noise if log else s.noise
        noise_bar = self.cfg.z * t.slope_sigma(noise) * span
        level = 1.0 if log else abs(t.mean)
        self._judge(step, span, decline, level, noise_bar)

    def _judge(self, step: int, span: int, decline: float, level: float, noise_bar: float) -> None:
        """Open, hold or resolve the plateau from the ``decline`` fitted over ``span`` steps."""
        f = self.reporter.active
        if f is not None:
            # Hysteresis: only a clear decline (resolve_factor × the threshold, and real),
            # held for ``hold`` points like the plateau itself, ends it.
            clear = max(self.cfg.resolve_factor * self.cfg.threshold * level, noise_bar)
            self.held = self.held + 1 if decline > clear else 0
            if self.held >= self.cfg.hold:
                self.reporter.resolve(step, "the loss is falling again")
                self.cooldown = self.cfg.cooldown
                self.held = 0
            else:
                f.last_step = max(f.last_step, step)
            return
        if self.cooldown > 0:
            return
        # Flat: the fitted decline itself is below the threshold (not merely hidden in the
        # noise: heavy batch noise hides a healthy decline from any one window, and that
        # made noisy runs report plateaus while still improving), and it stays so for
        # ``hold`` points in a row (window after window, so one lucky fit is not enough).
        if decline > self.cfg.threshold * level:
            self.held = 0
            return
        # One window without a visible decline can be noise hiding one; it must hold.
        self.held += 1
        if self.held < self.cfg.hold:
            return
        p = self.progress
        first = self.steps.ago(span)  # NaN only when patience < 3 (the fit needs 3 points)
        p.best, p.best_step = self._level(), int(first) if first == first else step
        p.since = span + 1
        self.held = 0
        self._report(step)

    def _report(self, step: int) -> None:
        ctx, p = self.ctx, self.progress
        if self.reporter.active is None and ctx.is_open(self._superseded_by()):
            return  # a more specific finding already explains it
        sev = self._severity()
        decayed = ctx.lr is not None and ctx.lr_max is not None and ctx.lr < 0.5 * ctx.lr_max
        small = lr_is_small(ctx.optimizer, ctx.lr, _SMALL_FOR_DECAY)
        if decayed or small:
            sev = "info"
        if self.touch(step, sev):
            return
        suggestion, action = self._advice(decayed, small)
        self.reporter.report(
            step,
            sev,
            p.best_step,
            evidence={
                "metric": self.metric,
                "best": p.best,
                "best_step": p.best_step,
                "points_without_improvement": p.since,
                "threshold": self._threshold(),
                **({"fitted_decline": self.decline} if self.metric == "loss" else {}),
                "optimizer": ctx.optimizer,
                "lr": ctx.lr,
            },
            message=self._message(),
            suggestion=suggestion,
            action=action,
            confidence=clamp01(0.5 + 0.1 * p.since / self._patience()),
        )

    def _advice(self, decayed: bool, small: bool) -> tuple[str, LRChange | None]:
        """The suggestion and machine action for a plateau at the current LR."""
        ctx = self.ctx
        action = None
        if decayed:
            suggestion = (
                f"The LR is already decayed to {fmt_lr(ctx.lr or 0)}: consider stopping early."
            )
        elif small:
            # Lowering an LR that is already small for the optimizer would only slow it more;
            # a plateau there may as well be a too-low LR (it saturates early, high).
            suggestion = (
                f"The LR {fmt_lr(ctx.lr or 0)} is already small for {ctx.optimizer}: do not "
                "lower it; if the loss should go lower, the LR may be too low: run an LR "
                "range test (lrwatch find-lr), or stop if this is good enough."
            )
        elif self._converged():
            suggestion = (
                f"Converged at this LR: decay it (ReduceLROnPlateau-style): "
                f"{lr_change_text(ctx.lr, self.cfg.factor)}, or stop."
            )
            action = scale_action(self.cfg.factor)
        else:
            suggestion = (
                "It flattened without a converging curve before it: run an LR range test "
                "(lrwatch find-lr) before changing the LR."
            )
        return suggestion, action

    def _clipped(self, x: float, log: bool) -> float:
        """``x`` (or log x) winsorized to 3 robust sigmas around the window's median: a burst
        of spikes at the end of the window must not bend the fitted line flat."""
        s = self.ctx.loss
        med = s.win.median
        if log:
            lx, sig = math.log(x), s.log_noise
            if med > 0 and sig > 0:
                m = math.log(med)
                return min(max(lx, m - 3.0 * sig), m + 3.0 * sig)
            return lx
        sig = s.win.sigma
        if sig > 0:
            return min(max(x, med - 3.0 * sig), med + 3.0 * sig)
        return x

    def _level(self) -> float:
        """The mean loss over the window (geometric for positive losses)."""
        m = self.trend.mean
        return math.exp(m) if self.log and m == m else m

    def _converged(self) -> bool:
        """The loss made real progress before it flattened: a converged, decelerating curve
        (ReduceLROnPlateau's case), not a loss that never moved."""
        s = self.ctx.loss
        start, level = s.first, self._level()
        if not (start == start and level == level):
            return False
        return start - level > max(self.cfg.threshold * abs(start), 3.0 * s.noise)

    def _change_text(self) -> str:
        if self.log:
            return f"{math.expm1(-self.decline):+.1%}"
        return f"{-self.decline:+.3g}"

    def _message(self) -> str:
        p = self.progress
        return (
            f"Train loss has not declined by {self._threshold():.1%} over the last {p.since} "
            f"points (mean {fmt_num(p.best)} since step {p.best_step}; fitted change "
            f"{self._change_text()})."
        )

    def _severity(self) -> str:
        return "info"

    def _superseded_by(self) -> str:
        return "slow_progress"


class ValPlateau(TrainPlateau):
    """No improvement of the val loss for ``val_patience`` evaluations (warning at full LR)."""

    metric = "val_loss"

    def _threshold(self) -> float:
        return self.cfg.val_threshold

    def _patience(self) -> int:
        return self.cfg.val_patience

    def on_loss(self, step: int, x: float) -> None:
        return

    def on_val(self, step: int, x: float) -> None:
        if math.isfinite(x):
            self.observe(step, x)

    def observe(self, step: int, v: float) -> None:
        """ReduceLROnPlateau on the val loss: no new best by the threshold for patience."""
        if self.ctx.lr_rising:
            return
        before = self.progress.best
        improved = self.progress.add(step, v)
        if improved and self.reporter.active is not None:
            # Hysteresis: noise makes small new bests; only a clear one ends the plateau.
            if v < before - self.cfg.resolve_factor * self._threshold() * abs(before):
                self.reporter.resolve(step, "the loss improved again")
                self.cooldown = self.cfg.cooldown
            else:
                self.progress.since = self._patience()
        if self.cooldown > 0:
            self.cooldown = max(0, self.cooldown - 1)
            return
        if self.progress.since >= self._patience():
            self._report(step)

    def _converged(self) -> bool:
        return True  # the val loss improved before (a best exists) and then stopped

    def _message(self) -> str:
        p = self.progress
        return (
            f"Val loss has not improved by {self._threshold():.1%} for {p.since} evaluations "
            f"(best {fmt_num(p.best)} at step {p.best_step})."
        )

    def _severity(self) -> str:
        # A val loss that stopped improving is a converged run: worth knowing (decay or stop),
        # not an alarm. Overfitting (rising) is the val loss's warning.
        return "info"

    def _superseded_by(self) -> str:
        return "overfitting"
