"""Engine.feed takes MetricBlock columns: the same findings as the Metrics rows they hold."""

from __future__ import annotations

import math

import numpy as np

from lrwatch.records import Event, MetricBlock
from lrwatch.rules import Engine


def _blocks() -> list[MetricBlock | Event]:
    rng = np.random.default_rng(1)
    n = 3000
    steps = np.arange(n, dtype=np.int64)
    loss = 3.0 * np.exp(-steps / 400) + rng.normal(0, 0.02, n)
    loss[1800:] = loss[1799] * np.exp((steps[1800:] - 1799) / 60)  # diverges
    loss[2500] = math.nan
    lr = np.where(steps < 1000, 1e-3, 1e-2)
    grad = np.abs(rng.normal(1.0, 0.2, n))
    times = 1.7e9 + steps * 0.1
    out: list[MetricBlock | Event] = [Event("run", {"lr": [1e-3]}, None, 1.7e9)]
    for a, b in ((0, 700), (700, 1900), (1900, n)):
        cols = {"loss": loss[a:b], "lr": lr[a:b], "grad_norm": grad[a:b]}
        out.append(MetricBlock(steps[a:b], cols, times[a:b]))
        out.append(Event("note", {}, int(steps[b - 1]), None))
    evals = steps[::250]
    out.append(MetricBlock(evals, {"val_loss": np.linspace(2, 3, len(evals))}, None))
    return out


def test_blocks_give_the_findings_of_their_rows() -> None:
    items = _blocks()
    rows: list = []
    for it in items:
        rows.extend(it.rows() if isinstance(it, MetricBlock) else [it])
    by_blocks, by_rows = Engine(run="r"), Engine(run="r")
    changed_b = [f.id for batch in (items[:3], items[3:]) for f in by_blocks.feed(batch)]
    cut = 1 + 700 + 1
    changed_r = [f.id for batch in (rows[:cut], rows[cut:]) for f in by_rows.feed(batch)]
    assert changed_b == changed_r
    found = [f.to_dict() for f in by_blocks.findings]
    assert found == [f.to_dict() for f in by_rows.findings]
    assert found, "the diverging loss and the NaN must be found"
    assert (by_blocks.step, by_blocks.lr, by_blocks.points) == (
        by_rows.step,
        by_rows.lr,
        by_rows.points,
    )
