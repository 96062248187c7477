"""Labels by construction, checked against the logged values as a careful labeller would.

A label says, per run: ``primary`` (the symptom whose recall the run counts for, or None),
``expected`` (every symptom that is a right diagnosis -> its onset step; empty for a healthy
run), ``excluded`` (the construction did not produce the symptom: not scored), ``accepted`` (other symptoms that are not false alarms on this run, e.g. ``grad_explosion``
on a run that diverges), ``direction`` of the LR fix ("down", "up" or None: no LR direction is
required, only "up" would be wrong) and ``notes``. Every threshold here is a labelling rule,
documented in docs/rules-quality.md, and none is taken from the rule engine.
"""

from __future__ import annotations

import math
from statistics import median
from typing import Any

from benchmarks.corpus_lib.levels import MIN_LEVEL_POINTS, level, level_points
from benchmarks.corpus_lib.trainer import RunSpec

#: Whole-run symptoms (too-low LR, oscillation): the onset is the logged point by which a
#: person looking at the curve could reasonably call it (a curve of 50 points).
WHOLE_RUN_POINTS = 50
#: A blow-up holds at >= this share of the line it crossed for MIN_LEVEL_POINTS points.
HOLD = 2.0 / 3.0
#: A blow-up "stayed up" (divergence) when the level never came back below this x the best
#: before it; otherwise the loss came back down (a spike).
STAYED_UP = 1.5


def label_run(spec: RunSpec, out: dict[str, Any]) -> dict[str, Any]:
    """The label of one trained run from its spec and logged series."""
    steps, loss = out["steps"], out["loss"]
    label: dict[str, Any] = {
        "primary": None,
        "expected": {},
        "accepted": [],
        "direction": None,
        "excluded": False,
        "notes": "",
    }
    nonfinite = _first_nonfinite(steps, loss)
    if spec.intent == "healthy":
        _healthy(label, spec, out, nonfinite)
    elif spec.intent == "too_high":
        _too_high(label, steps, loss, nonfinite)
    elif spec.intent == "too_low":
        label.update(expected={"slow_progress": _whole_run_onset(steps)}, direction="up")
        label["accepted"] = ["plateau"]
        label["notes"] = f"LR {spec.lr:g} is 30-1000x below the working LR for this task"
    elif spec.intent == "oscillation":
        _oscillation(label, steps, loss, nonfinite)
    elif spec.intent == "spike":
        _spike(label, spec, steps, loss, nonfinite)
    elif spec.intent == "overfitting":
        _overfitting(label, out)
    elif spec.intent == "plateau":
        _plateau(label, steps, loss)
    if spec.grad_norm and label["expected"] and label["direction"] == "down":
        label["accepted"].append("grad_explosion")
    if label["primary"] is None and label["expected"] and not label["notes"].startswith("stuck"):
        label["primary"] = next(iter(label["expected"]))
    if "CONSTRUCTION FAILED" in label["notes"]:
        label.update(excluded=True, expected={}, accepted=[], direction=None, primary=None)
    return label


