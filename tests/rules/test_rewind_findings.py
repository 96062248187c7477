"""The rule engine at a ``rewind`` record: the abandoned branch's findings are resolved by
it, the repeated steps are the new branch (no restart, no out-of-order mess)."""

from __future__ import annotations

from lrwatch.formats.jsonl import JsonlParser
from lrwatch.rules import Engine, Finding
from tests.rewind_logs import header, losses, rewind, spike_and_rewind


def judged(lines: list[str]) -> Engine:
    engine = Engine(run="r")
    engine.feed(JsonlParser().feed(("\n".join(lines) + "\n").encode()))
    return engine


def by_symptom(engine: Engine) -> dict[str, Finding]:
    return {f.symptom: f for f in engine.findings}


def test_the_blow_up_of_the_abandoned_branch_is_resolved_by_the_rewind() -> None:
    engine = judged(spike_and_rewind(n=300, spike_at=250, to=200))
    found = by_symptom(engine)
    for symptom in ("loss_spike", "divergence"):
        f = found[symptom]
        assert f.step > 200 and f.resolved and f.resolved_step == 300
        assert f.evidence["resolved_because"] == "resolved by rewind to step 200"
    assert all(f.resolved for f in engine.findings)
    assert engine.context.rewinds == 1
    assert engine.step == 310  # the new branch's steps, read as steps going on
    assert engine.lr == 0.01


def test_without_the_rewind_record_the_blow_up_stays_open() -> None:
    """The same log minus the record: the test above can fail."""
    lines = [line for line in spike_and_rewind(300, 250, 200) if '"rewind"' not in line]
    found = by_symptom(judged(lines))
    assert not found["divergence"].resolved


def test_a_nan_of_the_abandoned_branch_is_resolved_by_the_rewind() -> None:
    lines = [header(), *losses(range(1, 201)), *losses(range(201, 211), lambda s: float("nan"))]
    engine = judged([*lines, rewind(210, 200), *losses(range(201, 260), lr=0.01)])
    (nan,) = [f for f in engine.findings if f.symptom == "nan_inf"]
    assert nan.resolved and nan.resolved_step == 210
    assert nan.evidence["resolved_because"] == "resolved by rewind to step 200"
    assert not [f for f in engine.findings if f.step > 210]  # the new branch is healthy


def test_a_finding_from_before_the_rewind_point_is_not_resolved_by_it() -> None:
    lines = [header(), *losses(range(1, 201)), *losses(range(201, 211), lambda s: float("nan"))]
    engine = judged([*lines, rewind(210, 205), *losses(range(206, 260), lr=0.01)])
    (nan,) = [f for f in engine.findings if f.symptom == "nan_inf"]
    assert nan.step == 201 and "rewind" not in nan.evidence.get("resolved_because", "")


def test_a_rewind_without_a_target_changes_nothing() -> None:
    lines = spike_and_rewind(300, 250, 200)
    lines = [rewind(300, 200, to_step="x") if '"rewind"' in ln else ln for ln in lines]
    engine = judged(lines)
    assert engine.context.rewinds == 0
    assert "rewind" not in str(by_symptom(engine)["divergence"].evidence)
