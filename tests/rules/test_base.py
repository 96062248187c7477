"""LossStats: the shared loss statistics the rules judge by."""

from __future__ import annotations

import math

import numpy as np

from lrwatch.rules.loss_stats import MIN_NOISE_POINTS, LossStats


def test_log_step_noise_is_the_batch_noise_not_the_descent() -> None:
    # A fast descent (1.6 -> 0.2 in 40 points) with log-normal batch noise of sigma 0.1: the
    # window's spread of log(loss) is mostly the descent; successive differences are not.
    rng = np.random.default_rng(0)
    loss = np.geomspace(1.6, 0.2, 40) * np.exp(0.1 * rng.standard_normal(40))
    s = LossStats(beta=0.9, window=50, grace=3)
    for i, x in enumerate(loss):
        s.add(i, float(x))
    assert 0.05 < s.log_step_noise < 0.15  # sigma 0.1, from 39 differences
    assert s.log_noise > 3 * s.log_step_noise


def test_log_step_noise_falls_back_to_the_spread_on_a_few_points() -> None:
    s = LossStats(beta=0.9, window=50, grace=3)
    for i, x in enumerate([3.21, 3.22, 3.24, 3.22, 3.17, 3.18, 3.18]):
        s.add(i, x)
    assert MIN_NOISE_POINTS > 6 and s.log_step_noise == s.log_noise
    assert math.isfinite(s.log_step_noise)
