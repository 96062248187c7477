"""The loss *level* both corpora's labels read a curve by: a centred median, wide enough for
the run's own batch noise. Plain Python (no torch, no lrwatch): the labels must not come from
the code under test."""

from __future__ import annotations

import itertools
import math
from statistics import median

#: The level is a centred median of at least this many points (more on noisy runs) ...
MIN_LEVEL_POINTS = 7
#: ... so that its own relative noise is at most this.
LEVEL_NOISE = 0.10


def level_points(loss: list[float]) -> int:
    """The window of the loss level: 7 points, or more on a noisy run, so that the median's
    own noise stays within ~10% (batch noise is multiplicative: measured on log(loss), from
    successive differences, so a trend does not count as noise). At most a quarter of the run."""
    pos = [v for v in loss if v > 0 and math.isfinite(v)]
    diffs = [math.log(b / a) for a, b in itertools.pairwise(pos)]
    if len(diffs) < 10:
        return MIN_LEVEL_POINTS
    mid = median(diffs)
    sigma = 1.4826 * median(abs(d - mid) for d in diffs) / math.sqrt(2.0)
    k = math.ceil((1.2533 * sigma / LEVEL_NOISE) ** 2)  # the median's noise: 1.25 sigma/sqrt(k)
    return min(max(k, MIN_LEVEL_POINTS), max(len(loss) // 4, MIN_LEVEL_POINTS)) | 1  # odd


def level(loss: list[float], k: int) -> list[float]:
    """The loss level at each point: a centred median over ``k`` points, so a few noisy
    batches near zero do not make a "3x the best" jump, and a sharp jump is still placed at
    the point where it happens."""
    h = k // 2
    return [median(loss[max(0, i - h) : i + h + 1]) for i in range(len(loss))]
