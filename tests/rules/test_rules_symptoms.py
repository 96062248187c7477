"""One test per symptom, on synthetic but realistic curves (seeded noise)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from rules_synth import constant, curve, records

from lrwatch.records import Event, Metrics
from lrwatch.rules import Engine, Finding


def run(recs: list) -> Engine:
    engine = Engine()
    engine.feed(recs)
    return engine


def of(engine: Engine, symptom: str) -> list[Finding]:
    return [f for f in engine.findings if f.symptom == symptom]


@pytest.fixture
def base() -> tuple[np.ndarray, np.ndarray]:
    return curve(1500, constant(0.1), seed=1)


def test_nan_inf_is_an_error_with_the_lr_cut_from_the_last_finite_point(base) -> None:
    lrs, loss = base
    loss = loss.copy()
    loss[700] = np.inf
    loss[701:] = np.nan
    (f,) = of(run(records(lrs, loss)), "nan_inf")
    assert (f.severity, f.step, f.resolved) == ("error", 700, False)
    assert f.action == {"op": "set_lr", "value": 0.01}
    assert "1.0e-01 → 1.0e-02" in f.suggestion
    assert f.evidence["last_finite_step"] == 699


def test_single_nonfinite_grad_norm_is_tolerated_but_a_run_of_them_is_not(base) -> None:
    lrs, loss = base
    grad = np.ones_like(loss)
    grad[300] = np.inf  # one AMP-skipped step: normal
    assert of(run(records(lrs, loss, grad=grad)), "nan_inf") == []
    grad[900:905] = np.nan
    (f,) = of(run(records(lrs, loss, grad=grad)), "nan_inf")
    assert f.severity == "warning" and f.evidence["metric"] == "grad_norm"


def test_divergence_error_with_a_tenfold_cut(base) -> None:
    lrs, loss = base
    loss = loss.copy()
    loss[400:] *= np.exp(np.minimum(np.arange(1100) * 0.02, 5))
    (f,) = of(run(records(lrs, loss)), "divergence")
    assert f.severity == "error"
    assert 400 <= f.step <= 480
    assert f.action == {"op": "scale_lr", "factor": 0.1}
    assert "1.0e-01 → 1.0e-02" in f.suggestion
    assert f.evidence["ratio_to_best"] >= 4


def test_sustained_rise_is_one_divergence_warning(base) -> None:
    lrs, loss = base
    loss = loss.copy()
    loss[400:] *= np.minimum(1 + np.arange(1100) * 0.01, 3)
    found = of(run(records(lrs, loss)), "divergence")
    assert [f.severity for f in found] == ["warning"]


def _lowered_at_600(base, response: np.ndarray) -> list:
    """A run whose loss climbs from step 400 (×1.03 a step); at step 600 the user applies
    LR ÷10 (an lr_change event, then the lr series 10× lower) and the excess over the healthy
    curve then evolves by ``response`` per step (< 1: the loss comes back down)."""
    lrs, loss = base
    lrs, loss = lrs.copy(), loss.copy()
    excess = np.ones(len(loss))
    excess[400:601] = 1.03 ** np.arange(201)
    excess[601:] = excess[600] * np.cumprod(np.full(len(loss) - 601, response))
    loss *= np.maximum(excess, 1.0)
    lrs[600:] *= 0.1
    recs = records(lrs, loss)
    at = next(i for i, r in enumerate(recs) if isinstance(r, Metrics) and r.step == 600)
    recs.insert(at, Event("lr_change", {"old": [0.1], "new": [0.01], "mode": "rescale"}, step=599))
    return recs


def test_lr_decrease_gets_time_to_respond_and_resolves_the_finding_on_recovery(base) -> None:
    recs = _lowered_at_600(base, 0.8)  # the loss is still 300x high, but falling
    engine = Engine()
    engine.feed(recs[:601])
    (f,) = of(engine, "divergence")
    assert f.severity == "error" and not f.resolved
    later = [g for r in recs[601:] for g in engine.feed([r])]
    # No new divergence (nor an "early blow-up" spike) while the loss responds to the fix.
    assert of(engine, "divergence") == [f]
    assert not [g for g in later if g.symptom != "divergence" and g.severity != "info"]
    assert f.resolved and 600 < f.resolved_step <= 640
    assert f.evidence["lr_lowered_step"] == 599
    assert "recovered" in f.evidence["resolved_because"]


def test_lr_decrease_that_does_not_stop_the_climb_keeps_the_finding_open(base) -> None:
    recs = _lowered_at_600(base, 1.03)  # too small a cut: the loss keeps climbing
    (f,) = of(run(recs[:1000]), "divergence")
    assert f.severity == "error" and not f.resolved and f.last_step > 700


def test_warmup_holds_back_a_moderate_rise_but_not_a_blow_up() -> None:
    lrs = np.linspace(1e-4, 0.1, 400)
    rng = np.random.default_rng(0)
    noise = np.exp(0.05 * rng.standard_normal(400))
    bump = (2.0 + np.linspace(0, 1, 400)) * noise  # +50% while the LR ramps up: held back
    assert of(run(records(lrs, bump)), "divergence") == []
    blow = (2.0 + np.linspace(0, 8, 400)) * noise  # 5x its first value: not benign
    (f,) = of(run(records(lrs, blow)), "divergence")
    assert f.severity == "error" and f.evidence["reference"] == "start"
    assert f.step < 300  # found while the LR is still rising


def test_loss_that_learned_then_lost_it_all_during_warmup_is_an_error() -> None:
    lrs = np.linspace(0.01, 1.0, 200)
    rng = np.random.default_rng(1)
    loss = np.concatenate([np.linspace(1.6, 0.6, 60), np.linspace(0.6, 1.9, 15), np.full(125, 1.7)])
    loss = loss * np.exp(0.08 * rng.standard_normal(200))
    (f,) = of(run(records(lrs, loss)), "divergence")
    assert f.severity == "error" and 60 <= f.step <= 75
    assert f.evidence["progress_lost"] >= 1.0


def _warmup_climb(lost: float, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A linear warmup to a too-high LR: the loss falls 1.6 -> 0.45 in 40 points, then gives
    back ``lost`` of that progress in 8 points while the LR still rises, and stays there."""
    lrs = np.linspace(0.01, 1.0, 200)
    best, start = 0.45, 1.6
    top = best + lost * (start - best)
    loss = np.concatenate(
        [np.linspace(start, best, 40), np.linspace(best, top, 8), np.full(152, top)]
    )
    return lrs, loss * np.exp(0.05 * np.random.default_rng(seed).standard_normal(200))


