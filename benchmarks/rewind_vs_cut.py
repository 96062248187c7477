"""Rewind + ÷10 against ÷10 alone after a blow-up, over the real control socket, per family.

    python benchmarks/rewind_vs_cut.py [--seeds 0,1,2,3,4] [--budget 200] [--family all]

Two families (reported apart, never averaged together):

* ``too-high``: the ``too-high`` demo's run (convex linear least squares, SGD just past its
  stability limit);
* ``adam-mlp``: the ``optimizers`` demo's data and 20→64→4 ReLU MLP under AdamW at a healthy
  LR (3e-3) with an LR mistake in its schedule: ×100 for steps 101–105. It also runs a third
  branch, (0) ``none``: resume with no change, the reference for "is ÷10 the right thing".

For each family, seed and branch a training process of its own (this file with ``--trainee``)
trains the run with the demos' ``Monitor`` settings (``lrwatch.demos.runner.demo_monitor``:
snapshots every 25 steps, the last 16) until **the blow-up**: the first step whose loss
exceeds 3× the running minimum of the steps before it. There it pauses itself; this process
sees the ``pause`` record in the log and sends, over the run's unix socket, either

* (a) ``scale_lr 0.1`` (÷10 alone), or
* (b) ``rewind to_step=T-1 scale_lr=0.1`` (the newest snapshot strictly before the blow-up
  step T, at a tenth of the LR),

then ``resume``. The trainee trains ``--budget`` more optimizer steps and ends. From the log,
by the family's rules (docs/demos.md, "Rewind", written before measuring): **final loss** and
**steps to recover** (``never`` within the budget). Prints a table per family (per seed and
the median) and writes benchmarks/out/rewind_vs_cut.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``benchmarks.common`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TRIGGER_RATIO = 3.0  #: the blow-up: loss > this × the running minimum before it
RECOVER_RATIO = 1.1  #: recovered: loss < this × the pre-blow-up minimum
FACTOR = 0.1  #: both branches divide the LR by 10
BUDGET = 200  #: optimizer steps after the intervention, in both branches
MAX_STEPS = 5000  #: a seed whose run has not blown up by then is reported as such
BRANCHES = ("cut", "rewind")  #: (a) ÷10 alone, (b) rewind + ÷10
NEVER = "never"
FAMILIES = ("too-high", "adam-mlp")
#: The branches each family runs (``none``: resume unchanged, adam-mlp's reference).
FAMILY_BRANCHES = {"too-high": BRANCHES, "adam-mlp": ("none", *BRANCHES)}
LABELS = {"none": "no change", "cut": "÷10", "rewind": "rewind+÷10"}

# adam-mlp: the run and its LR mistake
ADAM_LR = 3e-3  #: a healthy AdamW LR for this MLP (no blow-up by the rule without the spike)
SPIKE_K, SPIKE_START, SPIKE_LEN = 100.0, 101, 5  #: the LR ×100 for steps 101–105
# adam-mlp's rules (its losses are mini-batch losses: noisy, so levels are means)
LEVEL_STEPS = 10  #: m = the mean loss of the 10 steps before the spike (steps 91–100)
SMOOTH = 5  #: recovered: the mean of the last 5 losses after the intervention < 1.1 × m
FINAL_STEPS = 20  #: final loss: the mean of the last 20 losses of the budget


# -- the rules (pure: tested on synthetic curves) ----------------------------------------------


@dataclass(frozen=True)
class Blowup:
    """Where a loss curve blew up: ``index`` (0-based) of the first loss above ``ratio`` × the
    running minimum of the losses before it, and that minimum."""

    index: int
    minimum: float


class BlowupWatch:
    """Feed losses one by one; ``feed`` is True at the blow-up (a non-finite loss is one)."""

    def __init__(self, ratio: float = TRIGGER_RATIO) -> None:
        self.ratio = ratio
        self.minimum = math.inf
        self.seen = 0

    def feed(self, loss: float) -> bool:
        """True when ``loss`` is the blow-up; otherwise it joins the running minimum."""
        self.seen += 1
        if self.seen > 1 and (not math.isfinite(loss) or loss > self.ratio * self.minimum):
            return True
        if math.isfinite(loss):
            self.minimum = min(self.minimum, loss)
        return False


def blowup(losses: Sequence[float], ratio: float = TRIGGER_RATIO) -> Blowup | None:
    """The first blow-up in ``losses`` (see :class:`BlowupWatch`), or None."""
    watch = BlowupWatch(ratio)
    for i, loss in enumerate(losses):
        if watch.feed(loss):
            return Blowup(i, watch.minimum)
    return None


def steps_to_recover(after: Sequence[float], threshold: float, window: int = 1) -> int | None:
    """Optimizer steps after the intervention until the mean of the last ``window`` losses
    first falls below ``threshold`` (1: the first step after it; with a window, ``window`` at
    the soonest), or None when that never happens within ``after``."""
    ends = range(window, len(after) + 1)
    return next((i for i in ends if statistics.fmean(after[i - window : i]) < threshold), None)


def measure(
    family: str, before: list[dict[str, Any]], after: list[float], found: Blowup
) -> tuple[float, int | None, float]:
    """The family's rules: (m, steps to recover, final loss) of one branch, from the metrics
    logged before the pause (``before``) and the losses after it (``after``)."""
    if family == "too-high":  # full-batch losses: exact values
        m = found.minimum
        return m, steps_to_recover(after, RECOVER_RATIO * m), after[-1] if after else math.nan
    by_step = {int(r["step"]): float(r["loss"]) for r in before}
    m = statistics.fmean(by_step[s] for s in range(SPIKE_START - LEVEL_STEPS, SPIKE_START))
    final = statistics.fmean(after[-FINAL_STEPS:]) if after else math.nan
    return m, steps_to_recover(after, RECOVER_RATIO * m, SMOOTH), final


@dataclass
class BranchResult:
    """One branch of one seed, as measured from its log."""

    seed: int
    branch: str
    blowup_step: int  #: T, the step whose loss first exceeded 3× the running minimum
    minimum: float  #: m: too-high, the pre-blow-up minimum; adam-mlp, the pre-spike mean
    final_loss: float  #: the loss of the last step of the budget
    recover: int | None  #: steps to recover (None: never within the budget)
    steps_after: int  #: optimizer steps logged after the intervention
    rewound_to: int | None = None  #: the snapshot's step (rewind branch)
    loss_at_snapshot: float | None = None  #: the loss logged at that step before the blow-up
    family: str = "too-high"


def metrics_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The metric records that carry a loss (no events)."""
    return [r for r in records if "loss" in r and "kind" not in r]


