"""Debiased exponential moving average, computed incrementally on full-resolution data.

The smoothed curve must come from every logged point, not from the points a chart happens to
draw: smoothing thinned points gives a different (and width-dependent) curve. ``EmaCache``
keeps one smoothed :class:`~lrwatch.store.Series` per (run, metric) and extends it with the
points that arrived since the last call, so the cost per frame is O(new points).
"""

from __future__ import annotations

import math

import numpy as np

from lrwatch.store import Series

#: Smoothing weights the UI steps through (0 = off).
SMOOTHING_LEVELS = (0.0, 0.6, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995)


def _chunk_len(beta: float) -> int:
    # Within a chunk we scale by beta**-j; keep that below ~1e250, inside float64 range.
    if beta <= 0.0:
        return 1 << 30
    return max(1, min(16384, int(250 / -math.log10(beta))))


def ema_debiased(
    values: np.ndarray, beta: float, m0: float = 0.0, count0: int = 0
) -> tuple[np.ndarray, float, int]:
    """Debiased EMA of finite ``values`` continuing from state ``(m0, count0)``.

    Returns ``(smoothed, m, count)``: ``smoothed[i] = m_i / (1 - beta**t_i)`` where
    ``m_i = beta*m_{i-1} + (1-beta)*x_i`` and ``t_i`` counts points seen so far. Vectorised in
    chunks, so a 10M-point series smooths in well under a second.
    """
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.empty(0), m0, count0
    if beta <= 0.0:
        return x.copy(), float(x[-1]), count0 + n
    out = np.empty(n)
    m = m0
    step = _chunk_len(beta)
    inv, fwd, fwd1 = _powers(beta, min(step, n))
    for a in range(0, n, step):
        chunk = x[a : a + step]
        k = len(chunk)
        ms = np.cumsum(chunk * inv[:k])
        ms *= fwd[:k]
        ms += m * fwd1[:k]
        t0 = count0 + a  # points before this chunk
        if beta**t0 > 1e-17:  # debiasing still changes float64 values
            t = t0 + np.arange(1, k + 1, dtype=np.float64)
            out[a : a + k] = ms / (1.0 - beta**t)
        else:
            out[a : a + k] = ms
        m = float(ms[-1])
    return out, m, count0 + n


def _powers(beta: float, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """beta**-j, (1-beta)*beta**j and beta**(j+1) for j < k: the same for every chunk."""
    j = np.arange(k, dtype=np.float64)
    return beta ** (-j), (1.0 - beta) * beta**j, beta ** (j + 1)


class _EmaState:
    __slots__ = ("beta", "count", "done", "m", "out")

    def __init__(self, beta: float) -> None:
        self.beta = beta
        self.done = 0  # points of the source series consumed
        self.m = 0.0
        self.count = 0
        self.out = Series("ema")


class EmaCache:
    """Incremental smoothed copies of series, keyed by any hashable (e.g. ``(run, metric)``)."""

    def __init__(self) -> None:
        self._states: dict[object, _EmaState] = {}

    def smoothed(self, key: object, series: Series, beta: float) -> Series:
        """The debiased EMA of ``series`` (non-finite points skipped), brought up to date."""
        st = self._states.get(key)
        if st is None or st.beta != beta or st.done > len(series):
            st = self._states[key] = _EmaState(beta)
        n = len(series)
        if st.done < n:
            steps = series.steps[st.done : n]
            vals = series.values[st.done : n]
            ok = np.isfinite(vals)
            if ok.any():
                sm, st.m, st.count = ema_debiased(vals[ok], beta, st.m, st.count)
                if len(st.out):
                    st.out.extend(steps[ok], sm)
                else:  # the first fill (a whole log): take the fresh arrays, no copies
                    st.out = Series.adopt("ema", steps[ok], sm)
            st.done = n
        return st.out

    def clear(self) -> None:
        """Forget every smoothed series (they are rebuilt on demand)."""
        self._states.clear()
