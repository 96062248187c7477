"""Rewind + ÷10 against ÷10 alone on the ``too-high`` demo, over the real control socket.

    python benchmarks/rewind_vs_cut.py [--seeds 0,1,2,3,4] [--budget 200]

For each seed and each branch a training process of its own (this file with ``--trainee``)
trains the ``too-high`` demo's run — its model, data and ``Monitor`` settings
(``lrwatch.demos.runner.demo_monitor``: snapshots every 25 steps, the last 16) — until **the
blow-up**: the first step whose loss exceeds 3× the running minimum of the steps before it
(that minimum is ``m``, the pre-blow-up minimum). There it pauses itself; this process sees
the ``pause`` record in the log and sends, over the run's unix socket, either

* (a) ``scale_lr 0.1`` (÷10 alone), or
* (b) ``rewind to_step=T-1 scale_lr=0.1`` (the newest snapshot strictly before the blow-up
  step T, at a tenth of the LR),

then ``resume``. The trainee trains ``--budget`` more optimizer steps and ends. From the log:
**final loss** (the last of those steps) and **steps to recover** (optimizer steps after the
intervention until the first loss below 1.1 × m; ``never`` within the budget). The rules are
written down in docs/demos.md ("Rewind"), fixed before measuring. Prints a table (per seed and
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


def steps_to_recover(after: Sequence[float], threshold: float) -> int | None:
    """Optimizer steps after the intervention until the first loss below ``threshold``
    (1: the first step after it), or None when none is within ``after``."""
    return next((i + 1 for i, loss in enumerate(after) if loss < threshold), None)


@dataclass
class BranchResult:
    """One branch of one seed, as measured from its log."""

    seed: int
    branch: str
    blowup_step: int  #: T, the step whose loss first exceeded 3× the running minimum
    minimum: float  #: m, the pre-blow-up minimum
    final_loss: float  #: the loss of the last step of the budget
    recover: int | None  #: steps to recover (None: never within the budget)
    steps_after: int  #: optimizer steps logged after the intervention
    rewound_to: int | None = None  #: the snapshot's step (rewind branch)
    loss_at_snapshot: float | None = None  #: the loss logged at that step before the blow-up


def judge(
    seed: int, branch: str, records: list[dict[str, Any]], budget: int = BUDGET
) -> BranchResult:
    """Measure one branch from its log records: split at the ``pause`` record (the blow-up
    step's boundary); the metrics after it are the branch."""
    at = next(i for i, r in enumerate(records) if r.get("kind") == "pause")
    before = [r for r in records[:at] if "loss" in r and "kind" not in r]
    after = [float(r["loss"]) for r in records[at:] if "loss" in r and "kind" not in r][:budget]
    found = blowup([float(r["loss"]) for r in before])
    if found is None or found.index != len(before) - 1:
        raise ValueError(f"seed {seed} {branch}: the run paused away from its blow-up")
    result = BranchResult(
        seed=seed,
        branch=branch,
        blowup_step=int(before[-1]["step"]),
        minimum=found.minimum,
        final_loss=after[-1] if after else math.nan,
        recover=steps_to_recover(after, RECOVER_RATIO * found.minimum),
        steps_after=len(after),
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


def trainee(seed: int, log: Path, budget: int) -> int:
    """Train ``too-high`` until its blow-up, pause there (the benchmark steers it over the
    socket meanwhile), then ``budget`` more steps; exit 0 (2: it never blew up)."""
    import torch

    from lrwatch.control import protocol as P
    from lrwatch.demos.registry import get
    from lrwatch.demos.runner import demo_monitor, rewound_by

    torch.set_num_threads(1)
    (run,) = get("too-high").build(seed, MAX_STEPS)
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


def _records(log: Path) -> list[dict[str, Any]]:
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
        if log.exists() and any(r.get("kind") == "pause" for r in _records(log)):
            return
        if proc.poll() is not None:
            raise RuntimeError(f"the trainee exited ({proc.returncode}) before its blow-up")
        time.sleep(0.02)
    raise TimeoutError("the trainee did not reach its blow-up in time")


def run_branch(seed: int, branch: str, budget: int, workdir: Path) -> BranchResult:
    """One trainee process for ``seed`` steered down ``branch`` over its socket."""
    from lrwatch.control.client import ControlClient

    log = workdir / f"seed{seed}-{branch}.jsonl"
    cmd = [sys.executable, __file__, "--trainee", "--seed", str(seed), "--log", str(log)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([*cmd, "--budget", str(budget)], env=env)
    try:
        _wait_paused(log, proc)
        blown = blowup([r["loss"] for r in _records(log) if "loss" in r and "kind" not in r])
        assert blown is not None
        with ControlClient.from_log(log) as client:
            if branch == "rewind":
                step = int(client.request("status")["step"])
                reply = client.request("rewind", to_step=step - 1, scale_lr=FACTOR, by="bench")
            else:
                reply = client.request("scale_lr", factor=FACTOR, by="bench")
            if not reply.get("ok"):
                raise RuntimeError(f"seed {seed} {branch}: {reply}")
            client.request("resume", by="bench")
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return judge(seed, branch, _records(log), budget)


def _fmt(x: float | None) -> str:
    return NEVER if x is None else f"{x:.4g}"


def table(results: list[BranchResult]) -> str:
    """Per seed: the blow-up, m, the snapshot restored, and each branch's recovery and final
    loss; then the medians."""
    by = {(r.seed, r.branch): r for r in results}
    seeds = sorted({r.seed for r in results})
    head = "| seed | blow-up step T | m | rewound to (its loss) | steps to recover: ÷10 | rewind+÷10 | final loss: ÷10 | rewind+÷10 |"
    rows = [head, "|" + "---|" * 8]
    for s in seeds:
        cut, rew = by[(s, "cut")], by[(s, "rewind")]
        snap = f"{rew.rewound_to} ({_fmt(rew.loss_at_snapshot)})"
        rows.append(
            f"| {s} | {cut.blowup_step} | {cut.minimum:.4g} | {snap} | {_fmt(cut.recover)} | "
            f"{_fmt(rew.recover)} | {cut.final_loss:.4g} | {rew.final_loss:.4g} |"
        )
    med = medians(results)
    rows.append(
        f"| median | | | | {_fmt(med['recover_cut'])} | {_fmt(med['recover_rewind'])} | "
        f"{med['final_cut']:.4g} | {med['final_rewind']:.4g} |"
    )
    return "\n".join(rows)


def medians(results: list[BranchResult]) -> dict[str, float | None]:
    """The median steps to recover and final loss of each branch."""
    out: dict[str, float | None] = {}
    for branch in BRANCHES:
        mine = [r for r in results if r.branch == branch]
        out[f"recover_{branch}"] = median_recover([r.recover for r in mine])
        out[f"final_{branch}"] = statistics.median(r.final_loss for r in mine)
    return out


def summary_rows(r: dict[str, Any]) -> list[Any]:
    """run_all's summary rows (``summary.Row``): median steps to recover and final loss,
    rewind + ÷10 against ÷10 alone."""
    from summary import Row

    med = r["medians"]
    seeds = len({x["seed"] for x in r["results"]})
    return [
        Row(
            "training side",
            f"too-high demo, {seeds} seeds: median steps to recover, rewind + ÷10",
            _fmt(med["recover_rewind"]),
            f"÷10 alone {_fmt(med['recover_cut'])}",
        ),
        Row(
            "training side",
            f"too-high demo: median loss {r['budget']} steps after, rewind + ÷10",
            f"{med['final_rewind']:.4g}",
            f"÷10 alone {med['final_cut']:.4g}",
            f"{med['final_rewind'] / med['final_cut']:.3f}×",
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    """Run every seed and branch (or, with ``--trainee``, be one training process)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    p.add_argument("--budget", type=int, default=BUDGET, help="steps after the intervention")
    p.add_argument("--trainee", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--log", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.trainee:
        return trainee(args.seed, args.log, args.budget)
    from benchmarks.common import emit

    t0 = time.perf_counter()
    results: list[BranchResult] = []
    with tempfile.TemporaryDirectory(prefix="rewind-vs-cut-") as tmp:
        for seed in (int(s) for s in args.seeds.split(",")):
            for branch in BRANCHES:
                results.append(run_branch(seed, branch, args.budget, Path(tmp)))
    print(table(results))
    seconds = round(time.perf_counter() - t0, 1)
    print(f"{len(results)} training processes in {seconds} s")
    emit(
        "rewind_vs_cut",
        {
            "rules": {"trigger_ratio": TRIGGER_RATIO, "recover_ratio": RECOVER_RATIO},
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
