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


def test_loss_chart_reduces_the_cached_ema_of_every_point() -> None:
    """The smoothed trace is one incrementally extended Series reduced through its pyramid.

    Redraws must not smooth the whole run again (that is O(points) a frame): the trace is
    the same Series object frame after frame, grown only by the new points, and its
    per-column reduction equals the brute-force reduction of a direct EMA of all points.
    """
    from lrwatch.reduction import reduce_points
    from lrwatch.store import MetricStore
    from lrwatch.tui.view import ViewState, loss_spec

    rng = np.random.default_rng(0)
    run = MetricStore().run("r")
    loss = run.metric("loss")
    cache = EmaCache()
    view = ViewState(smoothing=0.95)
    vals = np.exp(-np.arange(30_000) / 5_000) + rng.random(30_000) * 0.2
    vals[1234] = math.nan
    seen = None
    for a in range(0, len(vals), 7_000):
        loss.extend(np.arange(a, min(a + 7_000, len(vals))), vals[a : a + 7_000])
        run.first_step, run.last_step = 0, len(loss) - 1
        spec = loss_spec([run], view, cache)
        smooth = next(t.series for t in spec.traces if t.label.startswith("smoothed"))
        assert seen is None or smooth is seen
        seen = smooth
        steps = np.arange(len(loss))
        ok = np.isfinite(vals[: len(loss)])
        direct = reference(vals[: len(loss)][ok].tolist(), 0.95)
        got = smooth.reduce(300, spec.lo, spec.hi)
        want = reduce_points(steps[ok], np.array(direct), 300, spec.lo, spec.hi)
        np.testing.assert_array_equal(got.x0, want.x0)
        np.testing.assert_allclose(got.ymin, want.ymin, rtol=1e-9)
        np.testing.assert_allclose(got.ymax, want.ymax, rtol=1e-9)
        np.testing.assert_allclose(got.last, want.last, rtol=1e-9)
