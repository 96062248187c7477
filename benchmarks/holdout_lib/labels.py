"""Labels of the holdout corpus: from each run's construction and the values it logged.

Same schema as ``corpus_lib/labels.py`` (``primary``, ``expected`` {symptom: onset step},
``accepted``, ``direction``, ``excluded``, ``notes``), plus ``family`` and ``logger``. The
rules are written down in docs/rules-quality.md ("The second (holdout) corpus") and were
fixed before any run was scored; no threshold here comes from the rule engine's config.
Series are what ``readback`` read from the file (steps are optimizer steps).
"""

from __future__ import annotations

import math
from statistics import median
from typing import Any

from benchmarks.corpus_lib.levels import MIN_LEVEL_POINTS, level, level_points

#: A curve needs this many logged points before a person can call a whole-run symptom ...
WHOLE_RUN_POINTS = 50
#: ... or this many on a run with fewer than 100 points (too-low runs: always this many).
SHORT_RUN_POINTS = 20
#: The loss level is a centred median of at least this many points (odd; more on noisy runs:
#: :func:`benchmarks.corpus_lib.levels.level_points`, the same reading as corpus 1's labels)
LEVEL = MIN_LEVEL_POINTS
#: ... and its best a centred median this wide, so a lucky low batch is not "the best".
BEST_LEVEL = 21
#: A blow-up holds at >= this share of the line it crossed for LEVEL points.
HOLD = 2.0 / 3.0
#: After a blow-up, "stayed up" (divergence) unless the level comes back below this x best.
STAYED_UP = 1.5
#: Oscillation: the swing is >= this x the tuned twin's, and the level fell < 10%.
SWING_RATIO = 2.0
#: Stuck (never learned) / no net improvement: a level >= this share of the reference.
NO_GAIN = 0.9
#: Symptoms that each say "the LR is too high" on a run that blew up or never learned.
TOO_HIGH = ("divergence", "loss_spike", "oscillation")


def new_label(family: str, logger: str) -> dict[str, Any]:
    """An empty (healthy) label."""
    return {
        "family": family,
        "logger": logger,
        "primary": None,
        "expected": {},
        "accepted": [],
        "direction": None,
        "excluded": False,
        "notes": "",
    }


def label_run(
    spec: dict[str, Any], series: dict[str, Any], twin: dict[str, Any] | None, logger: str
) -> dict[str, Any]:
    """The label of one run (one file) from its spec, its series and its twin's series."""
    from benchmarks.holdout_lib import labels_more as more

    label = new_label(spec["family"], logger)
    steps, loss = series["steps"], series["loss"]
    intent = spec["intent"]
    if len(loss) < 10:
        label["notes"] = f"CONSTRUCTION FAILED: only {len(loss)} loss points logged"
    elif intent in ("healthy", "finetune"):
        more.healthy(label, spec, series)
    elif intent in ("too_high", "warmup_high", "stuck_high"):
        too_high(label, steps, loss)
    elif intent == "osc":
        more.oscillation(label, steps, loss, twin)
    elif intent == "too_low":
        more.too_low(label, steps, loss, spec)
    elif intent == "stuck_shuffled":
        more.shuffled(label, steps, loss)
    elif intent == "overfit":
        more.overfitting(label, series)
    if label["expected"] and label["direction"] == "down":
        label["accepted"].append("grad_explosion")
    if label["primary"] is None and label["expected"]:
        label["primary"] = next(iter(label["expected"]))
    if "CONSTRUCTION FAILED" in label["notes"]:
        label.update(excluded=True, expected={}, accepted=[], direction=None, primary=None)
    return label