def test_most_of_the_progress_lost_during_warmup_is_a_warning_at_once() -> None:
    (f,) = of(run(records(*_warmup_climb(0.8))), "divergence")
    assert f.severity == "warning" and 44 <= f.step <= 52  # the climb ends at point 48
    assert 0.75 <= f.evidence["progress_lost"] < 1.0


def test_half_the_progress_lost_during_warmup_is_held_back() -> None:
    lrs, loss = _warmup_climb(0.5)
    assert of(run(records(lrs[:150], loss[:150])), "divergence") == []  # warmup: LR rising


def test_linear_warmup_keeps_the_baselines_from_the_start() -> None:
    # lr = peak * (t + 1) / W: the third point is 1.5x the second (exactly, in binary
    # fractions), a jump ratio by the default config, but a new high, not a warm restart.
    w = 64
    lrs = np.arange(1, w + 1) / 2**10
    loss = 1.6 * np.exp(0.02 * np.random.default_rng(0).standard_normal(w))
    engine = Engine()
    engine.feed(records(lrs[:6], loss[:6]))
    assert engine.loss.baselined and engine.loss.run_start  # no reset at the third point
    # A warm restart back to the peak still restarts the baselines.
    engine.feed([Metrics(6 + i, {"loss": 1.6, "lr": lr}) for i, lr in enumerate([0.003, lrs[5]])])
    assert not engine.loss.baselined and not engine.loss.run_start


def test_lr_shock_is_a_spike_warning_and_a_lone_spike_is_info(base) -> None:
    lrs, loss = base
    shock = loss.copy()
    shock[800:805] *= np.array([3, 6, 4, 2.5, 1.8])
    (f,) = of(run(records(lrs, shock)), "loss_spike")
    assert f.severity == "warning" and f.step == 800 and f.evidence["spikes"] >= 3
    assert f.action == {"op": "scale_lr", "factor": 0.5}
    lone = loss.copy()
    lone[800] *= 4
    (g,) = of(run(records(lrs, lone)), "loss_spike")
    assert g.severity == "info" and g.resolved


