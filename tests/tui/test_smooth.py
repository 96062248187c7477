from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lrwatch.store import Series
from lrwatch.tui.smooth import EmaCache, ema_debiased


def reference(values: list[float], beta: float) -> list[float]:
    m, out = 0.0, []
    for t, x in enumerate(values, start=1):
        m = beta * m + (1 - beta) * x
        out.append(m / (1 - beta**t))
    return out


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=3000),
    st.sampled_from([0.6, 0.9, 0.99, 0.995]),
)
def test_vectorised_ema_matches_the_loop(values: list[float], beta: float) -> None:
    got, _, count = ema_debiased(np.array(values), beta)
    assert count == len(values)
    np.testing.assert_allclose(got, reference(values, beta), rtol=1e-9, atol=1e-9)


def test_incremental_equals_one_shot_and_skips_nonfinite() -> None:
    s = Series("loss")
    cache = EmaCache()
    vals = [3.0, 2.5, math.nan, 2.0, math.inf, 1.5, 1.4] * 50
    for i, v in enumerate(vals):
        s.append(i, v)
        if i % 37 == 0:
            cache.smoothed("k", s, 0.9)
    out = cache.smoothed("k", s, 0.9)
    finite = [v for v in vals if math.isfinite(v)]
    np.testing.assert_allclose(out.values, reference(finite, 0.9), rtol=1e-12)
    assert len(out) == len(finite)
    assert not np.isin(out.steps, [2, 4]).any()


def test_first_point_is_not_biased_towards_zero() -> None:
    got, _, _ = ema_debiased(np.array([5.0, 5.0]), 0.99)
    np.testing.assert_allclose(got, [5.0, 5.0])
