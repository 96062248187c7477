"""Rules on the train loss: divergence, spikes, oscillation, slow progress, plateaus."""

from __future__ import annotations

import itertools
import math

from lrwatch.rules.base import Progress, Rule, rel
from lrwatch.rules.finding import (
    clamp01,
    fmt_lr,
    fmt_num,
    fmt_ratio,
    lr_change_text,
    scale_action,
    set_action,
)
from lrwatch.rules.stats import Alternation, Autocorr, Lagged, Trend


class Divergence(Rule):
    """The loss level climbs back up: far above its best or its start (error), or most of
    the progress lost (warning). See docs/rules.md for the criteria and why."""

    symptom = "divergence"

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine)
        self.cfg = engine.config.divergence
        self.hot = self.warm = self.calm = self.far = 0
        self.hot_onset = self.warm_onset = 0
        self.pending = False  #: the LR was lowered while the finding was open: awaiting recovery
        self.lowered_step: int | None = None

    def _recovering(self, step: int, line: float, cur: float) -> bool:
        """While awaiting the response to an LR decrease: resolve once the loss is back below
        the recovery line for ``resolve_after`` points. True when that resolved the finding."""
        if self.active is None:
            self.pending = False
            return False
        self.calm = self.calm + 1 if cur <= line else 0
        if self.calm < self.cfg.resolve_after:
            return False
        self.pending = False
        self.resolve(step, "the loss recovered after the LR was lowered")
        self.closed = None  # a later blow-up is a new episode, not this one coming back
        return True

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        self.hot = self.warm = self.far = 0
        if direction < 0 and self.active is not None:
            # The fix was applied: give the run time to respond. The finding stays open until
            # the loss recovers (or goes on as before if it does not); no new one meanwhile.
            self.pending = True
            self.calm = 0
            self.lowered_step = step
            self.active.evidence = {**self.active.evidence, "lr_lowered_step": step}
        else:
            self.pending = False  # a new regime (restart, LR raised): judged afresh
            if explicit and direction == 0:
                self.resolve(step, "the LR was changed")

    def on_loss(self, step: int, x: float) -> None:
        s, cfg = self.engine.loss, self.cfg
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
        if self.engine.lr_rising:
            # Warmup: a rising LR may cost some progress; only losing all of it counts.
            over = lost >= cfg.error_lost
            rising = False
        else:
            rising = lost >= cfg.lost_fraction
        self._judge(step, cur, over, rising, ratio, lost, "best", given_back)

    def _confirmed_climb(self, step: int) -> bool:
        """Faster than the 7-point median: the last ``confirm_points`` raw points are *all*
        back above the start after real progress (or all ≥ ``factor`` × the first loss).
        Each one beats the start by more than the progress, itself > 3 noise sigmas: for
        batch noise that is a < 1e-3 event per point, and k in a row is a climb, not noise.
        An error at once (the k points are the confirmation). True when it reported."""
        cfg, s = self.cfg, self.engine.loss
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
        if len(s.diffs) < self.engine.config.loss_spike.min_points:
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
    ) -> None:
        cfg = self.cfg
        self.hot = self.hot + 1 if over else 0
        self.warm = self.warm + 1 if over or rising else 0
        if self.hot == 1:
            self.hot_onset = step
        if self.warm == 1:
            self.warm_onset = step
        # Above the start needs no long patience: a healthy run never goes back there.
        warm_patience = cfg.patience if ref == "start" else cfg.rise_patience
        if self.hot >= cfg.patience:
            self._report(step, "error", self.hot_onset, cur, ratio, lost, ref)
        elif self.warm >= warm_patience:
            self._report(step, "warning", self.warm_onset, cur, ratio, lost, ref)
        elif self.active is not None and not self.pending:
            # Hysteresis: resolve only well below the warning line, or the finding flaps; and
            # only with the level back near where the run was before it blew up (with no
            # significant progress to give back, "given back" says nothing about that).
            clear = given_back < 0.5 * cfg.lost_fraction and ref == "best" and self._near_start(cur)
            self.calm = self.calm + 1 if clear else 0
            if self.calm >= cfg.resolve_after:
                self.resolve(step, "the loss came back down")

    def _near_start(self, cur: float) -> bool:
        """The level is back near its pre-divergence level: for non-negative losses below
        the geometric midway between the start and ``start_factor`` × the first loss."""
        s = self.engine.loss
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
        s, lr = self.engine.loss, self.engine.lr
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
        self.report(
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


class LossSpike(Rule):
    """A point far above the rolling median (robust z-score), grouped into episodes."""

    symptom = "loss_spike"

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine)
        self.cfg = engine.config.loss_spike
        #: (step, loss) of the highest loss among the run's first ``min_points`` points,
        #: judged once the window is warm (None once judged, or when it cannot be)
        self.peak: tuple[int, float] | None = (0, -math.inf)
        self.count = 0
        self.quiet = 0
        self.biggest = 0.0

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        if direction < 0 and self.active is not None:
            self.resolve(step, "the LR was lowered")

    def check(self, step: int, x: float) -> None:
        """Judge ``x`` against the window before it joins (called before the stats update)."""
        cfg, s = self.cfg, self.engine.loss
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
        if self.engine.shock_left > 0:
            bar = cfg.shock_z  # right after an unprecedented LR jump: the cause is known
        if z >= bar and x - med >= cfg.min_jump * abs(med):
            self._spike(step, x, med, z)
            return
        self.quiet += 1
        f = self.active
        if f is not None:
            if self.quiet == 1 and "recovered" in f.evidence:
                f.evidence["recovered"] = z < 3.0
            if self.quiet > cfg.cooldown:
                self.resolve(step, f"no spike for {cfg.cooldown} points")

    def _early(self, step: int, x: float) -> None:
        """Before the window can judge: a loss many times its first value is a blow-up."""
        s = self.engine.loss
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
        cfg, eng, s = self.cfg, self.engine, self.engine.loss
        peak, self.peak = self.peak, None
        if peak is None or eng.saw_warmup or eng.lr_rising or not s.positive or s.first <= 0:
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
        cfg, eng = self.cfg, self.engine
        if self.active is None:
            self.count, self.biggest = 0, 0.0
        self.count += 1
        self.quiet = 0
        ratio = x / med if med > 0 else math.inf
        # A loss 10× its first value in the first steps means an LR far too high: ÷10.
        factor = 0.1 if early and not cold else 0.5
        self.biggest = max(self.biggest, ratio if eng.loss.positive else z)
        # One spike that recovers needs no action; an episode of several does.
        # A blow-up in the first steps is the classic missing-warmup / LR-too-high symptom.
        sev = "warning" if self.count >= cfg.repeat or early else "info"
        start = eng.points <= 200 and not eng.saw_warmup
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
            f"{lr_change_text(eng.lr, factor)}; if it is one bad batch, skip it."
        )
        if cold:
            message = (
                f"Loss rose to {fmt_num(x)} in the first steps, {what}, at a constant LR: "
                "the classic missing-warmup spike."
            )
            suggestion = (
                "Add an LR warmup of about 2-5% of the steps (100-1000 steps for "
                f"transformers) and/or {lr_change_text(eng.lr, factor)}."
            )
        self.report(
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
                "lr": eng.lr,
            },
            message=message,
            suggestion=suggestion,
            action=scale_action(factor),
            confidence=clamp01(0.4 + 0.1 * self.count + 0.02 * min(z, 20.0)),
        )