def test_oscillation(base) -> None:
    lrs, loss = base
    rng = np.random.default_rng(1)
    t = np.arange(1500)
    swing = 1.0 + 0.3 * (-1.0) ** t * (1 + 0.2 * rng.standard_normal(1500))
    loss = loss.copy()
    loss[300:] = swing[300:] * loss[300]
    found = of(run(records(lrs, loss)), "oscillation")
    assert len(found) == 1 and found[0].severity == "warning"
    assert found[0].evidence["lag1_autocorr"] < -0.55
    assert found[0].action["op"] == "scale_lr" and found[0].action["factor"] < 1


def test_two_step_bounce_on_a_falling_loss_is_found_by_its_turning_points() -> None:
    # Full-batch GD at the edge of stability: a small period-2 ripple on a loss that still
    # falls. Its lag-1 autocorrelation is positive (the trend dominates), but every step
    # reverses direction, where i.i.d. noise reverses 2 steps in 3.
    t = np.arange(600)
    loss = 0.3 * np.exp(-t / 400) + 0.05 + 0.004 * (-1.0) ** t
    lrs = np.full(600, 0.55)
    (f,) = of(run(records(lrs, loss)), "oscillation")
    assert f.severity == "info"  # still improving: at the edge of stability, not stuck
    assert f.evidence["alternation"] > 0.95 and f.step < 200
    assert f.action == {"op": "scale_lr", "factor": 0.5}
    flat = 0.1 + 0.01 * (-1.0) ** t  # the same bounce with no progress at all
    (g,) = of(run(records(lrs, flat)), "oscillation")
    assert g.severity == "warning" and g.step < 200


@pytest.mark.parametrize("seed", range(4))
def test_noisy_sgd_does_not_oscillate(seed: int) -> None:
    # Heavy i.i.d. batch noise reverses direction about 2 steps in 3: no bounce.
    lrs, loss = curve(3000, constant(0.1), seed=seed, noise=0.4)
    assert of(run(records(lrs, loss)), "oscillation") == []


@pytest.mark.parametrize(("lr", "optimizer"), [(5e-4, "SGD"), (1e-5, None)])
def test_slow_progress_suggests_ten_times_the_lr(lr: float, optimizer: str | None) -> None:
    """Small for SGD, or small for any optimizer when the log does not name it."""
    lrs, loss = curve(1500, constant(lr), seed=2, noise=0.03)
    recs = records(lrs, loss)
    engine = run(_with_optimizer(recs, optimizer) if optimizer else recs)
    (f,) = of(engine, "slow_progress")
    assert f.severity == "warning" and f.step <= 150
    assert f.action == {"op": "set_lr", "value": pytest.approx(lr * 10)}
    assert of(engine, "plateau") == []  # the more specific finding explains it


def test_val_plateau_at_full_lr_is_an_info_to_decay() -> None:
    """A val loss that stopped improving is a converged run: decay or stop, no alarm."""
    lrs, loss = curve(3000, constant(0.1), seed=3)
    t = np.arange(3000)
    val = 0.8 + 1.5 / (1 + np.minimum(t, 800) / 100)
    val = val + 0.005 * np.random.default_rng(0).standard_normal(3000)
    found = [f for f in of(run(records(lrs, loss, val=val, val_every=100)), "plateau")]
    (f,) = [f for f in found if f.evidence["metric"] == "val_loss"]
    assert f.severity == "info" and f.action == {"op": "scale_lr", "factor": 0.1}


def test_train_plateau_is_info_and_one_finding() -> None:
    lrs, loss = curve(5000, constant(0.1), seed=0, noise=0.4)
    found = of(run(records(lrs, loss)), "plateau")
    assert len(found) == 1 and found[0].severity == "info"


def test_overfitting(base) -> None:
    lrs, loss = curve(3000, constant(0.1), seed=3)
    t = np.arange(3000)
    val = 0.8 + 1.5 / (1 + t / 100) + np.maximum(0, (t - 1200) / 1000) ** 2 * 0.8
    engine = run(records(lrs, loss, val=val, val_every=100))
    (f,) = of(engine, "overfitting")
    best = f.evidence["best_step"]
    assert f.severity == "warning" and 1100 <= best <= 1500
    assert f"step {best}" in f.suggestion
    assert [p for p in of(engine, "plateau") if p.evidence["metric"] == "val_loss"] == []


