"""Fixed run data for the UI tests (deterministic: no clocks, no randomness)."""

from __future__ import annotations

import math

import pytest

from lrwatch.records import Event, Metrics
from lrwatch.store import MetricStore


def make_records(n: int = 600, change_at: int = 400, nan_at: int | None = 300) -> list:
    """A header, a decaying loss with a spike and a NaN, val loss, grad norm, one LR change."""
    recs: list = [Event("run", {"run": "exp1", "t": 1000.0, "lr": [3e-3]}, None, 1000.0)]
    for i in range(n):
        lr = 3e-3 if i < change_at else 3e-4
        loss = 3 * math.exp(-i / 120) + 0.5 + 0.05 * math.sin(i * 0.7)
        if i == 200:
            loss = 80.0
        if nan_at is not None and i == nan_at:
            loss = math.nan
        recs.append(
            Metrics(i, {"loss": loss, "lr": lr, "grad_norm": 1 + 0.2 * math.cos(i)}, 1000.0 + i)
        )
        if i == change_at:
            recs.append(
                Event("lr_change", {"old": [3e-3], "new": [3e-4], "mode": "rescale"}, i, 1000.0 + i)
            )
        if i % 100 == 50:
            recs.append(Metrics(i, {"val_loss": loss + 0.2}, 1000.0 + i))
    return recs


@pytest.fixture
def store() -> MetricStore:
    st = MetricStore()
    st.add("exp1", make_records())
    return st
