"""Which metric of a run is its training loss (and its validation loss), when none is ``loss``.

Readers give metrics their canonical names (``train_loss``, ``train/loss``, ``Train Loss``
are already ``loss``; ``eval_loss``, ``Valid Loss`` are ``val_loss``). Many programs call
their loss something else, or log only its parts. A :class:`LossChooser` sits on a run's
record stream and, on the first record that holds a loss-like name, decides once, in this
order (docs/format.md):

1. a metric named ``loss`` (nothing to do);
2. ``total_loss``, ``loss_total``, ``train/total_loss``, ``train_total_loss`` (detectron2,
   mmdet);
3. a cross-entropy loss: a name whose last part is ``CrossEntropyLoss``, ``ce_loss`` or
   ``nll_loss`` (OLMo's ``train/CrossEntropyLoss``);
4. the only name containing ``loss`` that is not validation (``mean_loss``);
5. several such names (parts of one loss: YOLO's ``train/box_loss``, ``train/cls_loss``,
   ``train/dfl_loss``): their sum, charted as ``loss``, the parts kept.

Validation the same way: ``val_loss``, else the only validation name containing ``loss``, else
the sum of the validation parts (``val/box_loss`` ...). A name is validation when a part of it
is ``val``, ``valid``, ``validation`` or ``eval``; ``test`` losses are neither.
``--loss NAME`` / ``--val-loss NAME`` (``a+b`` sums) override the choice. A chosen single
name is renamed; a displaced metric already called ``loss`` keeps its values as
``loss_logged``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from lrwatch.records import SYSTEM_PREFIX, AnyRecord, MetricBlock, Metrics

if TYPE_CHECKING:
    import numpy as np

#: What a record maps names to: a Metrics record's floats, or a MetricBlock's columns.
_V = TypeVar("_V", float, "np.ndarray")

_TOTALS = ("total_loss", "loss_total", "train/total_loss", "train_total_loss", "loss/total")
_CE = re.compile(r"(?:^|[/_.])(?:crossentropyloss|cross_entropy|ce_loss|nll_loss|ce)$")
_PART = re.compile(r"[^a-z0-9]+")
_VAL_PARTS = frozenset({"val", "valid", "validation", "eval", "evaluation", "dev"})
_NOT_TRAIN = frozenset({"test", "eval", "val", "valid", "validation", "evaluation", "dev"})
#: Parts of a name that make it a setting or statistic about a loss, not a loss.
_NOT_LOSS = frozenset(
    {
        "pct",
        "percent",
        "improvement",
        "ratio",
        "scale",
        "scaler",
        "weight",
        "coef",
        "coeff",
        "delta",
        "diff",
        "std",
        "patience",
        "threshold",
        "factor",
        "fn",
        "type",
    }
)
#: The custom pattern ``inspect`` and the UI suggest when a log gave no loss (``--regex``).
REGEX_EXAMPLE = r"--regex '(?P<step>\d+) .*loss[=:] *(?P<loss>\S+)'"
#: Metric names remembered as judged per run (beyond: every record is looked at again).
MAX_SEEN = 10_000
#: What a displaced ``loss`` is called when the user chose another metric as the loss.
DISPLACED = "loss_logged"


def _parts(name: str) -> set[str]:
    return set(_PART.split(name.lower()))


def is_validation(name: str) -> bool:
    """Whether a metric name is a validation metric (``val/box_loss``, ``eval_acc``...)."""
    return bool(_parts(name) & _VAL_PARTS) or name.lower().startswith(("val", "eval"))


def is_val_set(name: str) -> bool:
    """Whether a metric is a validation loss other than ``val_loss`` itself: a named eval
    set's (``eval_g1_loss``, ``val_g0_loss``) or a part of the validation loss."""
    return (
        name not in ("val_loss", "val_loss_logged")
        and is_loss_name(name)
        and is_validation(name)
        and not _parts(name) & {"test", "train"}  # nanoGPT's train_loss_eval is not one
    )


def is_loss_name(name: str) -> bool:
    """Whether a metric name is a loss (``total_loss``, ``train/CrossEntropyLoss``), not a
    setting or statistic about one (``annealing_loss_improvement_pct``, ``loss_scale``)."""
    low = name.lower()
    # System metrics (sys/...) describe the machine, never the model.
    return "loss" in low and not low.startswith(SYSTEM_PREFIX) and not _parts(name) & _NOT_LOSS


def _is_train_loss(name: str) -> bool:
    low = name.lower()
    if not is_loss_name(name):
        return False
    parts = _parts(name)
    return not parts & _NOT_TRAIN and not low.startswith(("val", "eval", "test"))


