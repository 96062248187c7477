"""Line templates: what each number of a line shape means, learnt once per shape.

The lines of a training log repeat one or a few shapes; only their numbers change. A line's
*shape* is the line with every number cut out (:data:`NUMBER`, with the blanks around it, so
right-aligned columns keep one shape). :func:`build` reads one line of a new shape with the
careful :func:`~lrwatch.formats.tokens.tokenize` and records, per number index, the metric
name it is the value of, or that it is the step, the epoch or the batches per epoch. Every
later line of that shape is then read by splitting out its numbers and indexing them: no
name matching at all, which is what makes a text log read at hundreds of thousands of lines
a second.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from lrwatch.formats.tokens import tokenize
from lrwatch.losschoice import is_loss_name
from lrwatch.records import NameMap

#: A number as a shape cuts it out: digits, maybe a fraction and an exponent, or NaN/Inf.
#: Starting with a digit lets the regex engine skip to the next digit fast (what makes a
#: block of lines cost about one ``re.split``); a sign or a leading dot in front of the
#: digits stays in the shape, and the template applies it (:attr:`Template.signs`).
DIGITS_RE = r"\d[\d.]*(?:[eE][-+]?\d+)?"
NUMBER_RE = DIGITS_RE + r"|[nNiI](?<![A-Za-z][nNiI])(?:aN|an|AN|nfinity|nf|NF)(?![A-Za-z])"
NUMBER = re.compile(f"({NUMBER_RE})")
#: The same on text that holds no ``nan``/``inf`` at all: cheaper, and cuts the same numbers.
DIGITS = re.compile(f"({DIGITS_RE})")
#: What a number leaves in its line's shape.
HOLE = "\x01"
_SPECIALS = ("nan", "NaN", "NAN", "inf", "Inf", "INF")


def number_pattern(text: str) -> re.Pattern[str]:
    """The cheapest pattern that cuts the numbers of ``text`` as :data:`NUMBER` does."""
    return NUMBER if any(s in text for s in _SPECIALS) else DIGITS


def to_floats(numbers: list[str]) -> list[float]:
    """The numbers cut out of lines as floats; one that is not a number (``1.2.3``) is NaN."""
    try:
        return list(map(float, numbers))
    except ValueError:
        return [float_or_nan(n) for n in numbers]


def float_or_nan(text: str) -> float:
    """``text`` as a float; NaN when it is not a number."""
    try:
        return float(text)
    except ValueError:
        return math.nan


# nanoGPT evaluation: "step 50: train loss 3.0400, val loss 3.0481". The train loss there is
# an average over eval batches, not a step's loss: kept apart as train_loss_eval so the
# per-iteration loss series has one point per step.
_NANOGPT_EVAL = re.compile(r"^step \d+: train loss \S+, val loss \S+")
# litgpt: "Epoch 1 | iter 10 step 5 | loss train: 2.345, val: n/a | iter time: 120.45 ms"
_LITGPT = re.compile(r"^Epoch \d+ \| iter \d+ step \d+ \|")
_GROUP = re.compile(r"\s*\((?:group\s*)?(\d+)\)$")
_SPACES = re.compile(r"\s+")
# Lines that look like metric lines of a known format: failing to read their loss is a skip.
_METRIC_PREFIX = re.compile(r"^(?:iter \d+:|step \d+:|Step \d+ \||Epoch \d+ \| iter \d+ step)")
#: A logging prefix's "module.path:LINE" (an integer right after the colon, then , ] or )).
_MODULE = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
_LINENO = re.compile(r"\d+[,\])]")


def _logging_prefix(name: str, line: str, pos: int) -> bool:
    """Whether the pair is a logger's ``module.path:LINE`` or its ``rank=N``, not a metric."""
    if name in ("rank", "local_rank"):
        return line[pos - 1 : pos] == "=" and bool(_LINENO.match(line, pos))
    return (
        bool(_MODULE.match(name)) and line[pos - 1 : pos] == ":" and bool(_LINENO.match(line, pos))
    )