def test_label_smoothing_val_below_train_is_not_overfitting() -> None:
    lrs, loss = curve(3000, constant(0.1), seed=4)
    val = loss * 0.0 + np.linspace(1.5, 0.4, 3000)  # val well below train, both falling
    assert of(run(records(lrs, loss + 0.5, val=val, val_every=100)), "overfitting") == []


def test_grad_norm_spike_and_growth() -> None:
    lrs, loss = curve(3000, constant(0.1), seed=3)
    g = np.exp(0.1 * np.random.default_rng(5).standard_normal(3000))
    spike = g.copy()
    spike[1500] = 80
    (f,) = of(run(records(lrs, loss, grad=spike)), "grad_explosion")
    assert f.severity == "warning" and f.step == 1500
    grow = g.copy()
    grow[1000:] *= np.exp(np.minimum(np.arange(2000) * 0.01, 6))
    (h,) = of(run(records(lrs, loss, grad=grow)), "grad_explosion")
    assert h.severity == "error" and 1000 < h.step < 1400


def test_stalled_and_resolved_when_records_come_back() -> None:
    engine = Engine()
    engine.feed([Metrics(1, {"loss": 1.0}, t=100.0), Metrics(2, {"loss": 0.9}, t=101.0)])
    assert engine.check_stalled(time.time() + 5) == []
    (f,) = engine.check_stalled(time.time() + 1000)
    assert f.symptom == "stalled" and f.severity == "warning" and f.step == 2
    assert engine.check_stalled(time.time() + 2000) == []  # one finding, not one per check
    changed = engine.feed([Metrics(3, {"loss": 0.8}, t=2000.0)])
    assert changed == [f] and f.resolved


def test_ended_run_is_never_stalled() -> None:
    engine = Engine()
    engine.feed([Metrics(1, {"loss": 1.0}), Event("end", {"status": "finished"}, step=1)])
    assert engine.check_stalled(time.time() + 10_000) == []


def test_to_dict_is_json_safe() -> None:
    import json

    f = Finding("nan_inf", "error", 3, 3, evidence={"value": float("nan"), "x": [float("inf")]})
    d = f.to_dict()
    assert d["evidence"] == {"value": "NaN", "x": ["Infinity"]}
    json.dumps(d, allow_nan=False)


def _with_optimizer(recs: list, optimizer: str) -> list:
    head = recs[0]
    return [Event("run", {**head.data, "optimizer": optimizer}, step=0), *recs[1:]]


def test_steady_linear_decline_at_a_small_lr_is_slow_progress() -> None:
    # Falls 25% over the run along a straight line: no knee, so the LR is too low.
    t = np.arange(600)
    rng = np.random.default_rng(3)
    loss = (1.6 - 0.4 * t / 600) * np.exp(0.02 * rng.standard_normal(600))
    lrs = np.full(600, 1e-5)
    (f,) = of(run(_with_optimizer(records(lrs, loss), "Adam")), "slow_progress")
    assert f.severity == "warning" and f.evidence["kind"] == "steady"
    assert f.action == {"op": "set_lr", "value": pytest.approx(1e-4)}


def test_flat_loss_at_a_large_lr_never_suggests_raising_it() -> None:
    # SGD at LR 2 stuck at chance: looks flat like a too-low LR, but the LR says otherwise.
    rng = np.random.default_rng(4)
    loss = 1.39 * np.exp(0.06 * rng.standard_normal(500))
    engine = run(_with_optimizer(records(np.full(500, 2.0), loss), "SGD"))
    assert of(engine, "slow_progress") == []
    (f,) = of(engine, "stuck_high_lr")
    assert f.severity == "warning" and f.evidence["kind"] == "stuck_high_lr"
    assert f.action == {"op": "scale_lr", "factor": 0.1} and "too high" in f.message
    assert "2.0e+00 → 2.0e-01" in f.suggestion
    assert all(
        f.action is None or f.action.get("factor", 0) < 1 or f.action.get("value", 9) < 2.0
        for f in engine.findings
    )


def test_a_healthy_run_that_learns_late_is_not_slow_progress() -> None:
    # A CNN at chance for 120 points (noisy), then it learns: no "raise the LR" warning.
    rng = np.random.default_rng(5)
    t = np.arange(500)
    clean = np.where(t < 120, 1.386, 0.05 + 1.336 * np.exp(-(t - 120) / 40.0))
    loss = clean * np.exp(0.12 * rng.standard_normal(500))
    engine = run(_with_optimizer(records(np.full(500, 0.3), loss), "SGD"))
    assert [f for f in engine.findings if f.severity != "info"] == []


