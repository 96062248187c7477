"""The app on fixed data for snapshot tests and docs/screenshot.svg (no clocks, no workers)."""

from __future__ import annotations

import math

from lrwatch.rules.finding import Finding
from lrwatch.store import MetricStore
from lrwatch.tui.app import LRWatchApp

try:
    from .conftest import make_records
except ImportError:  # run as a script
    from conftest import make_records  # type: ignore[no-redef]


#: Findings as the rule engine reported them for this data, frozen here so the snapshots test
#: the UI, not the wording of rules that keep improving (tests/rules checks those).
FINDINGS = [
    Finding(
        "nan_inf",
        "error",
        300,
        300,
        {"metric": "loss", "value": math.nan, "nonfinite_points": 1, "last_finite_step": 299},
        "Train loss became nan at step 300 (last finite 0.7947 at step 299).",
        "Restart from a checkpoint from around step 296 and reduce LR 10×: 3.0e-03 → 3.0e-04; "
        "clip gradients (max_norm=1.0); check for fp16 overflow or bad inputs.",
        {"op": "scale_lr", "factor": 0.1},
        id="exp1/nan_inf/300",
    ),
    Finding(
        "loss_spike",
        "warning",
        200,
        200,
        {"loss": 80.0, "median": 1.203, "robust_z": 50.68},
        "Loss spiked to 80 (66.5× the recent median 1.203, z=51); 1 spike(s) in this episode.",
        "Instability: clip gradients (max_norm=1.0), or reduce LR 2×: 3.0e-03 → 1.5e-03.",
        {"op": "scale_lr", "factor": 0.5},
        resolved=True,
        resolved_step=210,
        id="exp1/loss_spike/200",
    ),
]


def fixed_app() -> LRWatchApp:
    """exp1 with a spike, a NaN, an LR change and two findings, at a fixed time."""
    store = MetricStore()
    store.add("exp1", make_records())
    app = LRWatchApp(store, clock=lambda: 1650.0)
    app.findings["exp1"] = list(FINDINGS)
    return app


if __name__ == "__main__":
    fixed_app().run()