def judge(
    seed: int,
    branch: str,
    records: list[dict[str, Any]],
    budget: int = BUDGET,
    family: str = "too-high",
) -> BranchResult:
    """Measure one branch from its log records by ``family``'s rules: split at the ``pause``
    record (the blow-up step's boundary); the metrics after it are the branch."""
    at = next(i for i, r in enumerate(records) if r.get("kind") == "pause")
    before = metrics_of(records[:at])
    after = [float(r["loss"]) for r in metrics_of(records[at:])][:budget]
    found = blowup([float(r["loss"]) for r in before])
    if found is None or found.index != len(before) - 1:
        raise ValueError(f"seed {seed} {branch}: the run paused away from its blow-up")
    if family == "adam-mlp" and int(before[-1]["step"]) < SPIKE_START:
        raise ValueError(f"seed {seed} {branch}: blew up before the spike, at a healthy LR")
    m, recover, final = measure(family, before, after, found)
    result = BranchResult(
        seed=seed,
        branch=branch,
        blowup_step=int(before[-1]["step"]),
        minimum=m,
        final_loss=final,
        recover=recover,
        steps_after=len(after),
        family=family,
    )
    rewind = next((r for r in records if r.get("kind") == "rewind"), None)
    if rewind is not None:
        result.rewound_to = int(rewind["to_step"])
        by_step = {int(r["step"]): float(r["loss"]) for r in before}
        result.loss_at_snapshot = by_step.get(result.rewound_to)
    return result


def median_recover(values: Sequence[int | None]) -> float | None:
    """The median of steps to recover, "never" counted as later than any number (None when
    the median itself is never)."""
    ranked = sorted(math.inf if v is None else float(v) for v in values)
    mid = statistics.median(ranked) if ranked else math.inf
    return None if math.isinf(mid) else mid


# -- the training process ----------------------------------------------------------------------


def spike(epoch: int) -> float:
    """adam-mlp's LR mistake, as a ``LambdaLR`` factor: ×K for steps SPIKE_START… (LambdaLR's
    epoch is the number of steps already taken, so step s runs at ``spike(s - 1)``)."""
    return SPIKE_K if SPIKE_START - 1 <= epoch < SPIKE_START - 1 + SPIKE_LEN else 1.0


