"""The built-in demo scenarios: what each shows, what to try, and what the rules should flag.

This module is metadata only (no torch), so ``lrwatch demo --list`` answers instantly; the
training code of a scenario lives in ``lrwatch.demos.scenarios.<module>`` and is imported
when the scenario runs.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Scenario:
    """One demo: its runs train side by side in one process, one log (and socket) per run."""

    name: str
    description: str  #: one line for ``--list``
    symptom: str  #: the symptom it shows, in words
    try_this: str  #: what to do while it runs
    module: str  #: ``lrwatch.demos.scenarios.<module>``
    steps: int  #: default number of steps
    fast_steps: int  #: steps of a ``--fast`` run (tests, CI)
    pace: float  #: default steps per second when paced for a person
    #: run label -> symptom ids the rule engine must flag on that run in a ``--fast`` run
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: runs that must finish without any error-level finding
    healthy: tuple[str, ...] = ()
    #: the run the UI shows first (default: the first run in ``flags``)
    focus: str = ""
    #: the UI starts with all runs overlaid (demos that compare runs)
    overlay: bool = False
    #: the UI starts with a log y axis (losses that span many decades)
    log_y: bool = False
    #: in the UI without ``--steps``/``--fast`` the training keeps going until the user quits,
    #: so that a live fix has time to show (demos about fixing the LR while it runs)
    open_ended: bool = False

    def build(self, seed: int, steps: int) -> list[Any]:
        """Import the scenario's module and build its runs (``DemoRun`` objects)."""
        mod = importlib.import_module(f"lrwatch.demos.scenarios.{self.module}")
        return mod.build(seed, steps)


