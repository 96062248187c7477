"""Min/max reduction of a 10M-point series to 200 columns, and the cost of a live update.

    python benchmarks/bench_store.py [--quick]

Compares Series.reduce (summary pyramid, incremental) with the brute-force reduce_points and
with the cheapest plain-numpy reduction (reshape to 200 rows, nanmin/nanmax: no NaN flags, no
first/last, equal-size columns only). A live update appends 1000 points then reduces; its
cost should not depend on how many points the series already holds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, emit

from lrwatch.store import Series, reduce_points

COLUMNS = 200


def make_series(n: int, seed: int = 0) -> tuple[Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    values = rng.normal(1.0, 0.1, n)
    values[rng.integers(0, n, max(1, n // 100_000))] = np.nan
    s = Series("loss")
    s.extend(np.arange(n), values)
    return s, values


def full_reduction(n: int) -> dict[str, float]:
    s, values = make_series(n)
    t0 = time.perf_counter()
    s.reduce(COLUMNS)  # builds the pyramid for all n points: the one-off cost
    first = time.perf_counter() - t0
    store = best_of(lambda: s.reduce(COLUMNS), 20)
    steps = s.steps
    brute = best_of(lambda: reduce_points(steps, values, COLUMNS), 3)
    usable = n - n % COLUMNS

    def plain() -> None:
        block = values[:usable].reshape(COLUMNS, -1)
        np.nanmin(block, axis=1)
        np.nanmax(block, axis=1)

    numpy_s = best_of(plain, 3)
    return {
        "points": n,
        "store_reduce_ms": store * 1e3,
        "store_first_reduce_ms": first * 1e3,
        "reduce_points_ms": brute * 1e3,
        "numpy_nanmin_nanmax_ms": numpy_s * 1e3,
        "speedup_vs_reduce_points": brute / store,
        "speedup_vs_numpy": numpy_s / store,
    }


def live_update(n: int, rounds: int = 30) -> dict[str, float]:
    """Append 1000 points then reduce, ``rounds`` times, on a series of ``n`` points."""
    s, _ = make_series(n)
    s.reduce(COLUMNS)
    rng = np.random.default_rng(1)
    inc, brute = [], []
    for r in range(rounds):
        start = n + r * 1000
        new_steps = np.arange(start, start + 1000)
        new_vals = rng.normal(1.0, 0.1, 1000)
        t0 = time.perf_counter()
        s.extend(new_steps, new_vals)
        s.reduce(COLUMNS)
        inc.append(time.perf_counter() - t0)
        if r < 5:
            t0 = time.perf_counter()
            reduce_points(s.steps, s.values, COLUMNS)
            brute.append(time.perf_counter() - t0)
    # The reader's path: 1000 one-by-one appends (list appends, moved to numpy in bulk).
    t0 = time.perf_counter()
    base = n + rounds * 1000
    for k in range(1000):
        s.append(base + k, 1.0)
    s.reduce(COLUMNS)
    one_by_one = time.perf_counter() - t0
    return {
        "points": n,
        "append1000_reduce_median_ms": statistics.median(inc) * 1e3,
        "append1000_reduce_max_ms": max(inc) * 1e3,
        "append1000_one_by_one_reduce_ms": one_by_one * 1e3,
        "brute_reduce_median_ms": statistics.median(brute) * 1e3,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1M points instead of 10M")
    args = ap.parse_args()
    big = 1_000_000 if args.quick else 10_000_000
    full = full_reduction(big)
    print(
        f"reduce {big:,} points to {COLUMNS} columns: store {full['store_reduce_ms']:.2f} ms "
        f"(first, building the pyramid: {full['store_first_reduce_ms']:.0f} ms), "
        f"reduce_points {full['reduce_points_ms']:.1f} ms, "
        f"numpy nanmin/nanmax {full['numpy_nanmin_nanmax_ms']:.1f} ms "
        f"-> {full['speedup_vs_reduce_points']:.0f}x / {full['speedup_vs_numpy']:.0f}x"
    )
    live = []
    for n in (1_000, 100_000, big):
        row = live_update(n)
        live.append(row)
        print(
            f"live update at {n:>10,} points: append 1000 + reduce "
            f"{row['append1000_reduce_median_ms']:.2f} ms median "
            f"(max {row['append1000_reduce_max_ms']:.2f}; one-by-one appends "
            f"{row['append1000_one_by_one_reduce_ms']:.2f}); brute force "
            f"{row['brute_reduce_median_ms']:.2f} ms"
        )
    emit("store", {"full": full, "live": live})


if __name__ == "__main__":
    main()