def adam_mlp_run(seed: int) -> Any:
    """adam-mlp's run: the ``optimizers`` demo's data and MLP, AdamW at ``ADAM_LR`` with the
    spike in its schedule (a rewind restores the schedule too, so it replays the spike ÷10)."""
    import torch
    from torch import nn

    from lrwatch.demos.base import DemoRun, make_classification, minibatches, mlp

    data = make_classification(1024, 20, 4, seed)
    model = mlp(20, 64, 4, seed)
    opt = torch.optim.AdamW(model.parameters(), lr=ADAM_LR)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, spike)
    batches = minibatches(data, 64, seed)
    return DemoRun("adam-mlp", model, opt, nn.functional.cross_entropy, batches, sched)


def build_run(family: str, seed: int) -> Any:
    """The ``DemoRun`` a family's trainee trains."""
    if family == "adam-mlp":
        return adam_mlp_run(seed)
    from lrwatch.demos.registry import get

    (run,) = get("too-high").build(seed, MAX_STEPS)
    return run


def trainee(seed: int, log: Path, budget: int, family: str = "too-high") -> int:
    """Train the family's run until its blow-up, pause there (the benchmark steers it over the
    socket meanwhile), then ``budget`` more steps; exit 0 (2: it never blew up)."""
    import torch

    from lrwatch.control import protocol as P
    from lrwatch.demos.runner import demo_monitor, rewound_by

    torch.set_num_threads(1)
    run = build_run(family, seed)
    mon = demo_monitor(run, log)
    watch = BlowupWatch()
    seen: dict[str, Any] = {}  # the last rewind the loop followed
    step, left = 0, None
    try:
        while (left is None and watch.seen < MAX_STEPS) or (left is not None and left > 0):
            step += 1
            metrics = run.step(step)
            if left is None and watch.feed(metrics["loss"]):
                pause = P.validate({"op": "pause", "id": "blow-up", "by": "bench"}, mon.limits)
                mon.submit(pause, lambda _reply: None, "bench")
                left = budget + 1  # the blow-up step itself is logged before the pause
            mon.step(step, **metrics)  # blocks at the pause until the benchmark resumes it
            step -= rewound_by(mon, seen, run.label)
            if left is not None:
                left -= 1
    finally:
        mon.close()
    return 0 if left is not None else 2


# -- the benchmark -----------------------------------------------------------------------------


def read_records(log: Path) -> list[dict[str, Any]]:
    """The log's records up to the first line that is not whole JSON (one being written)."""
    out = []
    for line in log.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            break  # a line still being written
    return out


def _wait_paused(log: Path, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and any(r.get("kind") == "pause" for r in read_records(log)):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"the trainee exited ({proc.returncode}) before its blow-up")
        time.sleep(0.02)
    raise TimeoutError("the trainee did not reach its blow-up in time")


def run_branch(
    seed: int, branch: str, budget: int, workdir: Path, family: str = "too-high"
) -> BranchResult:
    """One trainee process of ``family`` for ``seed`` steered down ``branch`` over its socket."""
    from lrwatch.control.client import ControlClient

    log = workdir / f"{family}-seed{seed}-{branch}.jsonl"
    cmd = [sys.executable, __file__, "--trainee", "--seed", str(seed), "--log", str(log)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*cmd, "--budget", str(budget), "--family", family], env=env)
    try:
        _wait_paused(log, proc)  # paused at its blow-up (judge checks it was one)
        with ControlClient.from_log(log) as client:
            if branch == "rewind":
                step = int(client.request("status")["step"])
                reply = client.request("rewind", to_step=step - 1, scale_lr=FACTOR, by="bench")
            elif branch == "cut":
                reply = client.request("scale_lr", factor=FACTOR, by="bench")
            else:  # "none": the reference, resumed unchanged
                reply = {"ok": True}
            if not reply.get("ok"):
                raise RuntimeError(f"seed {seed} {branch}: {reply}")
            client.request("resume", by="bench")
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return judge(seed, branch, read_records(log), budget, family)


def _fmt(x: float | None) -> str:
    return NEVER if x is None else f"{x:.4g}"


