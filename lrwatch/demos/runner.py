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
#: Every demo run keeps a snapshot every this many steps, the newest ``SNAPSHOT_KEEP``, so
#: that ``rewind`` works on the demos out of the box (the models are tiny: copies are cheap).
#: 16 × 25 steps reach back 400 steps: at the demos' pace (10 steps/s) a divergence noticed
#: half a minute late still has a snapshot from before it, and one stays there while the
#: rewind dialog is open.
SNAPSHOT_EVERY, SNAPSHOT_KEEP = 25, 16


def demo_monitor(run: Any, log: Path, control: str = "unix") -> Any:
    """The ``lrwatch.Monitor`` a demo run logs through: its own log and socket, snapshots on."""
    from lrwatch.train.monitor import Monitor

    return Monitor(
        run.optimizer,
        run.scheduler,
        log=log,
        control=control,
        run=run.label,
        loop_sets_lr=run.loop_sets_lr,
        model=run.model,
        snapshot_every=SNAPSHOT_EVERY,
        keep=SNAPSHOT_KEEP,
    )


def rewound_by(mon: Any, seen: dict[str, Any], label: str) -> int:
    """How many steps a rewind applied since the last call took ``label``'s run back (0: none).

    The loop numbers its steps itself, so after a rewind from step F to snapshot step T it must
    go on from T + 1, not F + 1: the chart then shows the new branch from the rewind point.
    """
    last = getattr(mon, "last_rewind", None)
    if last is None or last is seen.get(label):
        return 0
    seen[label] = last
    return int(last.from_step) - int(last.to_step)


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
    alive: Callable[[], bool] | None = None,
) -> dict[str, Path]:
    """Train every run of ``scenario`` for ``steps`` rounds, logging under ``target``.

    Returns the log path of each run (by label). ``pace`` is rounds per second (None: the
    scenario's default; 0: no pause). ``progress_every`` > 0 prints a progress line that often.
    ``alive``: checked every round; training stops when it says False (the UI is gone).
    """
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
            monitors[run.label] = demo_monitor(run, paths[run.label], control)
        _loop(runs, monitors, steps, pace, out, progress_every, alive)
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
    alive: Callable[[], bool] | None = None,
) -> None:
    period = 1.0 / pace if pace > 0 else 0.0
    next_at = time.monotonic()
    last: dict[str, float] = {}
    back: dict[str, int] = {r.label: 0 for r in runs}  # steps rewound so far, per run
    seen: dict[str, Any] = {}
    for step in range(1, steps + 1):
        for run in runs:
            if run.dead or run.done or step % run.every:
                continue
            mon = monitors[run.label]
            at = step - back[run.label]  # the run's own step number (rewinds go back)
            metrics = run.step(at)
            mon.step(at, **metrics)
            last[run.label] = metrics["loss"]
            extra = run.evaluate(at)
            if extra:
                mon.log(at, **extra)
            back[run.label] += rewound_by(mon, seen, run.label)
            if run.dead:
                mon.close("crashed")
                out(f"  {run.label}: loss is {metrics['loss']} at step {at}; run stopped")
        if progress_every and (step % progress_every == 0 or step == steps):
            out(f"step {step}/{steps}  " + "  ".join(f"{k}: {_fmt(v)}" for k, v in last.items()))
        if all(r.dead or r.done for r in runs) or (alive is not None and not alive()):
            break
        if period:
            next_at += period
            time.sleep(max(0.0, next_at - time.monotonic()))


def _fmt(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.4g}"