def _healthy(
    label: dict[str, Any], spec: RunSpec, out: dict[str, Any], nonfinite: int | None
) -> None:
    if nonfinite is not None:
        label["notes"] = f"UNEXPECTED: a healthy run went non-finite at step {nonfinite}"
        label["expected"] = {"nan_inf": nonfinite}
        label["direction"] = "down"
        return
    loss = out["loss"]
    if median(loss[-max(3, len(loss) // 10) :]) > 0.7 * median(loss[:3]):
        label["notes"] = "CONSTRUCTION FAILED: a run meant to be healthy did not learn"
        return
    rise = _val_rise(out["val"])
    if rise is not None and rise >= 0.10:
        # The val loss really rose: calling it overfitting is not a false alarm.
        label["accepted"].append("overfitting")
        label["notes"] = f"val loss ended {rise:.0%} above its minimum"


def _too_high(
    label: dict[str, Any], steps: list[int], loss: list[float], nonfinite: int | None
) -> None:
    label["direction"] = "down"
    # stuck_high_lr says "no progress at an LR large for the optimizer: too high": right too.
    label["accepted"] = ["loss_spike", "oscillation", "divergence", "stuck_high_lr"]
    if nonfinite is not None:
        label["expected"] = {"nan_inf": nonfinite}
        label["notes"] = f"loss non-finite from step {nonfinite}"
        finite = [v for v in loss if math.isfinite(v)]
        jump = divergence_onset(steps, finite, ends_nonfinite=True)
        if jump is not None and steps[jump[0]] < nonfinite - 5 * (steps[1] - steps[0]):
            # A long finite climb before the NaN: calling it divergence first is right too.
            label["expected"]["divergence"] = steps[jump[0]]
            label["notes"] += f", climbing from step {steps[jump[0]]}"
        return
    jump = divergence_onset(steps, loss)
    too_high = ("divergence", "loss_spike", "oscillation")  # each says "LR too high"
    if jump is not None:
        i, best = jump
        # "Stayed up" means stayed up: the level never came back near the best before the
        # blow-up (a burst of spikes in the last few points is not staying up).
        low = min(level(loss, MIN_LEVEL_POINTS)[i:])
        kind = "divergence" if low >= STAYED_UP * best else "loss_spike"
        label["primary"] = kind
        label["expected"] = {kind: steps[i], **{s: steps[i] for s in too_high if s != kind}}
        label["notes"] = (
            f"loss blew up at step {steps[i]} and stayed up (never back below {low:.3g}, "
            f"best before {best:.3g})"
            if kind == "divergence"
            else f"loss blew up at step {steps[i]}, then came back down (to {low:.3g}; "
            f"best before {best:.3g})"
        )
        return
    if median(loss[len(loss) // 2 :]) >= 0.9 * loss[0]:
        # Never learned: stuck near chance. From the curve alone this looks like a too-low
        # LR; only the LR value says otherwise. Any "LR too high" symptom is a right answer.
        # stuck_high_lr names exactly this: no progress at all at an LR too high.
        label["expected"] = {s: _whole_run_onset(steps) for s in (*too_high, "stuck_high_lr")}
        label["notes"] = "stuck: never learned (second-half median >= 90% of the first loss)"
        return
    label["notes"] = "CONSTRUCTION FAILED: too-high LR but the loss neither blew up nor stalled"


def divergence_onset(
    steps: list[int], loss: list[float], ends_nonfinite: bool = False
) -> tuple[int, float] | None:
    """(index, best before) of the first sustained blow-up, else None.

    A blow-up: the 7-point level (:func:`level`) reaches >= 2x the initial loss, or >= 3x the
    best so far after a real improvement, and holds at >= 2/3 of that line for 7 points (or
    until the loss went non-finite): a lone excursion of a noisy level is not a blow-up. The
    best is the lowest *noise-adapted* level (:func:`level_points`): on a noisy run the lowest
    7-point median is a lucky low, and 3x a lucky low is the run's ordinary level."""
    fine, wide = level(loss, MIN_LEVEL_POINTS), level(loss, level_points(loss))
    initial, best = loss[0], math.inf  # the first logged value, as a person reads it
    for i, m in enumerate(fine):
        line, ref = math.inf, best
        if initial > 0 and m >= 2.0 * initial:
            line, ref = 2.0 * initial, min(best, initial)
        elif best < 0.8 * initial and m >= 3.0 * best:
            line = 3.0 * best
        hold = fine[i : i + MIN_LEVEL_POINTS]
        if (
            line < math.inf
            and (len(hold) == MIN_LEVEL_POINTS or ends_nonfinite)
            and all(v >= HOLD * line for v in hold)
        ):
            return i, ref
        best = min(best, wide[i])
    return None


def _oscillation(
    label: dict[str, Any], steps: list[int], loss: list[float], nonfinite: int | None
) -> None:
    label["direction"] = "down"
    label["accepted"] = ["loss_spike", "plateau", "slow_progress"]
    if nonfinite is not None:
        label["expected"] = {"nan_inf": nonfinite}
        label["accepted"].append("divergence")
        label["notes"] = "meant to oscillate at the edge of stability, but diverged"
        return
    r = lag1_autocorr(loss[len(loss) // 4 :])
    if r > -0.3:
        label["notes"] = f"CONSTRUCTION FAILED: no period-2 swing (lag-1 autocorr {r:.2f})"
        return
    label["expected"] = {"oscillation": _whole_run_onset(steps)}
    label["notes"] = (
        f"full-batch GD at the edge of stability: lag-1 autocorr of the detrended loss {r:.2f}"
    )


def lag1_autocorr(xs: list[float]) -> float:
    """Lag-1 autocorrelation of ``xs`` minus its 9-point centred moving average."""
    k = 4
    d = [xs[i] - sum(xs[i - k : i + k + 1]) / (2 * k + 1) for i in range(k, len(xs) - k)]
    if len(d) < 10:
        return 0.0
    mu = sum(d) / len(d)
    var = sum((v - mu) ** 2 for v in d)
    cov = sum((d[i] - mu) * (d[i + 1] - mu) for i in range(len(d) - 1))
    return cov / var if var > 0 else 0.0


def _spike(
    label: dict[str, Any], spec: RunSpec, steps: list[int], loss: list[float], nonfinite: int | None
) -> None:
    event = spec.shock or spec.bad_batch
    assert event is not None
    at = event[0]
    label["direction"] = "down" if spec.shock else None
    label["accepted"] = ["divergence", "grad_explosion", "nan_inf"]
    if nonfinite is not None:
        label["expected"] = {"nan_inf": nonfinite}
        label["direction"] = "down"
        label["notes"] = f"the shock at step {at} made the loss non-finite"
        return
    # First logged point at or after the event (a log-every-10 point covers it).
    i = next(j for j, s in enumerate(steps) if s >= at)
    before = median(loss[max(0, i - 20) : i])
    peak = max(loss[i : i + 3])
    if peak < 1.5 * before:
        label["notes"] = f"CONSTRUCTION FAILED: no visible spike ({peak:.3g} vs {before:.3g})"
        return
    label["expected"] = {"loss_spike": steps[i]}
    what = f"LR x{spec.shock[1]:g} for {spec.shock[2]} steps" if spec.shock else "corrupted batch"
    label["notes"] = f"{what} at step {at}: loss {before:.3g} -> {peak:.3g}"


def _overfitting(label: dict[str, Any], out: dict[str, Any]) -> None:
    vals, vsteps = out["val"], out["val_steps"]
    rise = _val_rise(vals)
    label["accepted"] = ["plateau"]
    if rise is None or rise < 0.10:
        label["notes"] = "CONSTRUCTION FAILED: the val loss did not rise 10% above its minimum"
        return
    best = min(range(len(vals)), key=lambda j: vals[j])
    label["expected"] = {"overfitting": vsteps[best]}
    label["notes"] = f"val loss lowest at step {vsteps[best]}, ends {rise:.0%} above it"


def _val_rise(vals: list[float]) -> float | None:
    """How far the last 3 evaluations' median sits above the lowest eval (relative)."""
    if len(vals) < 6 or not all(math.isfinite(v) for v in vals):
        return None
    lo = min(vals)
    return median(vals[-3:]) / lo - 1.0 if lo > 0 else None


def _plateau(label: dict[str, Any], steps: list[int], loss: list[float]) -> None:
    label["direction"] = "down"
    label["accepted"] = ["slow_progress"]
    n = len(loss)
    k = 10
    smooth = [median(loss[max(0, i - k) : i + k + 1]) for i in range(n)]
    final = median(loss[-n // 5 :])
    onset = next(i for i, v in enumerate(smooth) if v <= 1.05 * final)
    if onset > n // 2:
        label["notes"] = "CONSTRUCTION FAILED: the loss kept improving past mid-run"
        return
    label["expected"] = {"plateau": steps[onset]}
    label["notes"] = f"loss within 5% of its final level from step {steps[onset]} of {steps[-1]}"


def _first_nonfinite(steps: list[int], loss: list[float]) -> int | None:
    return next((s for s, v in zip(steps, loss, strict=True) if not math.isfinite(v)), None)


def _whole_run_onset(steps: list[int]) -> int:
    return steps[min(WHOLE_RUN_POINTS, len(steps)) - 1]
