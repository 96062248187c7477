"""The train-loss statistics the loss rules share: level, best, start and batch noise.

The engine owns one :class:`LossStats` per run, feeds it every finite train loss before the
rules see the point, and resets it when the LR jumps; rules read it through
:attr:`lrwatch.rules.context.RunContext.loss`.
"""

from __future__ import annotations

import math

from lrwatch.rules.stats import Ema, Window

#: Successive differences needed before their quartiles are trusted as the batch noise.
MIN_NOISE_POINTS = 20


class LossStats:
    """Train-loss statistics shared by the loss rules, reset when the LR jumps.

    After a reset the first ``grace`` points only warm up the smoothers (a loss bump right
    after an LR jump is expected); then ``start`` and ``best`` are taken from the *level*:
    the median of the last ``level_points`` raw losses. A median, not a mean or an EMA,
    because small-batch losses are heavy-tailed: one hard batch in a few must move neither
    the current level nor the best, or every ratio to the best is noise.
    """

    def __init__(self, beta: float, window: int, grace: int, level_points: int = 7) -> None:
        self.ema = Ema(beta)
        self.win = Window(window)
        self.diffs = Window(window)  #: successive differences: noise without the trend
        self.log_diffs = Window(window)  #: ... of log(loss), while every loss is > 0
        self.level_points = level_points
        self.n = 0  #: finite points in this segment
        self.grace_left = grace
        self.start = math.nan  #: loss level when baselines were taken
        self.best = math.nan  #: lowest level since then
        self.best_step = 0
        self.best_noise = math.nan  #: point-to-point noise (:attr:`noise`) when ``best`` was set
        self.best_log_noise = math.nan  #: :attr:`log_step_noise` when ``best`` was set
        self.positive = True  #: every finite loss of the run so far was > 0
        #: every finite loss was >= 0 (a batch fitted exactly gives 0.0; ratios to the first
        #: loss still mean something, logs do not)
        self.nonneg = True
        self.first = math.nan  #: first finite loss of the run (kept across LR-jump resets)
        self.level = math.nan  #: despiked current loss: median of the last level_points
        self.run_start = False  #: this segment is the start of the run (not after a reset)
        #: After an LR decrease: the level just before it (NaN otherwise). The loss is given
        #: time to respond, and judged by its trend against this, not by its level.
        self.lowered_from = math.nan
        #: ... and the level the loss must fall back to for the run to count as recovered.
        self.recover_line = math.nan

    def reset(self, grace: int, lowered: bool = False) -> None:
        """New baselines (after an LR jump); the run-wide ``first`` and ``positive`` stay.

        ``lowered``: the LR went down. The level before it and a recovery line (halfway back
        to the best, geometrically for positive losses) are kept for the rules to judge the
        response. A second decrease before the first one's grace ran out keeps the first's.
        """
        beta, size, k = self.ema.beta, self.win.size, self.level_points
        positive, nonneg, first = self.positive, self.nonneg, self.first
        level, best = self.level, self.best
        lowered_from, line = self.lowered_from, self.recover_line
        if not (lowered and lowered_from == lowered_from and not self.baselined):
            lowered_from, line = level, _midway(best, level, positive)
        self.__init__(beta, size, grace, k)  # type: ignore[misc]
        self.positive, self.nonneg, self.first = positive, nonneg, first
        if lowered and level == level:
            self.lowered_from, self.recover_line = lowered_from, line

    def add(self, step: int, x: float) -> None:
        self.n += 1
        self.positive = self.positive and x > 0
        self.nonneg = self.nonneg and x >= 0
        if self.first != self.first:  # NaN: nothing seen yet
            self.first = x
            self.run_start = True
        self.ema.add(x)
        if len(self.win):
            last = self.win.last
            self.diffs.add(x - last)
            if self.positive:  # x and every loss before it are > 0
                self.log_diffs.add(math.log(x / last))
        self.win.add(x)
        level = self.level = self.win.recent_median(self.level_points)
        if self.grace_left > 0:
            self.grace_left -= 1
            if self.grace_left == 0:
                # The loss the segment started from; the first logged loss counts too, so a
                # blow-up in the first points does not become the start.
                self.start = self.best = min(level, self.first) if self.run_start else level
                self.best_step = step
                self.best_noise, self.best_log_noise = self.noise, self.log_step_noise
        elif level < self.best:
            self.best, self.best_step = level, step
            self.best_noise, self.best_log_noise = self.noise, self.log_step_noise

    @property
    def baselined(self) -> bool:
        """Baselines (start, best) are set: the rules may judge."""
        return self.grace_left == 0

    @property
    def noise(self) -> float:
        """Robust standard deviation of the raw loss's batch noise over the window.

        Taken from successive differences (sigma of a difference is sqrt(2) × the noise), so
        a falling loss's trend is not mistaken for noise as a plain spread would be.
        """
        if len(self.diffs) < 2:
            return self.win.sigma
        return self.diffs.sigma / math.sqrt(2.0)

    @property
    def log_noise(self) -> float:
        """Robust standard deviation of log(loss) over the window (positive losses only).

        Batch-loss noise is multiplicative (a hard batch costs k× the loss), so on the log
        scale heavy tails become roughly symmetric and one scale-free z-score fits runs
        whose loss is 3.0 and runs whose loss is 0.001.
        """
        return self.win.log_sigma

    @property
    def log_step_noise(self) -> float:
        """Robust standard deviation of log(loss)'s batch noise, from successive differences
        like :attr:`noise`: right after a fast descent the window's plain spread is mostly the
        descent, and a rise judged against it would have to be several times too large.
        From fewer than :data:`MIN_NOISE_POINTS` differences the quartiles are too rough (a
        handful of quiet first steps would make any wobble a "rise"): the window's spread."""
        if len(self.log_diffs) < MIN_NOISE_POINTS:
            return self.log_noise
        return self.log_diffs.sigma / math.sqrt(2.0)


def _midway(best: float, level: float, positive: bool) -> float:
    """Halfway from ``best`` up to ``level``: geometric for positive losses (log scale)."""
    if best != best or not best < level:
        return level
    if positive and best > 0:
        return math.sqrt(best * level)
    return 0.5 * (best + level)
