"""Growable step / wall-time columns that one series owns or a group of series shares."""

from __future__ import annotations

import numpy as np

INITIAL_CAPACITY = 256


def grown(arr: np.ndarray, used: int, need: int) -> np.ndarray:
    """``arr`` or a copy with room for ``need`` items (its first ``used`` kept)."""
    cap = len(arr)
    if need <= cap:
        return arr
    cap = max(cap * 2, need)
    new = np.empty(cap, dtype=arr.dtype)
    new[:used] = arr[:used]
    return new


def readonly(view: np.ndarray) -> np.ndarray:
    view.flags.writeable = False
    return view


class Axis:
    """Step and wall-time columns, owned by one series or shared by a group of series."""

    __slots__ = ("breaks", "dead", "n", "nf", "ps", "pt", "steps", "times", "users")

    def __init__(self, capacity: int = INITIAL_CAPACITY) -> None:
        self.steps = np.empty(capacity, dtype=np.int64)
        self.times = np.empty(capacity, dtype=np.float64)
        self.nf = 0  # rows in the numpy columns
        self.n = 0  # rows in all, pending included
        self.ps: list[int] = []
        self.pt: list[float | None] = []
        self.breaks: list[int] = []  # rows whose step is below the previous row's
        self.users = 0
        self.dead = False

    def flush(self) -> None:
        if not self.ps:
            return
        steps = np.array(self.ps, dtype=np.int64)
        times = np.array(self.pt, dtype=np.float64)  # None becomes NaN
        self.ps.clear()
        self.pt.clear()
        self.put(steps, times)

    def put(self, steps: np.ndarray, times: np.ndarray | float) -> None:
        """Append numpy rows (no rows may be pending)."""
        k, nf = len(steps), self.nf
        self.steps = grown(self.steps, nf, nf + k)
        self.times = grown(self.times, nf, nf + k)
        self.steps[nf : nf + k] = steps
        self.times[nf : nf + k] = times
        prev = self.steps[nf - 1] if nf else steps[0]
        down = np.flatnonzero(np.diff(steps, prepend=prev) < 0)
        self.breaks.extend((down + nf).tolist())
        self.nf = self.n = nf + k
