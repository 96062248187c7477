"""Run a scenario's training: its runs step round-robin, each through its own ``lrwatch.Monitor``.

Every run gets its own JSONL log and control socket, exactly as a user's job would, so the UI
(or ``lrwatch ctl``) can change one run's LR while the others keep going. Rounds are paced
(``pace`` rounds per second) so that a person can watch; ``pace=0`` runs flat out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrwatch.demos.registry import Scenario

#: The line before a scenario's results (e.g. the range test's suggested LRs) in its output.
RESULTS = "results:"


def log_paths(target: str | Path, labels: list[str]) -> dict[str, Path]:
    """Where each run logs: ``DIR/<label>.jsonl``, or for ``FILE.jsonl`` that file (one run)
    or ``FILE-<label>.jsonl`` beside it (several runs)."""
    target = Path(target)
    if target.suffix != ".jsonl":
        return {label: target / f"{_safe(label)}.jsonl" for label in labels}
    if len(labels) == 1:
        return {labels[0]: target}
    return {label: target.with_name(f"{target.stem}-{_safe(label)}.jsonl") for label in labels}


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in label)


def banner(scenario: Scenario) -> str:
    """What the scenario shows and what to try, printed when it starts."""
    return (
        f"lrwatch demo {scenario.name}: {scenario.description}\n"
        f"  shows: {scenario.symptom}\n"
        f"  try:   {scenario.try_this}"
    )


def run_scenario(
    scenario: Scenario,
    target: str | Path,
    *,
    seed: int = 0,
    steps: int | None = None,
    pace: float | None = None,
    control: str = "unix",
    out: Callable[[str], None] = print,
    progress_every: int = 0,
) -> dict[str, Path]:
    """Train every run of ``scenario`` for ``steps`` rounds, logging under ``target``.

    Returns the log path of each run (by label). ``pace`` is rounds per second (None: the
    scenario's default; 0: no pause). ``progress_every`` > 0 prints a progress line that often.
    """
    from lrwatch.train.monitor import Monitor

    steps = steps or scenario.steps
    pace = scenario.pace if pace is None else pace
    runs = scenario.build(seed, steps)
    paths = log_paths(target, [r.label for r in runs])
    out(banner(scenario))
    for run in runs:
        if run.note:
            out(f"  {run.label}: {run.note}")
    monitors: dict[str, Any] = {}
    status = "crashed"
    try:
        for run in runs:
            paths[run.label].parent.mkdir(parents=True, exist_ok=True)
            monitors[run.label] = Monitor(
                run.optimizer,
                run.scheduler,
                log=paths[run.label],
                control=control,
                run=run.label,
                loop_sets_lr=run.loop_sets_lr,
            )
        _loop(runs, monitors, steps, pace, out, progress_every)
        status = "finished"
    finally:
        for run in runs:
            mon = monitors.get(run.label)
            if mon is not None:
                mon.close("crashed" if run.dead else status)
    results = [f"  {run.label}: {line}" for run in runs for line in run.summary()]
    if results:
        out(RESULTS)  # the demo UI shows what follows this line when the training ends
        for line in results:
            out(line)
    return paths


def _loop(
    runs: list[Any],
    monitors: dict[str, Any],
    steps: int,
    pace: float,
    out: Callable[[str], None],
    progress_every: int,
) -> None:
    period = 1.0 / pace if pace > 0 else 0.0
    next_at = time.monotonic()
    last: dict[str, float] = {}
    for step in range(1, steps + 1):
        for run in runs:
            if run.dead or run.done or step % run.every:
                continue
            mon = monitors[run.label]
            metrics = run.step(step)
            mon.step(step, **metrics)
            last[run.label] = metrics["loss"]
            extra = run.evaluate(step)
            if extra:
                mon.log(step, **extra)
            if run.dead:
                mon.close("crashed")
                out(f"  {run.label}: loss is {metrics['loss']} at step {step}; run stopped")
        if progress_every and (step % progress_every == 0 or step == steps):
            out(f"step {step}/{steps}  " + "  ".join(f"{k}: {_fmt(v)}" for k, v in last.items()))
        if all(r.dead or r.done for r in runs):
            break
        if period:
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.4g}"