def test_heavy_tailed_batch_noise_near_zero_is_neither_divergence_nor_spikes() -> None:
    # Batch-4 classification near 0.02: log-normal noise with sigma 1.2 makes single batches
    # 20-50x the median; the loss is not diverging and these are not spikes.
    rng = np.random.default_rng(6)
    t = np.arange(3000)
    clean = 0.02 + 1.6 / (1 + t / 30.0)
    loss = clean * np.exp(1.2 * rng.standard_normal(3000) - 0.72)
    engine = run(records(np.full(3000, 0.05), loss))
    assert [f for f in engine.findings if f.severity != "info"] == []
    assert of(engine, "loss_spike") == []


def test_lr_shock_past_the_peak_is_judged_against_the_level_before_it() -> None:
    # LR x50 for 3 points, then back: the loss bump right after it is the symptom, not a
    # schedule's expected bump (a warm restart goes back to an LR already used).
    lrs, loss = curve(1500, constant(0.001), lr_ref=0.001, seed=7, noise=0.3)
    lrs, loss = lrs.copy(), loss.copy()
    lrs[800:803] *= 50
    loss[803:806] *= np.array([4.0, 6.0, 3.0])
    (f,) = of(run(records(lrs, loss)), "loss_spike")
    assert 800 <= f.step <= 805 and f.action["factor"] < 1


def test_blow_up_in_the_first_steps_is_found_at_once() -> None:
    # Adam at LR 0.3: the loss jumps 50x at step 1 and then comes back down.
    rng = np.random.default_rng(8)
    loss = np.concatenate(
        [[0.28, 15.8, 21.7, 19.7, 6.2], 0.3 * np.exp(0.3 * rng.standard_normal(300))]
    )
    engine = run(records(np.full(len(loss), 0.3), loss))
    first = min(engine.findings, key=lambda f: f.step)
    assert first.symptom in ("loss_spike", "divergence") and first.step <= 2
    assert first.severity != "info" and first.action["factor"] == 0.1


def test_a_symptom_back_soon_after_it_resolved_reopens_the_same_finding(base) -> None:
    lrs, loss = base
    loss = loss.copy()
    loss[800] *= 4  # a lone spike: info, resolved after 50 quiet points (~851)
    loss[880] *= 4  # back 30 points later: the same finding, reopened
    loss[1300] *= 4  # long after: a new finding
    found = of(run(records(lrs, loss)), "loss_spike")
    assert [f.step for f in found] == [800, 1300]
    assert found[0].evidence["reopened"] == 1 and found[0].last_step == 880


def test_divergence_resolves_only_when_the_loss_is_back_near_its_start() -> None:
    # RMSprop at LR 1.0: the loss jumps ~100x in the first steps and stays there, noisy, with
    # an occasional batch fitted exactly (loss 0.0). Still diverged: never "resolved".
    rng = np.random.default_rng(3)
    loss = 100.0 * np.exp(rng.normal(0.0, 0.8, 150))
    loss[0] = 1.43
    loss[50] = 0.0
    lrs = np.full(150, 1.0)
    (f,) = of(run(records(lrs, loss)), "divergence")
    assert f.severity == "error" and f.step <= 5 and not f.resolved
    # The same blow-up followed by a real recovery to the start level does resolve.
    back = loss.copy()
    back[60:] = 1.2 * np.exp(rng.normal(0.0, 0.05, 90))
    (g,) = of(run(records(lrs, back)), "divergence")
    assert g.resolved and g.resolved_step >= 60


def _converging(lr: float, optimizer: str) -> list:
    # Decelerates, then flat for 600 points, with 10% log-normal batch noise.
    t = np.arange(1200)
    rng = np.random.default_rng(5)
    loss = (0.2 + 2.0 * np.exp(-t / 80)) * np.exp(0.1 * rng.standard_normal(1200))
    recs = records(np.full(1200, lr), loss)
    recs[0] = Event("run", {"lr": [lr], "optimizer": optimizer}, step=0)
    return recs