_ALL = [
    Scenario(
        name="quadratic",
        description="(x−2)² from x=0 under SGD at LR 0.1, 1.5 and 0.01, side by side",
        symptom="1.5 diverges (the error doubles every step), 0.01 crawls, 0.1 converges",
        try_this="compare the curves (overlaid, log y; o: one run at a time, n: next run): after "
        "t steps the loss is exactly 4·(1−2·lr)^(2t)",
        module="quadratic",
        steps=100,
        fast_steps=100,
        pace=10.0,
        flags={"lr=1.5": ("divergence",)},
        healthy=("lr=0.1",),
        overlay=True,
        log_y=True,
    ),
    Scenario(
        name="too-high",
        description="a linear model trained just past the stability limit lr = 2/λmax",
        symptom="divergence: the loss falls, then climbs exponentially",
        try_this="when divergence is flagged press a (its fix: LR ÷10) then y, or / then y, and "
        "watch the loss come back down; or rewind to before the climb at a tenth of the LR: "
        "press R, or lrwatch ctl LOG rewind --steps-back 50 --scale 0.1",
        module="too_high",
        # Divergence is flagged near step 74: at 5 steps/s that is ~15 s in, time to read the
        # hint first; 600 steps is 2 minutes (the UI runs on until q, see open_ended).
        steps=600,
        fast_steps=200,
        pace=5.0,
        flags={"lr-too-high": ("divergence",)},
        open_ended=True,
    ),
    Scenario(
        name="too-low",
        description="a small MLP under full-batch SGD at LR 2e-4, hundreds of times too small",
        symptom="slow progress: the loss creeps down along a straight line",
        try_this="when slow_progress is flagged press a (its fix: LR ×10) then y and watch the "
        "slope steepen; then e sets any LR (try 0.02)",
        module="too_low",
        # slow_progress is flagged near step 103: at 7 steps/s that is ~15 s in; 900 steps is
        # about 2 minutes (the UI runs on until q, see open_ended).
        steps=900,
        fast_steps=300,
        pace=7.0,
        flags={"lr-too-low": ("slow_progress",)},
        open_ended=True,
    ),
    Scenario(
        name="oscillation",
        description="a small MLP under full-batch gradient descent slightly too hot, next to a calm run",
        symptom="oscillation: the loss settles into a two-step bounce (the weights hop across a "
        "valley) well above what the calm run reaches",
        try_this="o shows the hot run alone, w its last 100 steps: the solid band is the bounce; "
        "when oscillation is flagged press a (its fix) then y, or - (LR ×0.5), and watch it calm",
        module="oscillation",
        steps=400,
        fast_steps=300,
        pace=20.0,
        flags={"lr-hot": ("oscillation",)},
        healthy=("lr-ok",),
        overlay=True,
    ),
    Scenario(
        name="schedules",
        description="step, exponential, cosine, warmup+cosine, one-cycle and cyclical LR, overlaid",
        symptom="none (healthy runs): compare how each schedule shapes LR and loss",
        try_this="compare the LR shapes and the losses they give (n: next run, o: one at a "
        "time); + or - changes the shown run's LR live and its schedule keeps its shape",
        module="schedules",
        steps=400,
        fast_steps=200,
        pace=20.0,
        healthy=("step", "exponential", "cosine", "warmup-cosine", "one-cycle", "cyclical"),
        overlay=True,
    ),
    Scenario(
        name="optimizers",
        description="SGD, momentum, Adam, RMSprop and AdaGrad at their usual LRs and at LR 1.0",
        symptom="at LR 1.0 momentum diverges, Adam and RMSprop jump 10-5000× above their "
        "starting loss at once and stay high, AdaGrad jumps then recovers, plain SGD copes; "
        "every usual LR trains fine",
        try_this="log y shows all ten; n steps through them (o: one at a time) and compare each "
        "optimizer's usual-LR run with its LR-1.0 run",
        module="optimizers",
        steps=300,
        fast_steps=150,
        pace=15.0,
        flags={
            "momentum-lr1": ("divergence",),
            "adam-lr1": ("divergence",),
            "rmsprop-lr1": ("divergence",),
            "adagrad-lr1": ("divergence",),
        },
        healthy=(
            "sgd-0.1",
            "sgd-lr1",
            "momentum-0.01",
            "adam-0.001",
            "rmsprop-0.001",
            "adagrad-0.01",
        ),
        overlay=True,
        log_y=True,
    ),
    Scenario(
        name="warmup",
        description="a tiny character-level transformer at a high Adam LR, with and without warmup",
        symptom="loss spike: without warmup the first full-size Adam steps throw the loss up to "
        "~1.7× its starting value within 10 steps; with warmup it never rises",
        try_this="compare the two curves over the first 20 steps (o: one at a time); the spike "
        "(under 2× the start) is below the rules' bars, so this one is for the eyes",
        module="warmup",
        steps=300,
        fast_steps=60,
        pace=10.0,
        healthy=("warmup",),
        overlay=True,
    ),
    Scenario(
        name="batch-size",
        description="batch size × LR: the linear scaling rule on the same model",
        symptom="a 4× batch at the same LR learns slower per sample; scaling the LR 4× catches up",
        try_this="the step axis counts samples seen (in 32s): the 4× batch at LR 0.05 lags, "
        "at LR 0.2 it keeps up with the small batch (n: one run at a time)",
        module="batch_size",
        steps=300,
        fast_steps=160,
        pace=20.0,
        healthy=("bs32-lr0.05", "bs128-lr0.05", "bs128-lr0.2"),
        overlay=True,
    ),
    Scenario(
        name="range-test",
        description="the LR range test: an exponential LR sweep on a small network",
        symptom="the loss falls, bottoms out, then diverges as the LR grows (loss vs LR, log x)",
        try_this="when the sweep stops the suggested LRs (steepest descent, valley) pop up (i "
        "shows them again): compare them with the LR where the loss was lowest",
        module="range_test",
        steps=100,
        fast_steps=100,
        pace=10.0,
    ),
]

#: Scenarios by name, in the order ``--list`` prints them.
SCENARIOS: dict[str, Scenario] = {s.name: s for s in _ALL}

#: What ``lrwatch demo`` runs when no name is given.
DEFAULT = "too-high"


def get(name: str) -> Scenario:
    """The scenario called ``name``; ``KeyError`` with the known names otherwise."""
    try:
        return SCENARIOS[name]
    except KeyError:
        known = ", ".join(SCENARIOS)
        raise KeyError(f"unknown demo {name!r} (known: {known})") from None
