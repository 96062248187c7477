"""Healthy schedules and noise levels must not produce warnings or errors."""

from __future__ import annotations

import pytest
from rules_synth import (
    constant,
    curve,
    records,
    step_decay,
    triangular,
    warm_restarts,
    warmup_cosine,
)

from lrwatch.rules import Engine

CASES = {
    "warmup_cosine": dict(steps=3000, schedule=warmup_cosine(0.1, 3000, 150)),
    "warmup_cosine_every_50": dict(
        steps=30000, schedule=warmup_cosine(0.1, 30000, 1500), tau=500, every=50
    ),
    "step_decay": dict(steps=3000, schedule=step_decay(0.1, 1000)),
    "warm_restarts": dict(steps=3000, schedule=warm_restarts(0.1, 500)),
    "cyclic": dict(steps=3000, schedule=triangular(0.01, 0.1, 400)),
    "noisy_sgd": dict(steps=5000, schedule=constant(0.1), noise=0.4),
    "regression_small_loss": dict(steps=3000, schedule=constant(0.1), start=0.05, floor=0.002),
    "negative_objective": dict(steps=3000, schedule=constant(0.1), offset=-5.0),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("case", sorted(CASES))
def test_healthy_run_has_no_warning_or_error(case: str, seed: int) -> None:
    spec = dict(CASES[case])
    every = spec.pop("every", 1)
    steps, schedule = spec.pop("steps"), spec.pop("schedule")
    lrs, loss = curve(steps, schedule, seed=seed, **spec)
    engine = Engine()
    engine.feed(records(lrs, loss, every=every))
    bad = [(f.symptom, f.severity, f.step) for f in engine.findings if f.severity != "info"]
    assert bad == []
