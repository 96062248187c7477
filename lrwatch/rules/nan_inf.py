"""Non-finite values: the train loss or grad norm (``nan_inf``), the val loss (``val_nan``)."""

from __future__ import annotations

import math

from lrwatch.rules.base import Rule
from lrwatch.rules.config import NanInfConfig, ValNanConfig
from lrwatch.rules.context import RunContext
from lrwatch.rules.finding import fmt_num, lr_change_text, set_action
from lrwatch.rules.reporter import Reporter


class NanInf(Rule):
    """The train loss became NaN/inf (error), or the grad norm stayed non-finite (warning).

    A single non-finite grad norm is normal under fp16 dynamic loss scaling (the scaler skips
    that step), so grad norms need ``grad_patience`` in a row.
    """

    symptom = "nan_inf"

    def __init__(self, ctx: RunContext, reporter: Reporter, config: NanInfConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config
        self.last_finite: tuple[int, float] | None = None
        self.lr_at_finite: float | None = None
        self.bad_loss = self.bad_grad = self.good = 0
        #: first non-finite (step, value) of the episode
        self.onset: tuple[int, float] | None = None

    def on_any_loss(self, step: int, x: float) -> None:
        """Every train loss, finite or not (called before the other rules)."""
        if math.isfinite(x):
            self.last_finite = (step, x)
            self.lr_at_finite = self.ctx.lr
            self.bad_loss = 0
            self._maybe_clear(step)
            return
        self.bad_loss += 1
        self.good = 0
        if self.reporter.active is None:
            self.onset = (step, x)
        self._report(step, "loss", x, "error")

    def on_grad(self, step: int, x: float) -> None:
        if math.isfinite(x):
            self.bad_grad = 0
            return
        self.bad_grad += 1
        if self.bad_grad >= self.cfg.grad_patience:
            if self.reporter.active is None:
                self.onset = (step, x)
            self._report(step, "grad_norm", x, "warning")

    def _maybe_clear(self, step: int) -> None:
        if self.reporter.active is None or self.bad_grad:
            return
        self.good += 1
        if self.good >= self.cfg.resolve_after:
            self.reporter.resolve(step, "values are finite again")

    def _report(self, step: int, metric: str, x: float, severity: str) -> None:
        f = self.reporter.active
        if f is not None:  # cheap, so exact even between full refreshes
            ev = f.evidence
            ev["latest_nonfinite_step"] = step
            ev["nonfinite_points"] = self.bad_loss if metric == "loss" else self.bad_grad
        if self.touch(step, severity):
            return
        lr = self.lr_at_finite if self.lr_at_finite is not None else self.ctx.lr
        last = self.last_finite
        onset_step, onset_x = self.onset or (step, x)
        if last and last[0] > onset_step:
            last = None  # a finite value after the onset is not where it blew up
        where = f" (last finite {fmt_num(last[1])} at step {last[0]})" if last else ""
        stats = self.ctx.loss
        # Restart from before the loss blew up: the best smoothed loss, not the last finite one.
        good = stats.best_step if stats.baselined else (last[0] if last else step)
        count = self.bad_loss if metric == "loss" else self.bad_grad
        self.reporter.report(
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

    def __init__(self, ctx: RunContext, reporter: Reporter, config: ValNanConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config

    def on_val(self, step: int, x: float) -> None:
        if math.isfinite(x):
            self.reporter.resolve(step, "val loss is finite again")
            return
        if self.reporter.active is None and self.ctx.is_open("nan_inf"):
            return  # the train loss is non-finite too: one problem, reported as nan_inf
        self.reporter.report(
            step,
            "error",
            evidence={"val_loss": x, "lr": self.ctx.lr},
            message=f"Val loss is {fmt_num(x)} at step {step} while the train loss is finite.",
            suggestion="Check the eval data (empty or corrupt batches) and run eval in fp32.",
            action=None,
            confidence=0.95,
        )
