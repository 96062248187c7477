"""``lrwatch plot``'s drawing cost from a store of 1k points (baseline) vs 10M points.

    python benchmarks/bench_plot.py [--quick]

One run with loss (raw, smoothed; NaN stretches), val loss, LR and grad norm in the store,
drawn at 1200 px wide: scene + SVG text, and scene + PNG bytes (Pillow), best of several
calls each, at 1k points and at 10M (``--quick``: 1M). The pictures draw from the store's
min/max reduction at one column per pixel, so the big store should cost about what the small
one does; the first draw of a store also builds its min/max pyramid (O(points), once),
reported on its own. Ratios are to the 1k baseline measured in the same run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, emit

from lrwatch.picture.png import to_png
from lrwatch.picture.scene import Options, build_scene
from lrwatch.picture.svg import to_svg
from lrwatch.store import RunData

WIDTH = 1200


def make_run(n: int, seed: int = 0) -> RunData:
    """A run of ``n`` steps: a noisy falling loss with a few NaN points, a cosine LR, grad
    norm, and a val loss every n/50 steps."""
    rng = np.random.default_rng(seed)
    steps = np.arange(n, dtype=np.int64)
    loss = 0.3 + 2.0 / (1 + steps / max(n / 20, 1)) + rng.normal(0, 0.05, n)
    loss[rng.integers(0, n, max(1, n // 100_000))] = np.nan
    lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * steps / n)) + 1e-6
    run = RunData("bench")
    for name, values in (("loss", loss), ("lr", lr), ("grad_norm", np.abs(loss) * 0.8)):
        run.metric(name).extend(steps, values)
    every = max(n // 50, 1)
    run.metric("val_loss").extend(steps[::every], loss[::every] + 0.1)
    run.first_step, run.last_step = 0, n - 1
    return run


def measure(n: int) -> dict[str, Any]:
    """First draw (pyramid build included), then the best SVG and PNG draws, in ms."""
    run = make_run(n)
    opts = Options(width=WIDTH)
    t0 = time.perf_counter()
    to_svg(build_scene([run], {}, opts))
    first = time.perf_counter() - t0
    svg = best_of(lambda: to_svg(build_scene([run], {}, opts)), 7)
    png = best_of(lambda: to_png(build_scene([run], {}, opts)), 5)
    return {"points": n, "first_svg_ms": first * 1e3, "svg_ms": svg * 1e3, "png_ms": png * 1e3}


def summary_rows(r: dict[str, Any]) -> list[Any]:
    """The run_all summary rows (``summary.Row``) for a saved result."""
    from summary import Row

    big, small = r["big"], r["small"]
    return [
        Row(
            "plot",
            f"lrwatch plot {kind} of {big['points']:,} points, 1200 px",
            f"{big[key]:.1f} ms",
            baseline=f"{small['points']:,} points {small[key]:.1f} ms",
            ratio=f"{big[key] / small[key]:.2f}×",
            goal="10M cost what 1k cost (13)",
            met=big[key] / small[key] <= 2.0,
        )
        for kind, key in (("SVG", "svg_ms"), ("PNG", "png_ms"))
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="1M points instead of 10M")
    args = ap.parse_args()
    small = measure(1_000)
    big = measure(1_000_000 if args.quick else 10_000_000)
    for key, what in (("svg_ms", "scene + SVG"), ("png_ms", "scene + PNG")):
        print(
            f"{what}: {small['points']:,} points {small[key]:.1f} ms, "
            f"{big['points']:,} points {big[key]:.1f} ms -> {big[key] / small[key]:.2f}x"
        )
    print(
        f"first draw (builds the min/max pyramid once): {small['first_svg_ms']:.1f} ms / "
        f"{big['first_svg_ms']:.0f} ms"
    )
    emit(
        "plot",
        {
            "small": small,
            "big": big,
            "svg_ratio": big["svg_ms"] / small["svg_ms"],
            "png_ratio": big["png_ms"] / small["png_ms"],
        },
    )


if __name__ == "__main__":
    main()