def _log_diff_sigma(values: list[float]) -> float:
    """Robust sigma of log(x) from successive differences (IQR / 1.349 / sqrt 2)."""
    if len(values) < 5 or min(values) <= 0:
        return math.nan
    logs = [math.log(v) for v in values]
    d = sorted(b - a for a, b in itertools.pairwise(logs))
    n = len(d)
    q1, q3 = d[(n - 1) // 4], d[(3 * (n - 1)) // 4]
    return (q3 - q1) / 1.349 / math.sqrt(2.0)


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


class SlowProgress(Rule):
    """Loss falls steadily but far too slowly (or not at all) for an LR at its peak."""

    symptom = "slow_progress"

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine)
        self.cfg = engine.config.slow_progress
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
        if direction > 0 and self.active is not None and self.active.symptom == self.symptom:
            # Raising the LR answers "too low"; a stuck_high_lr finding waits for the loss.
            self.resolve(step, "the LR was raised")

    def on_loss(self, step: int, x: float) -> None:
        cfg, eng, s = self.cfg, self.engine, self.engine.loss
        if not s.baselined:
            return
        if math.isnan(self.run_start):
            self.run_start = s.start
        c = s.ema.value
        self.run_best = min(self.run_best, c)
        self.lag.add(c)
        if not self.lag.full or eng.lr_rising or not s.positive or self.run_start <= 0:
            return
        progress = (self.run_start - c) / self.run_start
        learned = self.run_best < self.run_start * (1.0 - cfg.max_progress)
        if self.active is not None:
            if learned:
                self.resolve(step, "the loss is falling faster now")
            return
        if self.done or learned:
            return  # it learned: what follows is divergence's or plateau's business
        if eng.lr is not None and eng.lr_max and eng.lr < cfg.min_lr_fraction * eng.lr_max:
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
        noisy = rel(s.noise, s.win.median) > cfg.max_noise
        large = lr_is_large(eng.optimizer, eng.lr)
        small = lr_is_small(eng.optimizer, eng.lr)
        if steady and not large:
            self._report(step, progress, d1, d2, "steady")
        elif flat and (small or not noisy) and not large:
            self._report(step, progress, d1, d2, "flat")
        elif flat and large:
            self._report(step, progress, d1, d2, "stuck_high_lr")
        elif flat:
            self._report(step, progress, d1, d2, "stuck")

    def _report(self, step: int, progress: float, d1: float, d2: float, kind: str) -> None:
        cfg, eng = self.cfg, self.engine
        lr = eng.lr
        self.done = True
        symptom = self.symptom
        if kind == "stuck_high_lr":
            # No progress at all at an LR already large for the optimizer (Adam-like >= 1e-2,
            # SGD >= 1): at such an LR a too-low LR is implausible; the usual cause is an LR
            # so high the updates bounce around (or kill units) and never descend. Its own
            # id: it is not "too slow" (slow_progress) and the loss is not rising (divergence).
            symptom, sev, action = "stuck_high_lr", "warning", scale_action(0.1)
            message = (
                f"Loss has made no progress ({_pct(progress)} after {cfg.window}+ "
                f"points) at an LR of {fmt_lr(lr or 0)}, already large for "
                f"{eng.optimizer or 'this optimizer'}: the LR is likely too high."
            )
            suggestion = (
                f"LR too high: {lr_change_text(lr, 0.1)}, or run an LR range test "
                "(lrwatch find-lr) to find a working LR."
            )
        elif kind == "stuck":
            # Flat and noisy at its start at a normal LR: a too-high LR looks like this too,
            # so never suggest raising it.
            sev, action = "info", None
            message = (
                f"Loss has made no progress ({_pct(progress)} after {cfg.window}+ "
                "points) and it is noisy, so the LR may be too high as well as too low."
            )
            suggestion = "Run an LR range test (lrwatch find-lr) to find a working LR."
        else:
            how = "has not moved" if kind == "flat" else "falls slowly along a straight line"
            sev, action = "warning", set_action(lr, cfg.factor)
            message = (
                f"Loss {how}: {_pct(progress)} after {cfg.window}+ points, with no sign of "
                "slowing down."
            )
            suggestion = (
                f"LR too low: {lr_change_text(lr, cfg.factor)}, or run an LR range test "
                "(lrwatch find-lr)."
            )
        evidence = {
            "start_loss": self.run_start,
            "loss_smoothed": eng.loss.ema.value,
            "progress": progress,
            "drop_first_half": d1,
            "drop_second_half": d2,
            "window": cfg.window,
            "kind": kind,
            "optimizer": eng.optimizer,
            "lr": lr,
        }
        fields = {
            "evidence": evidence,
            "message": message,
            "suggestion": suggestion,
            "action": action,
            "confidence": clamp01(0.5 + (cfg.max_progress - progress)),
        }
        # Rule.report always uses the rule's own id; the stuck-at-a-large-LR case has its own.
        self.active = eng.report(self, symptom, step, sev, None, fields)