#: A line without a step holding more named numbers than this is a printed config.
MAX_STEPLESS_PAIRS = 12
_VAL_NAME = re.compile(r"(?:^|[^a-z])(?:val|valid|validation|eval|test)(?:[^a-z]|$)")
#: Names that carry an epoch count, not a metric: a line holding only these is a header.
_EPOCH_NAMES = frozenset({"epoch", "epochs"})


@dataclass(slots=True)
class Template:
    """What the numbers of one line shape mean (indices into the line's numbers)."""

    #: (index, canonical name) of every metric number.
    metrics: list[tuple[int, str]]
    #: See :class:`~lrwatch.formats.tokens.Tokens`: ``step``, ``iter``, ``batch``, ``epoch``,
    #: ``key`` or ``""`` (no step on the line).
    kind: str = ""
    step: int = -1
    epoch: int = -1
    per_epoch: int = -1
    #: The run's total steps (``M`` of ``step N/M``), -1 where the line has none.
    total: int = -1
    #: The line looks like a known metric line but its loss could not be read: count it.
    broken: bool = False
    #: A loss of some kind is among the metrics (a line without a step is numbered then).
    has_loss: bool = False
    #: The line only sets the step for the lines after it (``Epoch 2/20``, OLMo's header).
    header: bool = False
    #: (index, sign, leading dot) of metric numbers written ``-0.5`` or ``.5``: the sign and
    #: the dot sit in the shape, so every line of the shape has them.
    signs: list[tuple[int, float, bool]] = field(default_factory=list)
    #: (index, n) of metric numbers written with thousands separators (OLMo's ``76,631``):
    #: the n numbers after the index are its digit groups.
    groups: list[tuple[int, int]] = field(default_factory=list)

    @property
    def used(self) -> list[int]:
        """The indices of the numbers lines of this shape give: metrics and step parts."""
        parts = (self.step, self.epoch, self.per_epoch, self.total)
        return sorted({i for i, _ in self.metrics} | {i for i in parts if i >= 0})

    @property
    def empty(self) -> bool:
        """Whether lines of this shape are prose: no metric and no step."""
        return not self.metrics and not self.kind


def build(line: str, names: NameMap) -> Template:
    """The template of ``line``'s shape (``line`` without its newline)."""
    starts = [m.start() for m in NUMBER.finditer(line)]
    index = {pos: i for i, pos in enumerate(starts)}
    tokens = tokenize(line)
    if tokens is None:
        return Template([])
    stripped = line.strip()
    eval_line = bool(_NANOGPT_EVAL.match(stripped))
    litgpt = bool(_LITGPT.match(stripped))
    metrics: list[tuple[int, str]] = []
    seen: set[str] = set()
    for raw_name, _, pos in tokens.pairs:
        while pos < len(line) and line[pos] in "+-.":
            pos += 1  # the shape cuts the digits out; a sign or dot stays in it
        i = index.get(pos)
        if i is None:
            continue
        if tokens.kind == "evalbatch":
            i = _running_mean(line, starts, i)
        if _logging_prefix(raw_name, line, pos):
            continue  # "[olmo.train:816, rank=0]": a logger's module:line and rank
        name = _name(raw_name, line, pos, tokens.validation, litgpt, eval_line)
        if tokens.eval_set:
            name = f"val_{tokens.eval_set}_{name.removeprefix('val_')}"
        canon = names(name)
        if canon in seen:
            continue  # the first of two same-named numbers on a line
        seen.add(canon)
        metrics.append((i, canon))
    tpl = Template(metrics, tokens.kind)
    tpl.signs = [
        (i, *_sign(line, starts[i])) for i, _ in metrics if _sign(line, starts[i]) != _PLAIN
    ]
    tpl.groups = [(i, n) for i, _ in metrics if (n := _thousands(line, starts, i))]
    tpl.step = index.get(tokens.step_pos, -1)
    tpl.epoch = index.get(tokens.epoch_pos, -1)
    tpl.per_epoch = index.get(tokens.per_epoch_pos, -1)
    tpl.total = index.get(tokens.total_pos, -1)
    if tpl.kind and tpl.step < 0:
        tpl.kind = ""  # the step's number is not one the shape splits out: no step
    tpl.has_loss = any(is_loss_name(name) for _, name in metrics)
    if not tpl.kind and len(metrics) > MAX_STEPLESS_PAIRS:
        tpl.has_loss = False  # a printed config (argparse Namespace, a dict), not metrics
    if tpl.kind and all(name.lower() in _EPOCH_NAMES for _, name in metrics):
        tpl.header = True
    if _METRIC_PREFIX.match(stripped) and "loss" in line.lower() and not tpl.has_loss:
        tpl.broken = True
    return tpl