@dataclass(slots=True)
class Choice:
    """One decision: the names that make the metric, and why."""

    target: str  #: ``loss`` or ``val_loss``
    names: tuple[str, ...]  #: the source names (one: renamed; several: summed)
    reason: str

    def describe(self) -> str:
        """``total_loss (rule 2: ...)`` for ``inspect``."""
        return f"{' + '.join(self.names)} ({self.reason})"


def choose_train(names: Iterable[str]) -> Choice | None:
    """The training-loss choice for a record's metric names, or ``None`` (nothing loss-like)."""
    names = list(names)
    if "loss" in names:
        return Choice("loss", ("loss",), "named loss")
    lower = {n.lower(): n for n in names}
    for total in _TOTALS:
        if total in lower:
            return Choice("loss", (lower[total],), "a total loss")
    candidates = [n for n in names if _is_train_loss(n)]
    ce = [n for n in candidates if _CE.search(n.lower())]
    if len(ce) == 1:
        return Choice("loss", (ce[0],), "the cross-entropy loss")
    if len(candidates) == 1:
        return Choice("loss", (candidates[0],), "the only training loss")
    if candidates:
        return Choice("loss", tuple(candidates), "the sum of the logged loss parts")
    return None


def choose_val(names: Iterable[str]) -> Choice | None:
    """The validation-loss choice, or ``None``."""
    names = list(names)
    if "val_loss" in names:
        return Choice("val_loss", ("val_loss",), "named val_loss")
    candidates = [n for n in names if is_loss_name(n) and is_validation(n)]
    candidates = [n for n in candidates if "test" not in _parts(n)]
    if len(candidates) == 1:
        return Choice("val_loss", (candidates[0],), "the only validation loss")
    if candidates:
        total = [n for n in candidates if any(t in n.lower() for t in ("total", "mean"))]
        if len(total) == 1:
            return Choice("val_loss", (total[0],), "the total validation loss")
        return Choice("val_loss", tuple(candidates), "the sum of the validation loss parts")
    return None


def user_choice(target: str, spec: str) -> Choice:
    """``--loss NAME`` / ``--val-loss NAME``: one name, or ``a+b+c`` to sum."""
    names = tuple(n.strip() for n in spec.split("+") if n.strip())
    return Choice(target, names, "chosen with --" + target.replace("_", "-"))


class LossChooser:
    """Gives a run's records a ``loss`` (and ``val_loss``) by the order above; one per run."""

    def __init__(self, loss: str | None = None, val_loss: str | None = None) -> None:
        self.train: Choice | None = user_choice("loss", loss) if loss else None
        self.val: Choice | None = user_choice("val_loss", val_loss) if val_loss else None
        self._user = {"loss": bool(loss), "val_loss": bool(val_loss)}
        self._seen: set[str] = set()  #: metric names already judged, without a choice

    def apply(self, records: list[AnyRecord]) -> list[AnyRecord]:
        """The records with the chosen names in place (records are changed in place)."""
        for rec in records:
            if isinstance(rec, Metrics):
                self._values(rec.values)
            elif isinstance(rec, MetricBlock):
                self._values(rec.columns)
        return records

    def _values(self, values: dict[str, _V]) -> None:
        # Each name is judged on its own, so a record of names already seen cannot make a
        # choice the earlier ones did not: only records with new names are looked at (a run
        # that never logs a val loss would otherwise be searched for one on every record).
        if (self.train is None or self.val is None) and not self._seen.issuperset(values):
            if self.train is None:
                self.train = choose_train(values)
            if self.val is None:
                self.val = choose_val(values)
            if len(self._seen) < MAX_SEEN:
                self._seen.update(values)
        for choice in (self.train, self.val):
            if choice is not None and choice.names != (choice.target,):
                _apply(choice, values, self._user[choice.target])


def _apply(choice: Choice, values: dict[str, _V], user: bool) -> None:
    names = _resolve(choice.names, values)
    if names is None or (choice.target in values and not user):
        return
    if choice.target in values:
        values[DISPLACED if choice.target == "loss" else "val_loss_logged"] = values.pop(
            choice.target
        )
    if len(names) == 1:
        values[choice.target] = values.pop(names[0])
        return
    total = values[names[0]]
    for n in names[1:]:
        total = total + values[n]
    values[choice.target] = total


def _resolve(names: tuple[str, ...], values: Mapping[str, object]) -> list[str] | None:
    """The keys of ``values`` the choice's names refer to (case and spaces forgiven)."""
    out = []
    for name in names:
        if name in values:
            out.append(name)
            continue
        want = _PART.sub("_", name.lower())
        match = next((k for k in values if _PART.sub("_", k.lower()) == want), None)
        if match is None:
            return None
        out.append(match)
    return out