#: LRs above which an optimizer family is rarely stable: a loss that does not move at such an
#: LR is likelier stuck because it is too high, never a reason to raise it further.
_LARGE_LR = {"adaptive": 1e-2, "sgd": 1.0}
#: LRs at or below which a flat loss is blamed on the LR even when batch noise hides whether
#: it moves at all (fine-tuning uses such Adam LRs, but then the loss does move).
_SMALL_LR = {"adaptive": 1e-4, "sgd": 1e-3}
#: LRs below which a plateau is never answered with "lower the LR": already small for the
#: optimizer (plain SGD rarely works below 1e-2, Adam rarely below 1e-5).
_SMALL_FOR_DECAY = {"adaptive": 1e-5, "sgd": 1e-2}
_ADAPTIVE = ("adam", "rmsprop", "adagrad", "lamb", "lion", "nadam", "radam", "adafactor")


def _family(optimizer: str | None) -> str | None:
    name = (optimizer or "").lower()
    if any(k in name for k in _ADAPTIVE):
        return "adaptive"
    return "sgd" if "sgd" in name else None


def lr_is_large(optimizer: str | None, lr: float | None) -> bool:
    """Whether ``lr`` is large for ``optimizer`` (Adam-like ≥ 1e-2, SGD ≥ 1; unknown: ≥ 1)."""
    if lr is None:
        return False
    return lr >= _LARGE_LR[_family(optimizer) or "sgd"]