def _name(raw: str, line: str, pos: int, validation: bool, litgpt: bool, eval_line: bool) -> str:
    """A metric name as written, made canonical-friendly (``Train Loss`` -> ``Train_Loss``)."""
    name = raw.strip()
    group = _GROUP.search(name)
    if group:  # OLMo "optim/LR (group 0)": group 0 is the LR, others lr/pgN
        name = name[: group.start()] + ("" if group.group(1) == "0" else f"/pg{group.group(1)}")
    if litgpt and name in ("loss train", "val"):
        name = "loss" if name == "loss train" else "val_loss"
    if eval_line and name == "train loss":
        name = "train_loss_eval"
    name = _SPACES.sub("_", name)
    if name.lower() in _EPOCH_NAMES or name.lower() == "iter":
        name = name.lower()
    if validation and not _VAL_NAME.search(name.lower()):
        name = f"val_{name}"
    if _unit_ms(line, pos) and not name.lower().endswith("ms"):
        name += "_ms"
    return name


_PLAIN = (1.0, False)
_PAREN = re.compile(r"\s*\(\s*")


def _running_mean(line: str, starts: list[int], i: int) -> int:
    """``Loss: 5.86 (3.98)`` on an evaluation's progress line: the mean so far is in the
    brackets; at the last batch it is the evaluation's result."""
    if i + 1 >= len(starts):
        return i
    m = NUMBER.match(line, starts[i])
    if m is None:
        return i
    gap = _PAREN.match(line, m.end())
    return i + 1 if gap is not None and gap.end() == starts[i + 1] else i


def _sign(line: str, start: int) -> tuple[float, bool]:
    """(sign, leading dot) written in front of the number that starts at ``start``."""
    dot = start > 0 and line[start - 1] == "." and not line[start - 2 : start - 1].isdigit()
    at = start - 1 if dot else start
    minus = at > 0 and line[at - 1] == "-" and not line[at - 2 : at - 1].isalnum()
    return (-1.0 if minus else 1.0), dot


_GROUP3 = re.compile(r",(\d{3})(?![\d.])")


def _thousands(line: str, starts: list[int], i: int) -> int:
    """How many ``,ddd`` digit groups follow the integer number ``i`` (``4,194,304``: 2)."""
    m = DIGITS.match(line, starts[i])
    if m is None or not m.group(1).isdigit() or len(m.group(1)) > 3:
        return 0
    n, end = 0, m.end()
    while i + n + 1 < len(starts) and (g := _GROUP3.match(line, end)) is not None:
        if g.start(1) != starts[i + n + 1]:
            break
        n, end = n + 1, g.end()
    return n


def _unit_ms(line: str, pos: int) -> bool:
    """Whether the number at ``pos`` is followed by the unit ``ms``."""
    m = NUMBER.match(line, pos)
    if m is None:
        return False
    rest = line[m.end() : m.end() + 4].lstrip()
    return rest.startswith("ms") and not rest[2:3].isalnum() and rest[2:3] != "/"
