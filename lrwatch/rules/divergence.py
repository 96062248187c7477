"""Divergence: the train loss climbs back up, far above its best or its start."""

from __future__ import annotations

import math

from lrwatch.rules.base import Rule
from lrwatch.rules.config import DivergenceConfig
from lrwatch.rules.context import RunContext
from lrwatch.rules.finding import clamp01, fmt_num, fmt_ratio, lr_change_text, scale_action
from lrwatch.rules.reporter import Reporter


class Divergence(Rule):
    """The loss level climbs back up: far above its best or its start (error), or most of
    the progress lost (warning). See docs/rules.md for the criteria and why."""

    symptom = "divergence"

    def __init__(self, ctx: RunContext, reporter: Reporter, config: DivergenceConfig) -> None:
        super().__init__(ctx, reporter)
        self.cfg = config
        self.hot = self.warm = self.calm = self.far = 0
        self.hot_onset = self.warm_onset = 0
        self.pending = False  #: the LR was lowered while the finding was open: awaiting recovery
        self.lowered_step: int | None = None

    def _recovering(self, step: int, line: float, cur: float) -> bool:
        """While awaiting the response to an LR decrease: resolve once the loss is back below
        the recovery line for ``resolve_after`` points. True when that resolved the finding."""
        if self.reporter.active is None:
            self.pending = False
            return False
        self.calm = self.calm + 1 if cur <= line else 0
        if self.calm < self.cfg.resolve_after:
            return False
        self.pending = False
        # A later blow-up is a new episode, not this one coming back.
        self.reporter.resolve(step, "the loss recovered after the LR was lowered", reopenable=False)
        return True

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        self.hot = self.warm = self.far = 0
        f = self.reporter.active
        if direction < 0 and f is not None:
            # The fix was applied: give the run time to respond. The finding stays open until
            # the loss recovers (or goes on as before if it does not); no new one meanwhile.
            self.pending = True
            self.calm = 0
            self.lowered_step = step
            f.evidence = {**f.evidence, "lr_lowered_step": step}
        else:
            self.pending = False  # a new regime (restart, LR raised): judged afresh
            if explicit and direction == 0:
                self.reporter.resolve(step, "the LR was changed")

    def on_loss(self, step: int, x: float) -> None:
        s, cfg = self.ctx.loss, self.cfg
        cur = s.level
        if self.pending and self._recovering(step, s.recover_line, cur):
            return
        if s.lowered_from == s.lowered_from and (not s.baselined or cur < s.lowered_from):
            # After an LR decrease: the loss is still high but no higher than when the LR was
            # lowered. Its level says nothing yet; its trend (new baselines) will.
            if not s.baselined:
                self.hot = self.warm = 0
                return
        elif self._confirmed_climb(step):
            return
        elif s.nonneg and s.first > 0 and cur >= cfg.start_factor * s.first:
            # Above where the run started (the loss at initialization is about as bad as a
            # model gets): no baseline needed (a blow-up in the first steps, an LR 100× too
            # high), and not benign even during warmup. ``factor`` × makes it an error.
            r0 = cur / s.first
            self._judge(step, cur, r0 >= cfg.factor, True, r0, math.nan, "start")
            return
        if not s.baselined:
            return
        self._against_best(step, cur)

    def _against_best(self, step: int, cur: float) -> None:
        """Judge the level ``cur`` against the best since the baselines: how much of the
        progress it gave back, beyond the level's own noise."""
        s, cfg = self.ctx.loss, self.cfg
        best, progress = s.best, s.start - s.best
        # Progress is real when it exceeds the noise of the raw loss at the best point: on a
        # noisy run near zero a rise is judged against what was learned, not against a
        # lucky low (the ratio alone has no noise floor).
        significant = progress > 0 and progress > 3.0 * s.best_noise
        # The level is a median of k points: its own noise is ~1.25 sigma / sqrt(k). A rise
        # within noise_z of that is the level wandering above a lucky best, not a climb.
        spread = cfg.noise_z * 1.2533 / math.sqrt(s.level_points)
        if s.positive and best > 0 and cur > 0 and s.best_log_noise > 0:
            # Batch noise is multiplicative: on the log scale its heavy tail is tamed.
            clear = math.log(cur / best) > spread * s.best_log_noise
        else:
            clear = cur - best > spread * s.best_noise
        # How much of the progress the level has given back, noise or not: a level inside
        # the noise floor is no evidence of a rise, but no evidence of recovery either.
        given_back = (cur - best) / progress if significant else 0.0
        lost = given_back if clear else 0.0
        ratio = cur / best if s.positive and best > 0 else math.nan
        far = ratio >= cfg.factor and lost >= cfg.lost_fraction
        # Far above a best (not above the start) must hold for as long as the level's own
        # window: the minimum of a noisy level is a lucky low, and a burst of hard batches
        # shorter than the window moves the level without being a trend.
        self.far = self.far + 1 if far else 0
        over = lost >= cfg.error_lost or self.far >= s.level_points
        steep = False
        if self.ctx.lr_rising:
            # Warmup: a rising LR may cost some progress; losing all of it is an error. Most
            # of it is no bump either: a warning as soon as an error would be, because while
            # the LR keeps rising a blow-up only gets worse (a warning, not an error: after
            # warmup the slower rules below judge it again).
            over = lost >= cfg.error_lost
            rising = steep = lost >= cfg.steep_lost
        else:
            rising = lost >= cfg.lost_fraction
        self._judge(step, cur, over, rising, ratio, lost, "best", given_back, steep)

    def _confirmed_climb(self, step: int) -> bool:
        """Faster than the 7-point median: the last ``confirm_points`` raw points are *all*
        back above the start after real progress (or all ≥ ``factor`` × the first loss).
        Each one beats the start by more than the progress, itself > 3 noise sigmas: for
        batch noise that is a < 1e-3 event per point, and k in a row is a climb, not noise.
        An error at once (the k points are the confirmation). True when it reported."""
        cfg, s = self.cfg, self.ctx.loss
        k = cfg.confirm_points
        if k <= 0 or not s.run_start:
            # After an LR jump (warm restart, decay) a bump of unknown length is expected:
            # only the median-based criteria judge there.
            return False
        low = s.win.recent_min(k)
        if low != low:
            return False
        first_ok = s.nonneg and s.first > 0
        if first_ok and low >= cfg.factor * s.first:
            self._hot_now(step)
            self._judge(step, s.level, True, True, low / s.first, math.nan, "start")
            return True
        if not s.baselined or s.lowered_from == s.lowered_from:
            return False
        if len(s.diffs) < self.ctx.config.loss_spike.min_points:
            return False  # the noise (hence "real progress") is not known well enough yet
        progress = s.start - s.best
        if not (progress > 0 and progress > 3.0 * s.best_noise and low > s.start):
            return False
        ratio = s.level / s.best if s.positive and s.best > 0 else math.nan
        self._hot_now(step)
        self._judge(step, s.level, True, True, ratio, (low - s.best) / progress, "best")
        return True

    def _hot_now(self, step: int) -> None:
        """Make the next :meth:`_judge` report at once (the k points were the patience)."""
        if self.hot == 0:
            self.hot_onset = self.warm_onset = step
            self.warm = max(self.warm, 1)
        self.hot = max(self.hot, self.cfg.patience - 1)

    def _judge(
        self,
        step: int,
        cur: float,
        over: bool,
        rising: bool,
        ratio: float,
        lost: float,
        ref: str,
        given_back: float = math.inf,
        steep: bool = False,
    ) -> None:
        cfg = self.cfg
        self.hot = self.hot + 1 if over else 0
        self.warm = self.warm + 1 if over or rising else 0
        if self.hot == 1:
            self.hot_onset = step
        if self.warm == 1:
            self.warm_onset = step
        # Above the start, or most of the progress lost, needs no long patience: a healthy run
        # never goes back there.
        warm_patience = cfg.patience if ref == "start" or steep else cfg.rise_patience
        if self.hot >= cfg.patience:
            self._report(step, "error", self.hot_onset, cur, ratio, lost, ref)
        elif self.warm >= warm_patience:
            self._report(step, "warning", self.warm_onset, cur, ratio, lost, ref)
        elif self.reporter.active is not None and not self.pending:
            # Hysteresis: resolve only well below the warning line, or the finding flaps; and
            # only with the level back near where the run was before it blew up (with no
            # significant progress to give back, "given back" says nothing about that).
            clear = given_back < 0.5 * cfg.lost_fraction and ref == "best" and self._near_start(cur)
            self.calm = self.calm + 1 if clear else 0
            if self.calm >= cfg.resolve_after:
                self.reporter.resolve(step, "the loss came back down")

    def _near_start(self, cur: float) -> bool:
        """The level is back near its pre-divergence level: for non-negative losses below
        the geometric midway between the start and ``start_factor`` × the first loss."""
        s = self.ctx.loss
        if not (s.nonneg and s.first > 0 and s.start == s.start):
            return True  # no scale to judge by: the progress-based test alone decides
        return (
            cur <= math.sqrt(max(s.start, 0.0) * self.cfg.start_factor * s.first) or cur <= s.start
        )

    def _report(
        self, step: int, sev: str, onset: int, cur: float, ratio: float, lost: float, ref: str
    ) -> None:
        self.calm = 0
        if self.touch(step, sev):
            return
        s, lr = self.ctx.loss, self.ctx.lr
        what = self._what(ratio, lost, ref)
        self.reporter.report(
            step,
            sev,
            onset,
            evidence={
                "loss_level": cur,
                "level_points": s.level_points,
                "best_loss": s.best,
                "best_step": s.best_step,
                "start_loss": s.start,
                "first_loss": s.first,
                "ratio_to_best": ratio,
                "reference": ref,
                "progress_lost": lost,
                "factor": self.cfg.factor,
                "lr": lr,
                **({"lr_lowered_step": self.lowered_step} if self.pending else {}),
            },
            message=f"Loss is diverging: {fmt_num(cur)} is {what}.",
            suggestion=f"LR too high: {lr_change_text(lr, 0.1)}; if the loss does not recover, "
            f"restart from the checkpoint near step {s.best_step}.",
            action=scale_action(0.1),
            confidence=clamp01(
                0.6
                + 0.1 * (ratio / self.cfg.factor if ratio == ratio else 0.0)
                + 0.2 * min(lost if lost == lost else 1.0, 1.0)
            ),
        )

    def _what(self, ratio: float, lost: float, ref: str) -> str:
        """How far the level is from its reference, for the message."""
        s = self.ctx.loss
        if ref == "start":
            what = f"{fmt_ratio(ratio)} the first logged loss ({fmt_num(s.first)})"
        elif lost >= 1.0:
            what = (
                f"back above its start ({fmt_num(s.start)}); best was {fmt_num(s.best)} "
                f"at step {s.best_step}"
            )
        elif ratio == ratio:
            what = (
                f"{fmt_ratio(ratio)} its best ({fmt_num(s.best)} at step {s.best_step}), "
                f"{lost:.0%} of the progress lost"
            )
        else:
            what = f"{lost:.0%} of the progress since step {s.best_step} lost"
        return what
