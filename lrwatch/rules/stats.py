"""Incremental statistics the rules share: O(1) amortized per value, bounded memory.

Every structure here holds a fixed number of values (a window), so the engine can run on a
10-million-record log or on every live batch without ever rescanning history.
"""

from __future__ import annotations

import itertools
import math
from bisect import bisect_left, insort
from collections import deque


class Ema:
    """Bias-corrected exponential moving average (as Adam and fastai's LR finder smooth).

    ``beta`` is the weight of the past per logged point: 0.9 remembers about 10 points.
    """

    __slots__ = ("_avg", "_corr", "beta", "n")

    def __init__(self, beta: float) -> None:
        self.beta = beta
        self._avg = 0.0
        self._corr = 1.0
        self.n = 0

    def add(self, x: float) -> float:
        """Add one value; returns the new smoothed value."""
        self._avg = self.beta * self._avg + (1.0 - self.beta) * x
        self._corr *= self.beta
        self.n += 1
        return self.value

    @property
    def value(self) -> float:
        """The smoothed value (NaN before the first value)."""
        if self.n == 0:
            return math.nan
        return self._avg / (1.0 - self._corr) if self._corr < 1.0 else self._avg


class Window:
    """The last ``size`` values, also kept sorted: median and quartiles in O(1) reads.

    Insertion and removal are ``O(size)`` memmoves in C (size is a small constant), which is
    cheaper in practice than a two-heap median for windows of tens of points.
    """

    __slots__ = ("_fifo", "_log_sigma", "_median", "_sigma", "_sorted", "size")

    def __init__(self, size: int) -> None:
        self.size = max(1, int(size))
        self._fifo: deque[float] = deque()
        self._sorted: list[float] = []
        self._median: float | None = None  # cached until the next add
        self._sigma: float | None = None
        self._log_sigma: float | None = None

    def __len__(self) -> int:
        return len(self._fifo)

    def add(self, x: float) -> None:
        """Add a finite value, dropping the oldest when full."""
        if len(self._fifo) == self.size:
            old = self._fifo.popleft()
            del self._sorted[bisect_left(self._sorted, old)]
        self._fifo.append(x)
        insort(self._sorted, x)
        self._median = self._sigma = self._log_sigma = None

    def clear(self) -> None:
        self._fifo.clear()
        self._sorted.clear()
        self._median = self._sigma = self._log_sigma = None

    def quantile(self, q: float) -> float:
        """Linear-interpolated quantile ``q`` in [0, 1] (NaN when empty)."""
        s = self._sorted
        if not s:
            return math.nan
        pos = q * (len(s) - 1)
        lo = int(pos)
        hi = min(lo + 1, len(s) - 1)
        return s[lo] + (s[hi] - s[lo]) * (pos - lo)

    @property
    def median(self) -> float:
        if self._median is None:
            s = self._sorted
            n = len(s)
            if n % 2:
                self._median = s[n // 2]
            else:
                self._median = 0.5 * (s[n // 2 - 1] + s[n // 2]) if n else math.nan
        return self._median

    @property
    def sigma(self) -> float:
        """Robust standard deviation: inter-quartile range / 1.349 (exact for a normal)."""
        if self._sigma is None:
            self._sigma = (self.quantile(0.75) - self.quantile(0.25)) / 1.349
        return self._sigma

    @property
    def log_sigma(self) -> float:
        """Robust standard deviation of log(values) (NaN unless the quartiles are > 0)."""
        if self._log_sigma is None:
            lo, hi = self.quantile(0.25), self.quantile(0.75)
            self._log_sigma = math.log(hi / lo) / 1.349 if lo > 0 else math.nan
        return self._log_sigma

    @property
    def last(self) -> float:
        return self._fifo[-1] if self._fifo else math.nan

    def values(self) -> list[float]:
        """The values in arrival order (a copy; O(size))."""
        return list(self._fifo)

    def recent_min(self, k: int) -> float:
        """Lowest of the ``k`` newest values (NaN with fewer than k)."""
        fifo = self._fifo
        if len(fifo) < k:
            return math.nan
        return min(fifo[-i] for i in range(1, k + 1))

    def recent_median(self, k: int) -> float:
        """Median of the ``k`` newest values (k small: a short despiking filter)."""
        fifo = self._fifo
        k = min(k, len(fifo))
        if k == 0:
            return math.nan
        vals = sorted([fifo[-i] for i in range(1, k + 1)])
        mid = k // 2
        return vals[mid] if k % 2 else 0.5 * (vals[mid - 1] + vals[mid])


class Autocorr:
    """Rolling lag-1 autocorrelation over the last ``size`` values.

    Running sums make each update O(1); they are rebuilt from the window every ``size * 16``
    updates so float cancellation cannot build up over millions of points. Values are shifted
    by the first value seen so large offsets (a loss near 10) do not cost precision.
    """

    __slots__ = ("_count", "_pairs", "_prev", "_shift", "_sp", "_sx", "_sxx", "_vals", "size")

    def __init__(self, size: int) -> None:
        self.size = max(3, int(size))
        self._vals: deque[float] = deque()
        self._pairs: deque[float] = deque()
        self._shift: float | None = None
        self._sx = self._sxx = self._sp = 0.0
        self._count = 0

    def __len__(self) -> int:
        return len(self._vals)

    def add(self, x: float) -> None:
        if self._shift is None:
            self._shift = x
        x -= self._shift
        if self._vals:
            p = self._vals[-1] * x
            self._pairs.append(p)
            self._sp += p
        self._vals.append(x)
        self._sx += x
        self._sxx += x * x
        if len(self._vals) > self.size:
            old = self._vals.popleft()
            self._sx -= old
            self._sxx -= old * old
            self._sp -= self._pairs.popleft()
        self._count += 1
        if self._count % (self.size * 4) == 0:
            self._rebuild()

    def _rebuild(self) -> None:
        # Re-centre on the window mean (a loss drifts from 10 to 2: a stale shift would make
        # the sums large and their differences imprecise) and recompute the sums exactly.
        vals = self._vals
        mean = math.fsum(vals) / len(vals)
        self._shift = (self._shift or 0.0) + mean
        centred = [v - mean for v in vals]
        self._vals = deque(centred)
        self._pairs = deque(a * b for a, b in itertools.pairwise(centred))
        self._sx = math.fsum(centred)
        self._sxx = math.fsum(v * v for v in centred)
        self._sp = math.fsum(self._pairs)

    def clear(self) -> None:
        self._vals.clear()
        self._pairs.clear()
        self._shift = None
        self._sx = self._sxx = self._sp = 0.0

    @property
    def value(self) -> float:
        """Lag-1 autocorrelation (NaN with fewer than 3 values or zero variance)."""
        n = len(self._vals)
        if n < 3:
            return math.nan
        mean = self._sx / n
        var = self._sxx / n - mean * mean
        if var <= 1e-300:
            return math.nan
        # Means of the leading and lagging n-1 values: using the full mean for both would
        # add an error proportional to (first - last) * offset, large on a trending loss.
        m_lag = (self._sx - self._vals[-1]) / (n - 1)
        m_lead = (self._sx - self._vals[0]) / (n - 1)
        cov = self._sp / (n - 1) - m_lag * m_lead
        return max(-1.0, min(1.0, cov / var))


class Lagged:
    """A fixed-length delay line: the value added ``size`` points ago."""

    __slots__ = ("_buf", "size")

    def __init__(self, size: int) -> None:
        self.size = max(1, int(size))
        self._buf: deque[float] = deque(maxlen=self.size + 1)

    def __len__(self) -> int:
        return len(self._buf)

    def add(self, x: float) -> None:
        self._buf.append(x)

    def clear(self) -> None:
        self._buf.clear()

    def ago(self, k: int) -> float:
        """The value ``k`` points before the newest (NaN when not that old yet)."""
        if k >= len(self._buf):
            return math.nan
        return self._buf[-1 - k]

    @property
    def full(self) -> bool:
        return len(self._buf) > self.size


class Alternation:
    """Rolling count of sign alternations of successive differences, and their mean size.

    Over the last ``size`` values: how many of the consecutive pairs of differences change
    sign (a turning point), and the mean |difference|. For i.i.d. noise a turning point has
    probability 2/3 (the turning-point test), so a fraction near 1 is a period-2 bounce no
    matter how the level trends. A zero difference is never an alternation.
    """

    __slots__ = ("_abs", "_count", "_diffs", "_flips", "_last", "_prev_sign", "_turns", "size")

    def __init__(self, size: int) -> None:
        self.size = max(4, int(size))
        self._diffs: deque[float] = deque()  # |difference|, the last size - 1
        self._flips: deque[int] = deque()  # 1 per turning point, the last size - 2
        self._abs = 0.0
        self._turns = 0
        self._last: float | None = None
        self._prev_sign = 0
        self._count = 0

    def __len__(self) -> int:
        """Values covered (differences + 1)."""
        return len(self._diffs) + 1 if self._last is not None else 0

    def add(self, x: float) -> None:
        last, self._last = self._last, x
        if last is None:
            return
        d = x - last
        sign = (d > 0) - (d < 0)
        self._diffs.append(abs(d))
        self._abs += abs(d)
        if len(self._diffs) > self.size - 1:
            self._abs -= self._diffs.popleft()
        self._count += 1
        if self._count % 1024 == 0:
            self._abs = math.fsum(self._diffs)  # no drift from a large value long gone
        flip = 1 if sign * self._prev_sign < 0 else 0
        self._prev_sign = sign
        if len(self._diffs) >= 2:
            self._flips.append(flip)
            self._turns += flip
            if len(self._flips) > self.size - 2:
                self._turns -= self._flips.popleft()

    def clear(self) -> None:
        self._diffs.clear()
        self._flips.clear()
        self._abs, self._turns, self._last, self._prev_sign = 0.0, 0, None, 0

    @property
    def fraction(self) -> float:
        """Turning points per pair of successive differences (NaN before any pair)."""
        n = len(self._flips)
        return self._turns / n if n else math.nan

    @property
    def mean_abs_diff(self) -> float:
        """Mean |successive difference| over the window (NaN before two values)."""
        n = len(self._diffs)
        if n == 0:
            return math.nan
        return max(self._abs, 0.0) / n

    def z(self) -> float:
        """z-score of the turning-point count against i.i.d. noise (mean 2(n-2)/3, variance
        (16n-29)/90 for n values)."""
        n = len(self)
        if n < 4:
            return math.nan
        var = (16 * n - 29) / 90.0
        return (self._turns - 2.0 * (n - 2) / 3.0) / math.sqrt(var)


class Trend:
    """Rolling least-squares slope of the last ``size`` values (per point), O(1) per value.

    Sums are kept against the window's own first index, so they stay small however long the
    run; they are rebuilt exactly every ``16 × size`` values so float error cannot build up.
    """

    __slots__ = ("_count", "_sk", "_sy", "_vals", "size")

    def __init__(self, size: int) -> None:
        self.size = max(3, int(size))
        self._vals: deque[float] = deque()
        self._sy = 0.0  #: Σ y
        self._sk = 0.0  #: Σ k·y, k = 0 for the oldest value in the window
        self._count = 0

    def __len__(self) -> int:
        return len(self._vals)

    def add(self, y: float) -> None:
        if len(self._vals) == self.size:
            old = self._vals.popleft()
            self._sy -= old
            self._sk -= self._sy  # every remaining value's index drops by one
        self._sk += len(self._vals) * y
        self._sy += y
        self._vals.append(y)
        self._count += 1
        if self._count % (16 * self.size) == 0:
            self._sy = math.fsum(self._vals)
            self._sk = math.fsum(k * v for k, v in enumerate(self._vals))

    def clear(self) -> None:
        self._vals.clear()
        self._sy = self._sk = 0.0

    @property
    def mean(self) -> float:
        n = len(self._vals)
        return self._sy / n if n else math.nan

    @property
    def slope(self) -> float:
        """Fitted change per point (NaN with fewer than 3 values)."""
        n = len(self._vals)
        if n < 3:
            return math.nan
        sk_mean = (n - 1) / 2.0
        sxx = n * (n * n - 1) / 12.0
        return (self._sk - sk_mean * self._sy) / sxx

    def slope_sigma(self, noise: float) -> float:
        """Standard deviation of :attr:`slope` for i.i.d. point noise ``noise``."""
        n = len(self._vals)
        return noise * math.sqrt(12.0 / (n * (n * n - 1))) if n >= 3 else math.nan
