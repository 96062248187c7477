"""One holdout run: what to train, with which program/logger, and what it was built to show."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

#: The program or logger that writes a spec's log(s), and the runs (files) it gives:
#: variant suffix -> (path under the run's folder, ``logger`` label field).
OUTPUTS: dict[str, dict[str, tuple[str, str]]] = {
    "hf": {"console": ("console.log", "hf_console"), "state": ("trainer_state.json", "hf_state")},
    "pl": {"csv": ("csv/version_0/metrics.csv", "pl_csv"), "tb": ("tb/version_0", "pl_tfevents")},
    "nanogpt": {"": ("train.log", "nanogpt_text")},
    "ptex": {"": ("train.log", "ptexamples_text")},
}


@dataclass
class HSpec:
    """A training program of the holdout corpus; one or two runs (files) come out of it.

    ``intent`` is how it was built (osc, too_high, too_low, warmup_high, stuck_high,
    stuck_shuffled, healthy, finetune, overfit); ``family`` groups runs in the report.
    """

    name: str
    family: str
    intent: str
    logger: str  # hf, pl, nanogpt, ptex
    task: str
    opt: str  # sgd, momentum, adam, adamw
    lr: float
    steps: int
    seed: int = 0
    batch: int = 32
    sched: str = "const"  # const, warmup, warmup_cos, cosine, linear, onecycle, restarts, step
    warmup: int = 0  # warmup steps for warmup / warmup_cos
    log_every: int = 1
    val_every: int = 0
    clip: float | None = None
    twin: str | None = None  # the same program at the tuned LR (oscillation labels)
    pretrain: int = 0  # unlogged steps on the parent task before a fine-tune
    print_lr: bool = True  # text loops: print the LR on each line
    task_opts: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description (stored in labels.json)."""
        return asdict(self)

    def runs(self) -> list[tuple[str, str, str]]:
        """(run name, log path relative to the corpus folder, logger) of each output file."""
        out = []
        for variant, (rel, logger) in OUTPUTS[self.logger].items():
            name = f"{self.name}.{variant}" if variant else self.name
            out.append((name, f"{self.name}/{rel}", logger))
        return out
