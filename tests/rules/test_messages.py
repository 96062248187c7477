"""Finding texts: readable at a glance (onset step, compact numbers, concrete fix)."""

from __future__ import annotations

import math

import numpy as np
from rules_synth import constant, curve, records

from lrwatch.rules import Engine
from lrwatch.rules.finding import fmt_num, fmt_ratio


def test_numbers_have_three_significant_digits_and_no_exponent_noise() -> None:
    assert [fmt_num(x) for x in (0.41234, 13.94, 1234.5, 33058385.4, 0.00062)] == [
        "0.412",
        "13.9",
        "1234",
        "3.31e7",
        "6.2e-4",
    ]
    assert fmt_num(math.nan) == "nan"
    assert [fmt_ratio(r) for r in (4.0, 13.94, 520.3, 33058385.4)] == [
        "4×",
        "13.9×",
        "520×",
        "3.3e7×",
    ]


def test_nan_message_names_the_onset_and_keeps_the_latest_step_in_the_evidence() -> None:
    lrs, loss = curve(600, constant(0.1), seed=3)
    loss = loss.copy()
    loss[300:] = np.nan
    engine = Engine()
    engine.feed(records(lrs, loss))
    (f,) = [f for f in engine.findings if f.symptom == "nan_inf"]
    assert "at step 300 " in f.message and "599" not in f.message
    assert f.step == 300 and f.last_step == 599
    assert f.evidence["latest_nonfinite_step"] == 599
    assert "1.0e-01 → 1.0e-02" in f.suggestion


def test_huge_ratios_are_compact_in_messages() -> None:
    lrs, loss = curve(200, constant(0.1), seed=4)
    loss = loss.copy()
    loss[100:] = 3e7 * loss[0]
    engine = Engine()
    engine.feed(records(lrs, loss))
    texts = [f.message for f in engine.findings if f.symptom == "divergence"]
    assert texts and all("e7×" in t for t in texts), texts
    assert all(len(f.message) < 160 for f in engine.findings)