def lr_is_small(
    optimizer: str | None, lr: float | None, table: dict[str, float] | None = None
) -> bool:
    """Whether ``lr`` is small for a *known* ``optimizer`` (by default Adam-like ≤ 1e-4,
    SGD ≤ 1e-3; ``table`` gives other, exclusive, upper bounds per family)."""
    family = _family(optimizer)
    if lr is None or family is None:
        return False
    return lr <= _SMALL_LR[family] if table is None else lr < table[family]


_METRIC_NAMES = {"loss": "Train loss", "val_loss": "Val loss"}


def _pct(progress: float) -> str:
    """'12% lower than at the start' / '3% higher than at the start'."""
    word = "lower" if progress >= 0 else "higher"
    return f"{abs(progress):.0%} {word} than at the start"


class TrainPlateau(Rule):
    """No significant decline of the train loss over the last ``patience`` points (info)."""

    symptom = "plateau"
    metric = "loss"

    def __init__(self, engine) -> None:  # type: ignore[no-untyped-def]
        super().__init__(engine)
        self.cfg = engine.config.plateau
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
            self.resolve(step, "the LR changed")
            self.cooldown = self.cfg.cooldown

    def on_loss(self, step: int, x: float) -> None:
        # The train loss is judged on the least-squares line through its last ``patience``
        # points: the fitted decline must be relevant (``threshold`` of the level) and real
        # (``z`` sigmas of the fit's own noise, from the point noise). A steady decline
        # hidden in batch noise point by point still shows in the fit; a flat loss whose
        # noise makes lucky new lows does not reset anything.
        s = self.engine.loss
        if not s.baselined or self.engine.lr_rising:
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
        if self.active is not None:
            # Hysteresis: only a clear decline (resolve_factor × the threshold) ends it.
            # Hysteresis: only a clear decline (resolve_factor × the threshold, and real),
            # held for ``hold`` points like the plateau itself, ends it.
            clear = max(self.cfg.resolve_factor * self.cfg.threshold * level, noise_bar)
            self.held = self.held + 1 if decline > clear else 0
            if self.held >= self.cfg.hold:
                self.resolve(step, "the loss is falling again")
                self.cooldown = self.cfg.cooldown
                self.held = 0
            else:
                self.active.last_step = max(self.active.last_step, step)
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
        p.best, p.best_step, p.since = self._level(), self.steps.ago(span), span + 1
        self.held = 0
        self._report(step)

    def _report(self, step: int) -> None:
        eng, p = self.engine, self.progress
        if self.active is None and eng.is_open(self._superseded_by()):
            return  # a more specific finding already explains it
        sev = self._severity()
        decayed = eng.lr is not None and eng.lr_max is not None and eng.lr < 0.5 * eng.lr_max
        small = lr_is_small(eng.optimizer, eng.lr, _SMALL_FOR_DECAY)
        if decayed or small:
            sev = "info"
        if self.touch(step, sev):
            return
        action = None
        if decayed:
            suggestion = (
                f"The LR is already decayed to {fmt_lr(eng.lr or 0)}: consider stopping early."
            )
        elif small:
            # Lowering an LR that is already small for the optimizer would only slow it more;
            # a plateau there may as well be a too-low LR (it saturates early, high).
            suggestion = (
                f"The LR {fmt_lr(eng.lr or 0)} is already small for {eng.optimizer}: do not "
                "lower it; if the loss should go lower, the LR may be too low: run an LR "
                "range test (lrwatch find-lr), or stop if this is good enough."
            )
        elif self._converged():
            suggestion = (
                f"Converged at this LR: decay it (ReduceLROnPlateau-style): "
                f"{lr_change_text(eng.lr, self.cfg.factor)}, or stop."
            )
            action = scale_action(self.cfg.factor)
        else:
            suggestion = (
                "It flattened without a converging curve before it: run an LR range test "
                "(lrwatch find-lr) before changing the LR."
            )
        self.report(
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
                "optimizer": eng.optimizer,
                "lr": eng.lr,
            },
            message=self._message(),
            suggestion=suggestion,
            action=action,
            confidence=clamp01(0.5 + 0.1 * p.since / self._patience()),
        )

    def _clipped(self, x: float, log: bool) -> float:
        """``x`` (or log x) winsorized to 3 robust sigmas around the window's median: a burst
        of spikes at the end of the window must not bend the fitted line flat."""
        s = self.engine.loss
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
        s = self.engine.loss
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
        if self.engine.lr_rising:
            return
        before = self.progress.best
        improved = self.progress.add(step, v)
        if improved and self.active is not None:
            # Hysteresis: noise makes small new bests; only a clear one ends the plateau.
            if v < before - self.cfg.resolve_factor * self._threshold() * abs(before):
                self.resolve(step, "the loss improved again")
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
        return "warning"

    def _superseded_by(self) -> str:
        return "overfitting"
