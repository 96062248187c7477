"""Holdout labels, continued: healthy, oscillation, too-low, shuffled labels, overfitting."""

from __future__ import annotations

import math
from statistics import median
from typing import Any

from benchmarks.holdout_lib.labels import (
    NO_GAIN,
    SHORT_RUN_POINTS,
    SWING_RATIO,
    blew_up,
    level_points,
    nonfinite,
    start_level,
    whole_run_onset,
)

#: Windows (and their stride) over which a swing is measured.
SWING_WINDOW, SWING_STRIDE = 20, 10
#: Healthy: the end (median of the last 10%) is at most this share of the start.
HEALTHY_GAIN = 0.7
#: Too low: excluded when the loss fell by more than this (then the LR was not too low).
TOO_LOW_FALL = 0.3
#: Overfitting: the last evaluations' median is >= this much above the best (relative).
VAL_RISE = 0.10


def end_level(loss: list[float]) -> float:
    """Where the run ended: the median of its last 10% of points (at least 3)."""
    return median(loss[-max(3, len(loss) // 10) :])


def healthy(label: dict[str, Any], spec: dict[str, Any], series: dict[str, Any]) -> None:
    """Healthy (or a fine-tune): check the construction; no finding is expected."""
    loss = series["loss"]
    if any(not math.isfinite(v) for v in loss):
        label["notes"] = "CONSTRUCTION FAILED: a run meant to be healthy went non-finite"
        return
    start, end = start_level(loss), end_level(loss)
    if spec["intent"] == "finetune":
        if end > median(loss[: max(3, len(loss) // 10)]):
            label["notes"] = f"CONSTRUCTION FAILED: the fine-tune ended above its start ({end:.3g})"
            return
        label["notes"] = f"fine-tune: loss {start:.3g} -> {end:.3g}"
    elif end > HEALTHY_GAIN * start:
        label["notes"] = (
            f"CONSTRUCTION FAILED: meant to be healthy, did not learn ({start:.3g} -> {end:.3g})"
        )
        return
    else:
        label["notes"] = f"loss {start:.3g} -> {end:.3g}"
    for name, val in series["val"].items():
        rise, excursion = val_rise(val["values"]), val_excursion(val["values"])
        if rise is not None and rise > VAL_RISE:
            label["notes"] = f"CONSTRUCTION FAILED: val {name} ended {rise:.0%} above its best"
            return
        if excursion is not None:
            label["notes"] += (
                f"; val {name}: up to {excursion:.0%} above its best so far, ends {rise or 0:.0%} above its best"
            )


def oscillation(
    label: dict[str, Any], steps: list[int], loss: list[float], twin: dict[str, Any] | None
) -> None:
    """Mini-batch SGD/Adam at a too-high LR that swings without net improvement."""
    label["direction"] = "down"
    label["accepted"] = ["loss_spike", "divergence", "stuck_high_lr", "plateau"]
    if nonfinite(label, steps, loss) or blew_up(label, steps, loss):
        return
    if twin is None or len(twin["loss"]) < 2 * SWING_WINDOW:
        label["notes"] = "CONSTRUCTION FAILED: no tuned twin to compare the swing with"
        return
    at, h = len(loss) // 4, level_points(loss) // 2  # a noisy run needs a wider median
    ref = median(loss[max(0, at - h) : at + h + 1])
    later = median(loss[len(loss) // 2 :])
    mine, theirs = swing(loss), swing(twin["loss"])
    facts = (
        f"swing {mine:.3g} vs {theirs:.3g} at the tuned LR ({mine / theirs:.1f}x); "
        f"level {ref:.3g} at 25% -> {later:.3g} in the second half"
    )
    if later < NO_GAIN * ref or mine < SWING_RATIO * theirs:
        label["notes"] = f"CONSTRUCTION FAILED: no oscillation without progress ({facts})"
        return
    onset = whole_run_onset(steps)
    label["expected"] = {"oscillation": onset}
    if later >= start_level(loss):
        # Above where it started: it has lost all its progress, which divergence says too.
        label["expected"]["divergence"] = onset
        facts += "; above its start"
    label["primary"] = "oscillation"
    label["notes"] = f"oscillates: {facts}"


def swing(loss: list[float]) -> float:
    """Median over the second half's 20-point windows of the 90th minus the 10th percentile."""
    half = [v for v in loss[len(loss) // 2 :] if math.isfinite(v)]
    spans = []
    for i in range(0, len(half) - SWING_WINDOW + 1, SWING_STRIDE):
        w = sorted(half[i : i + SWING_WINDOW])
        spans.append(w[round(0.9 * (len(w) - 1))] - w[round(0.1 * (len(w) - 1))])
    return median(spans) if spans else math.nan


def too_low(
    label: dict[str, Any], steps: list[int], loss: list[float], spec: dict[str, Any]
) -> None:
    """A far too low LR: slow progress over the whole run; the fix raises the LR."""
    start, end = start_level(loss), end_level(loss)
    if end < (1.0 - TOO_LOW_FALL) * start:
        label["notes"] = f"CONSTRUCTION FAILED: the loss fell {1 - end / start:.0%} (not too low)"
        return
    label["expected"] = {"slow_progress": whole_run_onset(steps, SHORT_RUN_POINTS)}
    label["direction"] = "up"
    label["accepted"] = ["plateau"]
    label["notes"] = f"LR {spec['lr']:g} far below the working LR: loss {start:.4g} -> {end:.4g}"


def shuffled(label: dict[str, Any], steps: list[int], loss: list[float]) -> None:
    """Labels shuffled: the loss sits at chance whatever the LR; no LR direction is right."""
    start, later = start_level(loss), median(loss[len(loss) // 2 :])
    if later < NO_GAIN * start:
        label["notes"] = (
            f"CONSTRUCTION FAILED: learned on shuffled labels ({start:.3g} -> {later:.3g})"
        )
        return
    label["expected"] = {"slow_progress": whole_run_onset(steps)}
    label["accepted"] = ["plateau"]
    label["notes"] = f"stuck: labels shuffled, loss at chance ({start:.3g} -> {later:.3g})"


def overfitting(label: dict[str, Any], series: dict[str, Any]) -> None:
    """Val loss (any named set) rising >= 10% above its best: onset at the best eval."""
    label["accepted"] = ["plateau"]
    onsets, rises = [], []
    for name, val in series["val"].items():
        rise = val_rise(val["values"])
        if rise is not None and rise >= VAL_RISE:
            best = min(range(len(val["values"])), key=lambda j: val["values"][j])
            onsets.append(val["steps"][best])
            rises.append(f"{name} lowest at step {val['steps'][best]}, ends {rise:.0%} above it")
    if not onsets:
        label["notes"] = "CONSTRUCTION FAILED: no val loss rose 10% above its minimum"
        return
    label["expected"] = {"overfitting": min(onsets)}
    label["notes"] = "; ".join(rises)


def val_rise(vals: list[float]) -> float | None:
    """How far the last 3 evaluations' median sits above the lowest eval (relative)."""
    if len(vals) < 6 or not all(math.isfinite(v) for v in vals):
        return None
    lo = min(vals)
    return median(vals[-3:]) / lo - 1.0 if lo > 0 else None


def val_excursion(vals: list[float]) -> float | None:
    """The largest rise of an eval above the best eval before it (relative)."""
    if len(vals) < 6:
        return None
    best, worst = vals[0], 0.0
    for v in vals[1:]:
        if best > 0:
            worst = max(worst, v / best - 1.0)
        best = min(best, v)
    return worst
