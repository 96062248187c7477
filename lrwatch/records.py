"""The record types every reader yields and the lrwatch JSONL schema (version 1).

This is the one place that knows the schema; docs/format.md documents it. Nothing here
imports textual, rich or torch: the training-side hook imports this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy is only needed by who builds blocks; the training hook skips it
    import numpy as np

SCHEMA_VERSION = 1

#: The metric names rules and charts look for.
CANONICAL = ("loss", "val_loss", "lr", "grad_norm")

#: Series of system metrics (CPU, memory, GPU) are named with this prefix: ``sys/gpu0/util``.
SYSTEM_PREFIX = "sys/"
#: The record kind they come in (``Monitor(system_every=)``); readers turn it into metrics.
SYSTEM_KIND = "system"


_GPU_UTIL = re.compile(rf"^{re.escape(SYSTEM_PREFIX)}(gpu\d+)/util$")


def gpu_of_util(name: str) -> str | None:
    """``gpu0`` for the series ``sys/gpu0/util`` (a GPU's utilisation %), else None: the one
    test the system panel, the runs table's gpu% and the ``gpu_idle`` rule share."""
    m = _GPU_UTIL.match(name)
    return m.group(1) if m else None


#: Keys that carry the step of a record, in order of preference.
STEP_KEYS = ("step", "global_step", "iter", "iteration", "it", "trainer/global_step")

#: Keys that carry wall time (seconds since the epoch).
TIME_KEYS = ("t", "time", "timestamp", "wall_time", "walltime")

#: Event kinds of the lrwatch JSONL schema. Any other ``kind`` is kept as a generic event.
EVENT_KINDS = ("run", "lr_change", "end", "pause", "resume", "note", "meta", "rewind")

#: Built-in aliases: source key (lower-cased) -> canonical name.
ALIASES: dict[str, str] = {
    "loss": "loss",
    "train_loss": "loss",
    "train_loss_step": "loss",
    "train/loss": "loss",
    "train/loss_step": "loss",
    "training_loss": "loss",
    "loss/train": "loss",
    "train loss": "loss",
    "eval_loss": "val_loss",
    "val_loss": "val_loss",
    "val/loss": "val_loss",
    "valid_loss": "val_loss",
    "validation_loss": "val_loss",
    "eval/loss": "val_loss",
    "loss/val": "val_loss",
    "val loss": "val_loss",
    "valid/loss": "val_loss",
    "validation/loss": "val_loss",
    "loss/valid": "val_loss",
    "loss/validation": "val_loss",
    "lr": "lr",
    "learning_rate": "lr",
    "train/lr": "lr",
    "train/learning_rate": "lr",
    "grad_norm": "grad_norm",
    "gradient_norm": "grad_norm",
    "train/grad_norm": "grad_norm",
    "grad-norm": "grad_norm",
    "gnorm": "grad_norm",
    # Lightning's grad_norm() utility / track_grad_norm: the 2-norm over all parameters.
    "grad_2.0_norm_total": "grad_norm",
    # Console logs: build-nanogpt and llm.c print "norm", OLMo "optim/total_grad_norm".
    "norm": "grad_norm",
    "grad norm": "grad_norm",
    "total_grad_norm": "grad_norm",
    "optim/total_grad_norm": "grad_norm",
    "optim/lr": "lr",
    "lr/pg0": "lr",
    # llm.c's main.log: "s:0 trl:10.96" (train loss), "s:0 tel:10.9" (its eval loss).
    "trl": "loss",
    "tel": "val_loss",
}

# Lightning's LearningRateMonitor: "lr-SGD", "lr-Adam", "lr-AdamW/pg1", "lr-SGD-momentum".
LIGHTNING_LR = re.compile(r"^lr-(?P<opt>[A-Za-z][\w.]*?)(?:/pg(\d+))?$")
_LIGHTNING_MOMENTUM = re.compile(r"^lr-[A-Za-z][\w.]*-momentum(?:/pg\d+)?$")


def lightning_optimizer(key: str) -> str | None:
    """The optimizer a Lightning ``LearningRateMonitor`` key names (``lr-SGD`` -> ``SGD``,
    ``lr-AdamW/pg1`` -> ``AdamW``), or None for any other key."""
    m = LIGHTNING_LR.match(key.strip())
    return m.group("opt") if m else None


class NameMap:
    """Maps source metric keys to canonical names; user aliases extend the built-in ones."""

    def __init__(self, extra: Mapping[str, str] | None = None) -> None:
        self._aliases = dict(ALIASES)
        for key, value in (extra or {}).items():
            self._aliases[key.lower()] = value
        self._cache: dict[str, str] = {}

    def __call__(self, key: str) -> str:
        """Return the canonical name for ``key`` (the key itself when it has none)."""
        try:
            return self._cache[key]
        except KeyError:
            name = self._resolve(key)
            if len(self._cache) < 10_000:
                self._cache[key] = name
            return name

    def _resolve(self, key: str) -> str:
        low = key.strip().lower()
        if low in self._aliases:
            return self._aliases[low]
        if _LIGHTNING_MOMENTUM.match(key):
            return key
        m = LIGHTNING_LR.match(key)
        if m:
            group = m.group(2)
            return "lr" if group in (None, "0") else f"lr/pg{group}"
        return key


DEFAULT_NAMES = NameMap()


def canonical_name(key: str) -> str:
    """Canonical name of a metric key under the built-in aliases."""
    return DEFAULT_NAMES(key)


@dataclass(slots=True)
class Metrics:
    """One metric record: a step, its values (canonical names), and wall time when known."""

    step: int
    values: dict[str, float]
    t: float | None = None
    step_inferred: bool = False


@dataclass(slots=True)
class Event:
    """A non-metric record: run header, lr_change, end, pause/resume, or any other kind."""

    kind: str
    data: dict[str, Any] = field(default_factory=dict)
    step: int | None = None
    t: float | None = None


Record = Metrics | Event


@dataclass(slots=True)
class MetricBlock:
    """Many metric records of one key set as columns: what a reader yields for speed.

    Row ``i`` is the record ``Metrics(steps[i], {name: columns[name][i]}, times[i])``: every
    record of a block has every metric (dense), ``times`` is ``None`` when the records carry
    no wall time. Readers only yield blocks when asked to (``blocks=True``); a consumer that
    takes them must handle them (:meth:`rows`, :func:`expand` and :func:`count_records` help).
    """

    steps: np.ndarray  #: int64
    columns: dict[str, np.ndarray]  #: name -> float64, each as long as ``steps``
    times: np.ndarray | None = None  #: float64 wall times, or None
    step_inferred: bool = False

    def __len__(self) -> int:
        return len(self.steps)

    def rows(self) -> Iterator[Metrics]:
        """The block as Metrics records, in order (Python ints and floats, as parsers give)."""
        steps = self.steps.tolist()
        names = list(self.columns)
        cols = [c.tolist() for c in self.columns.values()]
        times = [None] * len(steps) if self.times is None else self.times.tolist()
        inferred = self.step_inferred
        for i, (step, t) in enumerate(zip(steps, times, strict=True)):
            values = {k: c[i] for k, c in zip(names, cols, strict=True)}
            yield Metrics(step, values, None if t != t else t, inferred)  # NaN: unknown


#: What a reader in block mode yields.
AnyRecord = Metrics | Event | MetricBlock


def expand(records: Iterable[AnyRecord]) -> Iterator[Record]:
    """The records one by one: blocks become their Metrics rows."""
    for rec in records:
        if isinstance(rec, MetricBlock):
            yield from rec.rows()
        else:
            yield rec


def count_records(records: Iterable[AnyRecord]) -> int:
    """How many records: a block counts as its rows."""
    return sum(len(r) if isinstance(r, MetricBlock) else 1 for r in records)


def to_float(value: Any) -> float | None:
    """Coerce a JSON/CSV/repr value to float; ``None`` when it is not a number.

    Accepts ints, floats, bools are rejected, and strings such as ``"2.697"``, ``"nan"``,
    ``"inf"``, ``"-Infinity"`` (Hugging Face 5.x logs floats as strings). ``null`` maps to NaN
    by the caller's choice, not here. An int too large for a float is ``±inf``, as its string
    would be (JSON decoders keep ints of hundreds of digits).
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            return float(value)
        except OverflowError:
            return math.inf if value > 0 else -math.inf
    if isinstance(value, str):
        s = value.strip()
        if not s or len(s) > 64:
            return None
        try:
            return float(s)
        except ValueError:
            return None
    return None


def _json_number(x: float) -> str:
    if math.isfinite(x):
        return repr(float(x))
    if math.isnan(x):
        return "NaN"
    return "Infinity" if x > 0 else "-Infinity"


def encode_metrics(step: int, values: Mapping[str, float], t: float | None = None) -> str:
    """One JSONL line (without newline) for a metric record; NaN/Inf written as tokens."""
    parts = [f'"step": {int(step)}']
    if t is not None:
        parts.append(f'"t": {t:.3f}')
    for key, value in values.items():
        parts.append(f'"{_escape(key)}": {_json_number(float(value))}')
    return "{" + ", ".join(parts) + "}"


def _escape(key: str) -> str:
    return key.replace("\\", "\\\\").replace('"', '\\"')
