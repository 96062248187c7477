"""Feeding in any batch split gives the same findings as one batch."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from rules_synth import constant, curve, records

from lrwatch.records import Event
from lrwatch.rules import Engine


def _faulty() -> list:
    lrs, loss = curve(900, constant(0.1), seed=7)
    loss = loss.copy()
    loss[300:305] *= 5  # spike episode
    loss[500:] *= np.exp(np.minimum(np.arange(400) * 0.03, 6))  # divergence
    loss[850:] = np.nan
    t = np.arange(900)
    val = 1.0 + 1.0 / (1 + t / 50) + np.maximum(0, t - 300) / 300
    recs = records(lrs, loss, val=val, val_every=50, grad=np.exp(np.sin(t)))
    recs.insert(600, Event("lr_change", {"old": [0.1], "new": [0.05]}, step=560))
    return recs


RECORDS = _faulty()


def _dicts(engine: Engine) -> list[dict]:
    return [f.to_dict() for f in engine.findings]


EXPECTED = None


def _expected() -> list[dict]:
    global EXPECTED
    if EXPECTED is None:
        engine = Engine()
        engine.feed(RECORDS)
        EXPECTED = _dicts(engine)
    return EXPECTED


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(RECORDS)), max_size=30))
def test_any_batch_split_gives_the_same_findings(cuts: list[int]) -> None:
    edges = [0, *sorted(cuts), len(RECORDS)]
    engine = Engine()
    seen: dict[str, dict] = {}
    for a, b in itertools.pairwise(edges):
        for f in engine.feed(RECORDS[a:b]):
            seen[f.id] = f.to_dict()
    assert _dicts(engine) == _expected()
    # every finding that exists at the end was returned by some feed() call
    assert set(seen) == {d["id"] for d in _expected()}


def test_the_faulty_stream_has_the_expected_symptoms() -> None:
    symptoms = {d["symptom"] for d in _expected()}
    assert {"loss_spike", "divergence", "nan_inf"} <= symptoms
