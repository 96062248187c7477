"""Min/max summary pyramid over a growing float64 array: range min/max in O(levels), not O(n).

Level 1 summarises blocks of 64 raw values, level 2 blocks of 64 level-1 entries (4096 raw
values), and so on until a level has fewer than 64 entries. Each entry keeps the min and max
of the finite values in its block (``+inf`` / ``-inf`` when there are none) and a flag byte
saying whether a NaN or an infinity fell in it. Only complete blocks are summarised, so the
pyramid is brought up to date with the raw array in O(new points) (:meth:`Pyramid.sync`).

A range query ``[a, e)`` reads at most 63 raw values at each end and at most 63 entries at
each end of every level above, so reducing a series to C columns costs O(C · levels · 64)
whatever the number of points. Queries are vectorised over many ranges at once.

Memory: about 17 / 63 bytes per point (one float64 min, one float64 max, one flag byte per
64 points, plus the levels above).
"""

from __future__ import annotations

import numpy as np

FANOUT = 64
_SHIFT = 6
FLAG_NAN = 1
FLAG_INF = 2
_WINDOW = np.arange(FANOUT - 1, dtype=np.int64)
#: Raw values summarised per vectorised step of sync (bounds its temporary memory).
_SYNC_CHUNK = FANOUT * 4096


class _Level:
    """One summary level: growable min / max / flag arrays."""

    __slots__ = ("fl", "mn", "mx", "n")

    def __init__(self) -> None:
        self.n = 0
        self.mn = np.empty(FANOUT, dtype=np.float64)
        self.mx = np.empty(FANOUT, dtype=np.float64)
        self.fl = np.empty(FANOUT, dtype=np.uint8)

    def extend(self, mn: np.ndarray, mx: np.ndarray, fl: np.ndarray) -> None:
        k = len(mn)
        need = self.n + k
        if need > len(self.mn):
            cap = max(need, len(self.mn) * 2)
            for attr in ("mn", "mx", "fl"):
                old = getattr(self, attr)
                new = np.empty(cap, dtype=old.dtype)
                new[: self.n] = old[: self.n]
                setattr(self, attr, new)
        sl = slice(self.n, need)
        self.mn[sl] = mn
        self.mx[sl] = mx
        self.fl[sl] = fl
        self.n = need


def summarise_raw(block: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Min / max of the finite values and NaN/Inf flags of each row of a 2-D array."""
    finite = np.isfinite(block)
    mn = np.where(finite, block, np.inf).min(axis=1)
    mx = np.where(finite, block, -np.inf).max(axis=1)
    fl = np.isnan(block).any(axis=1).astype(np.uint8)
    fl |= np.isinf(block).any(axis=1).astype(np.uint8) << 1
    return mn, mx, fl


class Pyramid:
    """Summary levels over one raw float64 array that only ever grows at the end."""

    __slots__ = ("levels",)

    def __init__(self) -> None:
        self.levels: list[_Level] = []

    def reset(self) -> None:
        """Forget every summary (the raw array was rewritten, not appended to)."""
        self.levels = []

    def sync(self, values: np.ndarray) -> None:
        """Summarise the complete blocks of ``values`` not summarised yet: O(new points)."""
        target = len(values) >> _SHIFT
        if target == 0:
            return
        if not self.levels:
            self.levels.append(_Level())
        first = self.levels[0]
        while first.n < target:
            stop = min(target, first.n + _SYNC_CHUNK // FANOUT)
            block = values[first.n * FANOUT : stop * FANOUT].reshape(-1, FANOUT)
            first.extend(*summarise_raw(block))
        depth = 0
        while self.levels[depth].n >= FANOUT:
            below = self.levels[depth]
            if depth + 1 == len(self.levels):
                self.levels.append(_Level())
            up = self.levels[depth + 1]
            stop = below.n >> _SHIFT
            if stop > up.n:
                sl = slice(up.n * FANOUT, stop * FANOUT)
                up.extend(
                    below.mn[sl].reshape(-1, FANOUT).min(axis=1),
                    below.mx[sl].reshape(-1, FANOUT).max(axis=1),
                    np.bitwise_or.reduce(below.fl[sl].reshape(-1, FANOUT), axis=1),
                )
            depth += 1

    def query(
        self, values: np.ndarray, a: np.ndarray, e: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Finite min, finite max and NaN/Inf flags of ``values[a[i]:e[i]]`` for every i.

        Empty ranges give ``(+inf, -inf, 0)``. Syncs the pyramid with ``values`` first.
        """
        self.sync(values)
        k = len(a)
        mn = np.full(k, np.inf)
        mx = np.full(k, -np.inf)
        fl = np.zeros(k, dtype=np.uint8)
        a = np.asarray(a, dtype=np.int64)
        e = np.asarray(e, dtype=np.int64)
        for depth in range(len(self.levels) + 1):
            if not (e > a).any():
                break
            if depth == len(self.levels):
                # Top level: fewer than 64 entries, so the whole range fits one window.
                windows = [(a, e)]
                nxt = None
            else:
                up_a = (a + FANOUT - 1) >> _SHIFT
                up_e = e >> _SHIFT
                cut = np.minimum(e, up_a << _SHIFT)
                windows = [(a, cut), (np.maximum(cut, up_e << _SHIFT), e)]
                nxt = (up_a, np.maximum(up_a, up_e))
            self._scan(depth, values, windows, mn, mx, fl)
            if nxt is None:
                break
            a, e = nxt
        return mn, mx, fl

    def _scan(
        self,
        depth: int,
        values: np.ndarray,
        windows: list[tuple[np.ndarray, np.ndarray]],
        mn: np.ndarray,
        mx: np.ndarray,
        fl: np.ndarray,
    ) -> None:
        """Fold windows (each under 64 long) of level ``depth`` (0 = raw) into mn/mx/fl."""
        idx = np.concatenate([s[:, None] + _WINDOW for s, _ in windows], axis=1)
        ends = np.concatenate(
            [np.broadcast_to(t[:, None], (len(t), len(_WINDOW))) for _, t in windows], axis=1
        )
        mask = idx < ends
        size = len(values) if depth == 0 else self.levels[depth - 1].n
        if size == 0:
            return
        np.minimum(idx, size - 1, out=idx)
        if depth == 0:
            v = values[idx]
            finite = np.isfinite(v) & mask
            np.minimum(mn, np.where(finite, v, np.inf).min(axis=1), out=mn)
            np.maximum(mx, np.where(finite, v, -np.inf).max(axis=1), out=mx)
            fl |= (np.isnan(v) & mask).any(axis=1).astype(np.uint8)
            fl |= (np.isinf(v) & mask).any(axis=1).astype(np.uint8) << 1
        else:
            lv = self.levels[depth - 1]
            np.minimum(mn, np.where(mask, lv.mn[idx], np.inf).min(axis=1), out=mn)
            np.maximum(mx, np.where(mask, lv.mx[idx], -np.inf).max(axis=1), out=mx)
            fl |= np.bitwise_or.reduce(np.where(mask, lv.fl[idx], 0).astype(np.uint8), axis=1)
