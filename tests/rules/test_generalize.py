"""Issue 10: diagnosis that holds on runs the rules were not tuned on.

Mini-batch oscillation comes from real SGD on a noisy logistic regression (numpy, seeded),
not from a curve model: the swing test must tell a too-high LR from the same task at its
tuned LR and at a too-low one.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrwatch.records import Event, Metrics, Record
from lrwatch.rules import Engine, Finding


def sgd_logreg(lr: float, batch: int, steps: int = 600, seed: int = 0) -> list[float]:
    """Per-step batch losses of mini-batch SGD on a logistic regression with 20 features of
    different scales and noisy labels (its best loss is ~0.5, not 0)."""
    rng = np.random.default_rng(seed)
    n, d = 2000, 20
    x = rng.standard_normal((n, d)) * np.linspace(0.3, 3.0, d)
    w_true = rng.standard_normal(d)
    z = x @ w_true
    y = (z + 0.8 * z.std() * rng.standard_normal(n) > 0).astype(float)
    w, b = np.zeros(d), 0.0
    out = []
    for _ in range(steps):
        i = rng.integers(0, n, batch)
        logits = np.clip(x[i] @ w + b, -30, 30)
        p = 1.0 / (1.0 + np.exp(-logits))
        loss = np.mean(np.logaddexp(0.0, logits) - y[i] * logits)
        g = p - y[i]
        w -= lr * (x[i].T @ g) / batch
        b -= lr * g.mean()
        out.append(float(loss))
    return out


def feed(
    losses: list[float], lr: float | list[float] | None, optimizer: str | None = "SGD", every=1
) -> Engine:
    engine = Engine()
    recs: list[Record] = []
    if optimizer:
        recs.append(Event("run", {"optimizer": optimizer}))
    for t in range(0, len(losses), every):
        values = {"loss": losses[t]}
        if lr is not None:
            values["lr"] = lr[t] if isinstance(lr, list) else lr
        recs.append(Metrics(t, values))
    engine.feed(recs)
    return engine


def of(engine: Engine, symptom: str) -> list[Finding]:
    return [f for f in engine.findings if f.symptom == symptom]


@pytest.mark.parametrize(("lr", "batch"), [(2.0, 16), (5.0, 16), (5.0, 64)])
def test_minibatch_sgd_at_a_too_high_lr_is_oscillation_with_a_concrete_fix(lr, batch) -> None:
    engine = feed(sgd_logreg(lr, batch), lr)
    swings = [f for f in of(engine, "oscillation") if f.evidence["shape"] == "swing"]
    assert swings, [(f.symptom, f.severity) for f in engine.findings]
    f = swings[0]
    assert f.severity == "warning" and f.action == {"op": "scale_lr", "factor": 0.4}
    assert f.evidence["p90"] / f.evidence["p10"] >= math.exp(0.5)
    assert "swings between" in f.message and "LR too high" in f.suggestion
    assert f"{lr:.1e} → {lr * 0.4:.1e}" in f.suggestion


@pytest.mark.parametrize(("lr", "batch"), [(0.5, 16), (0.5, 64), (0.01, 16), (0.002, 4)])
def test_the_same_task_at_its_tuned_or_a_low_lr_does_not_oscillate(lr, batch) -> None:
    """Tuned: noisy but it learned; too low: noisy and barely learning (the opposite fix)."""
    engine = feed(sgd_logreg(lr, batch), lr)
    assert of(engine, "oscillation") == []


def test_without_a_known_lr_only_a_level_at_or_above_the_start_is_a_swing() -> None:
    engine = feed(sgd_logreg(5.0, 16), None, optimizer=None)
    assert [f.evidence["shape"] for f in of(engine, "oscillation")] == ["swing"]
    quiet = feed(sgd_logreg(0.5, 16), None, optimizer=None)
    assert of(quiet, "oscillation") == []


def hf_like(lr0: float, points: int = 20, every: int = 10, seed: int = 0):
    """An HF Trainer run at a tiny LR: linear decay to zero, a loss that barely moves
    (5.46 -> 5.44), interval means every ``every`` steps."""
    rng = np.random.default_rng(seed)
    steps = [every * (i + 1) for i in range(points)]
    total = steps[-1]
    loss = [5.46 - 0.02 * i / (points - 1) + 0.003 * rng.standard_normal() for i in range(points)]
    lrs = [lr0 * (1 - s / total) for s in steps]
    return steps, loss, lrs


def feed_steps(steps, loss, lrs, optimizer=None) -> Engine:
    engine = Engine()
    recs: list[Record] = [Event("run", {"optimizer": optimizer})] if optimizer else []
    for s, x, lr in zip(steps, loss, lrs, strict=True):
        recs.append(Metrics(s, {"loss": x} if lr is None else {"loss": x, "lr": lr}))
    engine.feed(recs)
    return engine


def test_a_tiny_lr_on_a_sparse_log_is_slow_progress_from_20_points() -> None:
    steps, loss, lrs = hf_like(1e-6)
    (f,) = of(feed_steps(steps, loss, lrs), "slow_progress")
    assert f.severity == "warning" and f.last_step <= steps[19]
    # The schedule has decayed the LR by the 20th point: the whole schedule is raised.
    assert f.action == {"op": "scale_lr", "factor": 10.0}
    assert "raise the schedule 10×" in f.suggestion


def test_sgd_1e4_is_tiny_and_a_fine_tune_lr_is_not() -> None:
    steps, loss, lrs = hf_like(1e-4)
    assert of(feed_steps(steps, loss, lrs, optimizer="SGD"), "slow_progress")
    steps, loss, lrs = hf_like(2e-5)  # a usual fine-tuning LR: a flat loss is not "too low"
    assert of(feed_steps(steps, loss, lrs), "slow_progress") == []
    assert of(feed_steps(steps, loss, lrs, optimizer="AdamW"), "slow_progress") == []


def test_a_linear_decay_to_zero_logged_sparsely_does_not_restart_the_baselines() -> None:
    steps, loss, lrs = hf_like(1e-3, points=40)
    engine = feed_steps(steps, loss, lrs)
    assert engine.loss.n == 40  # one segment: 0.15 -> 0.10 of the peak is not a step decay


def test_with_no_lr_known_slow_progress_suggests_no_direction() -> None:
    rng = np.random.default_rng(1)
    loss = [3.0 - 0.002 * t + 0.01 * rng.standard_normal() for t in range(300)]
    engine = feed(loss, None, optimizer=None)
    found = of(engine, "slow_progress")
    assert found and all(f.action is None and f.severity == "info" for f in found)
    assert "does not give the LR" in found[0].message


def test_an_early_rise_without_a_logged_lr_is_not_called_a_missing_warmup() -> None:
    """nanoGPT at LR 0.05 with a warmup: the log states the LR once (a config line)."""
    loss = [4.2, 4.1, 3.9, 6.5, 7.8, 6.0, 5.0] + [4.0 - 0.001 * t for t in range(60)]
    engine = Engine()
    engine.feed([Event("run", {"lr": [0.05], "lr_from": "config"})])
    engine.feed([Metrics(t, {"loss": x}) for t, x in enumerate(loss)])
    spikes = of(engine, "loss_spike")
    assert spikes and all("classic missing-warmup" not in f.message for f in spikes)
    assert "whether the run warms up is not known" in spikes[0].message
    # The same curve with a constant LR logged every step is the classic case.
    logged = Engine()
    logged.feed([Metrics(t, {"loss": x, "lr": 0.05}) for t, x in enumerate(loss)])
    assert "classic missing-warmup" in of(logged, "loss_spike")[0].message


def test_a_spike_at_an_lr_decayed_to_zero_suggests_no_lower_lr() -> None:
    n = 400
    lrs = [1e-4 * (1 - t / n) + 1e-12 for t in range(n)]
    rng = np.random.default_rng(0)
    loss = [0.5 * math.exp(0.05 * rng.standard_normal()) for _ in range(n)]
    loss[398] = 20.0  # the LR is 0.5% of its peak there
    engine = Engine()
    engine.feed([Metrics(t, {"loss": loss[t], "lr": lrs[t]}) for t in range(n)])
    (f,) = [f for f in of(engine, "loss_spike") if f.step == 398]
    assert f.action is None and "lowering it will not help" in f.suggestion


def test_val_loss_noise_a_few_percent_above_its_best_is_not_a_warning() -> None:
    """A healthy noisy val curve: 4-5% above its best for a few evaluations, then a new best."""
    rng = np.random.default_rng(3)
    engine = Engine()
    for e in range(40):
        step = 50 * (e + 1)
        engine.feed([Metrics(step, {"loss": 2.0 / (1 + e / 5)})])
        level = 1.0 + 1.0 / (1 + e / 3)
        engine.feed([Metrics(step, {"val_loss": level * (1 + 0.03 * rng.standard_normal())})])
    assert [f for f in engine.findings if f.severity != "info"] == []


def test_val_loss_far_above_its_best_is_a_warning() -> None:
    engine = Engine()
    for e in range(30):
        step = 50 * (e + 1)
        engine.feed([Metrics(step, {"loss": 2.0 / (1 + e / 5)})])
        val = 1.0 if e < 10 else 1.0 + 0.05 * (e - 9)
        engine.feed([Metrics(step, {"val_loss": val})])
    (f,) = of(engine, "overfitting")
    assert f.severity == "warning" and f.evidence["rise"] >= 0.1


def test_each_named_eval_set_is_judged_for_overfitting() -> None:
    """HF's eval dict: ``eval_g0_loss`` is chosen as the val loss, ``eval_g1_loss`` ... come
    in their own records. A set that overfits alone is found, and named."""
    engine = Engine()
    for e in range(30):
        step = 50 * (e + 1)
        engine.feed([Metrics(step, {"loss": 2.0 / (1 + e / 5)})])
        engine.feed([Metrics(step, {"val_loss": 1.0 / (1 + e / 10)})])  # g0: healthy
        g1 = 1.0 if e < 10 else 1.0 + 0.1 * (e - 9)  # g1: doubles after epoch 10
        engine.feed([Metrics(step, {"eval_g1_loss": g1, "eval_g1_runtime": 0.5})])
    (f,) = of(engine, "overfitting")
    assert f.evidence["metric"] == "eval_g1_loss" and f.severity == "warning"
    assert "eval_g1_loss (an eval set)" in f.message


def test_a_float32_lr_counts_as_the_lr_it_was_set_to() -> None:
    """TensorBoard stores float32: SGD at 1e-2 reads back as 0.009999999776, which must be
    a normal LR for SGD (a flat loss there never learned), not a "too low" one."""
    from lrwatch.rules.lr_scale import lr_is_normal, lr_is_small

    assert lr_is_normal("SGD", 0.009999999776482582)
    assert lr_is_small("SGD", 0.0010000000474974513)
