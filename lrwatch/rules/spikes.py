"""Loss spikes: points far above the rolling median, and the missing-warmup spike."""

from __future__ import annotations

import itertools
import math

from lrwatch.rules.base import Rule
from lrwatch.rules.config import LossSpikeConfig
from lrwatch.rules.context import RunContext
from lrwatch.rules.finding import (
    clamp01,
    fmt_lr,
    fmt_num,
    fmt_ratio,
    lr_change_text,
    scale_action,
)
from lrwatch.rules.reporter import Reporter

#: Below this fraction of its peak the LR has decayed to ~0 (the end of a schedule): a spike there
#: is not answered with a lower LR.
DECAYED = 0.01


class LossSpike(Rule):
    """A point far above the rolling median (robust z-score), grouped into episodes."""

    symptom = "loss_spike"

    def __init__(self, ctx: RunContext, reporter: Reporter, config: LossSpikeConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config
        #: (step, loss) of the highest loss among the run's first ``min_points`` points,
        #: judged once the window is warm (None once judged, or when it cannot be)
        self.peak: tuple[int, float] | None = (0, -math.inf)
        self.count = 0
        self.quiet = 0
        self.biggest = 0.0

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        if direction < 0 and self.reporter.active is not None:
            self.reporter.resolve(step, "the LR was lowered")

    def check(self, step: int, x: float) -> None:
        """Judge ``x`` against the window before it joins (called before the stats update)."""
        cfg, s = self.cfg, self.ctx.loss
        w = s.win
        if len(w) < cfg.min_points:
            self._early(step, x)
            return
        if self.peak is not None:
            self._cold_start()
        med = w.median
        lsig = s.log_noise if s.positive and x > 0 and med > 0 else math.nan
        if lsig > 0:
            # Multiplicative batch noise: the z-score on the log scale, so the heavy upper
            # tail of small-batch losses near zero is not a stream of "spikes".
            z = math.log(x / med) / max(lsig, 1e-9)
            bar = cfg.log_z
        else:
            z = (x - med) / max(w.sigma, 1e-9 * max(1.0, abs(med)))
            bar = cfg.z
        if self.ctx.shock_left > 0:
            bar = cfg.shock_z  # right after an unprecedented LR jump: the cause is known
        if z >= bar and x - med >= cfg.min_jump * abs(med):
            self._spike(step, x, med, z)
            return
        self.quiet += 1
        f = self.reporter.active
        if f is not None:
            if self.quiet == 1 and "recovered" in f.evidence:
                f.evidence["recovered"] = z < 3.0
            if self.quiet > cfg.cooldown:
                self.reporter.resolve(step, f"no spike for {cfg.cooldown} points")

    def _early(self, step: int, x: float) -> None:
        """Before the window can judge: a loss many times its first value is a blow-up."""
        s = self.ctx.loss
        if not s.run_start and s.first == s.first:
            self.peak = None
            return  # the window was emptied by an LR jump: the run's start is long past
        if self.peak is not None and s.positive and x > 0 and x > self.peak[1]:
            self.peak = (step, x)  # the highest loss of the first points, judged later
        if not (s.nonneg and x > 0 and s.first > 0) or x < self.cfg.early_factor * s.first:
            return
        self._spike(step, x, s.first, math.nan, early=True)

    def _cold_start(self) -> None:
        """The classic missing-warmup spike, judged once the first ``min_points`` points are
        in: the loss rose clearly above its first logged value (by ``min_jump``) in the
        first steps, at a constant LR, and that peak is ``log_z`` robust sigmas above the
            median of those first points (so noisy first batches are not a spike). The sigma is
        that of successive log differences (once per run, O(min_points)): the steep fall of
        the first steps is a trend, not noise."""
        cfg, ctx, s = self.cfg, self.ctx, self.ctx.loss
        peak, self.peak = self.peak, None
        if peak is None or ctx.saw_warmup or ctx.lr_rising or not s.positive or s.first <= 0:
            return
        step, x = peak
        med, lsig = s.win.median, _log_diff_sigma(s.win.values())
        if not (med > 0 and lsig > 0 and x >= (1.0 + cfg.min_jump) * s.first):
            return
        z = math.log(x / med) / lsig
        if z >= cfg.log_z:
            self._spike(step, x, s.first, z, early=True, cold=True)

    def _spike(
        self,
        step: int,
        x: float,
        med: float,
        z: float,
        early: bool = False,
        cold: bool = False,
    ) -> None:
        cfg, ctx = self.cfg, self.ctx
        if self.reporter.active is None:
            self.count, self.biggest = 0, 0.0
        self.count += 1
        self.quiet = 0
        ratio = x / med if med > 0 else math.inf
        # A loss 10× its first value in the first steps means an LR far too high: ÷10.
        factor = 0.1 if early and not cold else 0.5
        self.biggest = max(self.biggest, ratio if ctx.loss.positive else z)
        # One spike that recovers needs no action; an episode of several does.
        # A blow-up in the first steps is the classic missing-warmup / LR-too-high symptom.
        sev = "warning" if self.count >= cfg.repeat or early else "info"
        if cold and not ctx.lr_logged and self.count < cfg.repeat:
            # No per-step LR: whether the run warms up is unknown, and a noisy first batch
            # looks the same; noted, not an alarm (a real blow-up is divergence's error).
            sev = "info"
        # A schedule that has nearly finished: an LR near zero is not what makes it spike.
        lr, peak = ctx.lr, ctx.lr_max
        decayed = (
            lr is not None
            and peak is not None
            and bool(peak)
            and lr < DECAYED * peak
            and ctx.lr_decaying
        )
        message, suggestion = self._texts(x, med, ratio, factor, early, cold, decayed)
        self.reporter.report(
            step,
            sev,
            evidence={
                "loss": x,
                "median": med,
                "robust_z": None if z != z else round(z, 2),
                "early": early,
                "no_warmup": cold,
                "ratio_to_median": ratio,
                "spikes": self.count,
                "window": cfg.window,
                "recovered": False,
                "lr": ctx.lr,
            },
            message=message,
            suggestion=suggestion,
            action=None if decayed else scale_action(factor),
            confidence=clamp01(0.4 + 0.1 * self.count + 0.02 * min(z, 20.0)),
        )

    def _texts(
        self,
        x: float,
        med: float,
        ratio: float,
        factor: float,
        early: bool,
        cold: bool,
        decayed: bool,
    ) -> tuple[str, str]:
        """The message and suggestion of a spike finding (``decayed``: at an LR a schedule
        has brought to ~0, which no lower LR would help)."""
        cfg, ctx = self.cfg, self.ctx
        start = ctx.points <= 200 and not ctx.saw_warmup
        fixes = "add an LR warmup (e.g. 5% of steps), " if start else ""
        what = (
            f"{fmt_ratio(ratio)} the first logged loss ({fmt_num(med)})"
            if early
            else f"{fmt_ratio(ratio)} the recent median ({fmt_num(med)})"
        )
        episode = f"; {self.count} spikes in {cfg.cooldown} points" if self.count > 1 else ""
        message = f"Loss spiked to {fmt_num(x)}, {what}{episode}."
        suggestion = (
            f"Instability: {fixes}clip gradients (max_norm=1.0) or "
            f"{lr_change_text(ctx.lr, factor)}; if it is one bad batch, skip it."
        )
        if cold and not ctx.lr_logged:
            # Only a header or config line states the LR: a warmup would not show.
            message = (
                f"Loss rose to {fmt_num(x)} in the first steps, {what} (the log has no "
                "per-step LR, so whether the run warms up is not known)."
            )
            suggestion = (
                "Without a warmup, add one (2-5% of the steps); with one, the peak LR is "
                f"likely too high: {lr_change_text(ctx.lr, factor)}."
            )
        elif cold:
            message = (
                f"Loss rose to {fmt_num(x)} in the first steps, {what}, at a constant LR: "
                "the classic missing-warmup spike."
            )
            suggestion = (
                "Add an LR warmup of about 2-5% of the steps (100-1000 steps for "
                f"transformers) and/or {lr_change_text(ctx.lr, factor)}."
            )
        if decayed:
            lr, peak = ctx.lr or 0.0, ctx.lr_max or 1.0
            suggestion = (
                f"The LR is already decayed to {fmt_lr(lr)} ({lr / peak:.0%} of its peak): "
                "lowering it will not help; clip gradients (max_norm=1.0) or skip bad batches."
            )
        return message, suggestion


def _log_diff_sigma(values: list[float]) -> float:
    """Robust sigma of log(x) from successive differences (IQR / 1.349 / sqrt 2)."""
    if len(values) < 5 or min(values) <= 0:
        return math.nan
    logs = [math.log(v) for v in values]
    d = sorted(b - a for a, b in itertools.pairwise(logs))
    n = len(d)
    q1, q3 = d[(n - 1) // 4], d[(3 * (n - 1)) // 4]
    return (q3 - q1) / 1.349 / math.sqrt(2.0)