def too_high(label: dict[str, Any], steps: list[int], loss: list[float]) -> None:
    """A too-high LR (constant, at the end of a warmup, or one meant to kill the model)."""
    label["direction"] = "down"
    label["accepted"] = [*TOO_HIGH, "stuck_high_lr"]
    if nonfinite(label, steps, loss):
        return
    if blew_up(label, steps, loss):
        return
    first = start_level(loss)
    if median(loss[len(loss) // 2 :]) >= NO_GAIN * first:
        onset = whole_run_onset(steps)
        label["primary"] = "stuck_high_lr"
        label["expected"] = {s: onset for s in ("stuck_high_lr", *TOO_HIGH)}
        label["notes"] = (
            f"stuck: never learned (second-half median {median(loss[len(loss) // 2 :]):.3g} "
            f">= 90% of the start {first:.3g})"
        )
        return
    label["notes"] = "CONSTRUCTION FAILED: too-high LR but the loss neither blew up nor stalled"


def nonfinite(label: dict[str, Any], steps: list[int], loss: list[float]) -> bool:
    """Label ``nan_inf`` at the first non-finite point (and a long climb before it as
    ``divergence`` too); returns whether the loss went non-finite."""
    bad = next((i for i, v in enumerate(loss) if not math.isfinite(v)), None)
    if bad is None:
        return False
    label["expected"] = {"nan_inf": steps[bad]}
    label["notes"] = f"loss non-finite from step {steps[bad]}"
    jump = blow_up_onset(loss[:bad], ends_nonfinite=True)
    if jump is not None and jump[0] < bad - 5:
        label["expected"]["divergence"] = steps[jump[0]]
        label["notes"] += f", climbing from step {steps[jump[0]]}"
    if "divergence" not in label["accepted"]:
        label["accepted"].append("divergence")
    return True


def blew_up(label: dict[str, Any], steps: list[int], loss: list[float]) -> bool:
    """Label a sustained blow-up (divergence if it stayed up, else loss_spike)."""
    jump = blow_up_onset(loss)
    if jump is None:
        return False
    i, best = jump
    low = min(level(loss, level_points(loss))[i:])
    kind = "divergence" if low >= STAYED_UP * best else "loss_spike"
    label["primary"] = kind
    label["expected"] = {kind: steps[i], **{s: steps[i] for s in TOO_HIGH if s != kind}}
    how = "stayed up" if kind == "divergence" else "then came back down"
    label["notes"] = (
        f"loss blew up at step {steps[i]} and {how} (lowest after {low:.3g}, best before {best:.3g})"
    )
    return True


def blow_up_onset(loss: list[float], ends_nonfinite: bool = False) -> tuple[int, float] | None:
    """(index, best before) of the first sustained blow-up of the loss level, else None.

    The level is a centred median over :func:`level_points` points (7 on a quiet run, more on
    a noisy one, so that batch noise is not a blow-up). A blow-up: the level reaches >= 2x
    the first logged loss, or >= 3x the best level so far once the best is < 80% of the
    first loss, and holds at >= 2/3 of that line for 7 points (or until the loss went
    non-finite); it starts at the first point there whose own loss is >= 2/3 of the line. The
    best is the lowest centred median over max(21, that window) points."""
    if len(loss) < 3:
        return None
    k = level_points(loss)
    fine, wide = level(loss, k), level(loss, max(BEST_LEVEL, k))
    first, best = loss[0], math.inf
    for i, m in enumerate(fine):
        line, ref = math.inf, best
        if first > 0 and m >= 2.0 * first:
            line, ref = 2.0 * first, min(best, first)
        elif best < 0.8 * first and m >= 3.0 * best:
            line = 3.0 * best
        hold = fine[i : i + LEVEL]
        complete = len(hold) == LEVEL or ends_nonfinite
        if line < math.inf and complete and all(v >= HOLD * line for v in hold):
            # A centred median crosses early; the climb is where the loss itself is up.
            up = next((j for j in range(i, len(loss)) if loss[j] >= HOLD * line), i)
            return up, ref
        best = min(best, wide[i])
    return None


def start_level(loss: list[float]) -> float:
    """Where the run started: its first logged loss, as a person reads the curve."""
    return loss[0]


def whole_run_onset(steps: list[int], points: int | None = None) -> int:
    """The step of the point by which a whole-run symptom can be called."""
    if points is None:
        points = WHOLE_RUN_POINTS if len(steps) >= 100 else SHORT_RUN_POINTS
    return steps[min(points, len(steps)) - 1]