def test_converged_plateau_suggests_decay_but_never_below_a_small_lr() -> None:
    (f,) = of(run(_converging(0.1, "SGD")), "plateau")
    assert f.severity == "info" and f.action == {"op": "scale_lr", "factor": 0.1}
    assert "Converged" in f.suggestion and f.step >= 300  # not before it flattened
    # SGD at 2e-3 is already small: lowering it further is the wrong direction.
    (g,) = of(run(_converging(2e-3, "SGD")), "plateau")
    assert g.action is None and "do not lower" in g.suggestion
    (h,) = of(run(_converging(5e-6, "Adam")), "plateau")
    assert h.action is None


def test_plateau_is_not_reported_while_a_noisy_loss_still_falls() -> None:
    # 40% batch noise: a 20%-per-150-points decline is within 2 sigmas of flat in a single
    # window, but not for 50 windows in a row.
    t = np.arange(1500)
    rng = np.random.default_rng(6)
    loss = 2.0 * np.exp(-t / 700) * np.exp(0.4 * rng.standard_normal(1500))
    assert of(run(records(np.full(1500, 0.1), loss)), "plateau") == []


def _cold_start(lr_first: float, noise: float, seed: int) -> list:
    # Adam at a constant LR with no warmup: the loss rises ~1.8x its first value in steps
    # 3-5, then recovers and learns. With lr_first < lr, the LR warms up instead.
    rng = np.random.default_rng(seed)
    t = np.arange(300)
    loss = (1.0 + 3.0 * np.exp(-t / 60)) * np.exp(noise * rng.standard_normal(300))
    loss[0] = 4.3
    loss[2:6] *= np.array([1.5, 1.8, 1.4, 1.1])
    lrs = np.minimum(0.2, lr_first + (0.2 - lr_first) * t / 20)
    return records(lrs, loss)


def test_rise_in_the_first_steps_without_warmup_is_a_warmup_warning() -> None:
    (f,) = of(run(_cold_start(0.2, 0.03, 0)), "loss_spike")
    assert f.severity == "warning" and 2 <= f.step <= 5 and f.evidence["no_warmup"]
    assert "warmup" in f.suggestion and f.action == {"op": "scale_lr", "factor": 0.5}
    # The same rise while the LR warms up is not this symptom.
    assert of(run(_cold_start(0.01, 0.03, 0)), "loss_spike") == []


@pytest.mark.parametrize("seed", range(4))
def test_noisy_first_steps_are_not_a_missing_warmup(seed: int) -> None:
    # 30% batch noise and no rise: a lucky low first batch must not look like a spike.
    rng = np.random.default_rng(seed)
    t = np.arange(300)
    loss = (1.0 + 3.0 * np.exp(-t / 60)) * np.exp(0.3 * rng.standard_normal(300))
    assert of(run(records(np.full(300, 0.1), loss)), "loss_spike") == []


def test_three_points_back_above_the_start_confirm_divergence_at_once(base) -> None:
    # The loss learned (2.3 -> ~0.3), then three points in a row land above the start: an
    # error by the third, before a 7-point median could move.
    lrs, loss = base
    loss = loss.copy()
    loss[600:] = np.array([3.0, 5.0, 4.0] + [6.0] * 897)
    (f,) = of(run(records(lrs, loss)), "divergence")
    assert f.severity == "error" and 600 <= f.step <= 602
    early = run(records(lrs[:603], loss[:603]))
    assert [g.severity for g in of(early, "divergence")] == ["error"]


def test_flat_noisy_loss_at_a_normal_lr_is_not_blamed_on_a_high_lr() -> None:
    # Same flat, noisy curve at SGD LR 0.1 (not large): too high or too low is unknown, so it
    # is a slow_progress "stuck" finding with no action, never stuck_high_lr: an info at
    # first (a run may start late), a warning once it has not moved for stuck_points.
    rng = np.random.default_rng(4)
    loss = 1.386 * np.exp(0.06 * rng.standard_normal(500))
    recs = _with_optimizer(records(np.full(500, 0.1), loss), "SGD")
    early = run(recs[:201])
    (f,) = of(early, "slow_progress")
    assert f.evidence["kind"] == "stuck" and f.severity == "info" and f.action is None
    assert "never learned" in f.message and "ln 4" in f.message  # a 4-class chance level
    engine = run(recs)
    assert of(engine, "stuck_high_lr") == []
    (f,) = of(engine, "slow_progress")
    assert f.evidence["kind"] == "stuck" and f.severity == "warning" and f.action is None