def table(results: list[BranchResult]) -> str:
    """One family's results (call it per family): per seed the blow-up, m, the snapshot
    restored, and each branch's recovery and final loss; then the medians."""
    family = results[0].family
    branches = FAMILY_BRANCHES[family]
    by = {(r.seed, r.branch): r for r in results}
    seeds = sorted({r.seed for r in results})
    labels = [LABELS[b] for b in branches]
    head = (
        "| seed | blow-up step T | m | rewound to (its loss) | steps to recover: "
        + " | ".join(labels)
        + " | final loss: "
        + " | ".join(labels)
        + " |"
    )
    rows = [head, "|" + "---|" * (4 + 2 * len(branches))]
    for s in seeds:
        first, rew = by[(s, branches[0])], by[(s, "rewind")]
        snap = f"{rew.rewound_to} ({_fmt(rew.loss_at_snapshot)})"
        recover = " | ".join(_fmt(by[(s, b)].recover) for b in branches)
        final = " | ".join(f"{by[(s, b)].final_loss:.4g}" for b in branches)
        rows.append(
            f"| {s} | {first.blowup_step} | {first.minimum:.4g} | {snap} | {recover} | {final} |"
        )
    med = medians(results)[family]
    recover = " | ".join(_fmt(med[f"recover_{b}"]) for b in branches)
    final = " | ".join(f"{med[f'final_{b}']:.4g}" for b in branches)
    rows.append(f"| median | | | | {recover} | {final} |")
    return "\n".join(rows)


def medians(results: list[BranchResult]) -> dict[str, dict[str, float | None]]:
    """Per family, the median steps to recover and final loss of each branch."""
    out: dict[str, dict[str, float | None]] = {}
    for family in FAMILIES:
        for branch in FAMILY_BRANCHES[family]:
            mine = [r for r in results if (r.family, r.branch) == (family, branch)]
            if mine:
                med = out.setdefault(family, {})
                med[f"recover_{branch}"] = median_recover([r.recover for r in mine])
                med[f"final_{branch}"] = statistics.median(r.final_loss for r in mine)
    return out


def summary_rows(r: dict[str, Any]) -> list[Any]:
    """run_all's summary rows (``summary.Row``), one per family: the median final loss of
    rewind + ÷10 against ÷10 alone, and the median steps to recover of both."""
    from summary import Row

    meds = r["medians"]
    if "final_cut" in meds:  # a JSON written before families existed
        meds = {"too-high": meds}
    rows = []
    for family, med in meds.items():
        seeds = len({x["seed"] for x in r["results"] if x.get("family", "too-high") == family})
        recover = f"recover in {_fmt(med['recover_rewind'])} vs {_fmt(med['recover_cut'])} steps"
        rows.append(
            Row(
                "training side",
                f"{family}, {seeds} seeds: median loss {r['budget']} steps after, rewind + ÷10"
                f" ({recover})",
                f"{med['final_rewind']:.4g}",
                f"÷10 alone {med['final_cut']:.4g}",
                f"{med['final_rewind'] / med['final_cut']:.3f}×",
            )
        )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run every family, seed and branch (or, with ``--trainee``, be one training process)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    p.add_argument("--budget", type=int, default=BUDGET, help="steps after the intervention")
    p.add_argument("--family", choices=("all", *FAMILIES), default="all", help="which family")
    p.add_argument("--trainee", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--log", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.trainee:
        family = "too-high" if args.family == "all" else args.family
        return trainee(args.seed, args.log, args.budget, family)
    from benchmarks.common import emit

    families = FAMILIES if args.family == "all" else (args.family,)
    t0 = time.perf_counter()
    results: list[BranchResult] = []
    with tempfile.TemporaryDirectory(prefix="rewind-vs-cut-") as tmp:
        for family in families:
            for seed in (int(s) for s in args.seeds.split(",")):
                for branch in FAMILY_BRANCHES[family]:
                    results.append(run_branch(seed, branch, args.budget, Path(tmp), family))
            print(f"{family}:")
            print(table([r for r in results if r.family == family]))
    seconds = round(time.perf_counter() - t0, 1)
    print(f"{len(results)} training processes in {seconds} s")
    emit(
        "rewind_vs_cut",
        {
            "rules": {
                "trigger_ratio": TRIGGER_RATIO,
                "recover_ratio": RECOVER_RATIO,
                "adam-mlp": {
                    "lr": ADAM_LR,
                    "spike": {"k": SPIKE_K, "start": SPIKE_START, "steps": SPIKE_LEN},
                    "level_steps": LEVEL_STEPS,
                    "smooth": SMOOTH,
                    "final_steps": FINAL_STEPS,
                },
            },
            "budget": args.budget,
            "factor": FACTOR,
            "results": [asdict(r) for r in results],
            "medians": medians(results),
            "seconds": seconds,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
