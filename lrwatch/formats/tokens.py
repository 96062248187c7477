"""One general tokenizer for training-log lines: ``name ⟨: = space⟩ number`` pairs and a step.

A console line of almost any training program is a row of named numbers between separators::

    step 10 | loss: 8.6117 | dt: 19315.15ms | tok/sec: 6785.97 | norm: 2.93 | lr: 0.000110
    step    1/19560 | loss     nan (+nanz)| norm    nan (+nanz)| lr 8.57e-07 | 3788.44 ms
    step:10/1000 train_loss:3.2817 train_time:1234ms step_avg:123.4ms
    | epoch   1 |   200/ 2983 batches | lr 20.0000 | ms/batch 12.12 | loss  7.64 | ppl  2079.22
    2025-07-07 13:55:26.649 INFO: Epoch [001/300] - Train Loss: 145.13359, LR: [0.001]
    eta: 7:13:35  iter: 199  total_loss: 0.292  loss_rpn_cls: 0.157  lr: 0.003996  max_mem: 2541M
    [step=10/1000,epoch=0]            (then, indented)   train/CrossEntropyLoss=9.116

:func:`tokenize` reads such a line without knowing the program: the pairs (a name of up to
four words, then ``:``, ``=`` or spaces, then a number, maybe in ``[...]``, maybe with a unit
such as ``ms``, ``%`` or ``M`` and a note such as ``(+nanz)`` after it), and the step-like
tokens, in this order of preference: ``step N`` (also ``step:N/M``, ``[step=N/M]``),
``iter N`` / ``iteration N`` (also ``iter N/M``), ``[N/M]`` starting a line, ``N/M batches``
(a batch counter within an epoch), ``Epoch N`` (``Epoch [N/M]``, ``Epoch N/M``), then
``global_step`` / ``num_updates`` pairs. The ``M`` of a step or iter token is the run's total
steps (``Tokens.total_pos``); an epoch's ``M`` and a batch or sample counter's never are. It never
raises and does no I/O; turning tokens into records (carrying a step to the next lines,
numbering lines without one) is the text parser's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_SPECIAL = r"[-+]?(?:nan|NaN|NAN|inf|Inf|INF|infinity|Infinity)"
_WORD = r"[A-Za-z_][\w/.\-]*(?:\s?\((?:group\s)?\d+\))?"

#: A pair: a name of one to four words (single spaces between), a separator, a number.
#: The number may sit in brackets (``[0.001]``) and carry a unit (``ms``, ``%``, ``M``);
#: it must not run on into more digits, a time of day (``7:13:35``) or a fraction (``10/1000``).
_PAIR = re.compile(
    rf"(?<![\w/.\-])(?P<name>{_WORD}(?: {_WORD}){{0,3}})[\"']?"
    rf"(?:\s*[:=]\s*|\s+)\[?\s*(?P<value>{_SPECIAL}|{_NUMBER})\s*\]?"
    r"(?:ms|s|%|[KMGT]i?B?|B|x)?(?![\w.:/])"
)
#: Words that are not metric names even when a number follows them.
_NOT_NAMES = frozenset(
    {"at", "of", "in", "on", "to", "for", "from", "with", "and", "or", "by", "after", "the"}
)

_STEP = re.compile(r"(?<![\w/.])step[\"']?\s*[:=]?\s*\[?\s*(\d+)(?:\s*/\s*(\d+))?", re.IGNORECASE)
_ITER = re.compile(
    r"(?<![\w/.])(?:iter|iteration|iters)[\"']?\s*[:=]?\s*\[?\s*(\d+)(?:\s*/\s*(\d+))?",
    re.IGNORECASE,
)
# mmengine: "Iter(train) [  50/90000]"
_ITER_BRACKET = re.compile(r"\bIter\((?:train)\)\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]")
# A line that starts with its step out of a total: "[120/5000] loss 2.3" (not "[0/5][0/1583]",
# DCGAN's epoch then batch, and not on a line that names an epoch).
_BRACKET_STEP = re.compile(r"^\s*\[\s*(\d+)\s*/\s*(\d+)\s*\](?!\s*\[)")
_BATCHES = re.compile(r"(?<![\w.])(\d+)\s*/\s*(\d+)\s+batch", re.IGNORECASE)
_EPOCH = re.compile(
    r"(?<![\w/.])epoch(?:\((?:train|val|test)\))?\s*[:=#]?\s*\[?\s*(\d+)(?:\s*/\s*(\d+))?\]?"
    r"(?:\s*\[\s*(\d+)\s*/\s*(\d+)\s*\])?",
    re.IGNORECASE,
)
# Keras: "1875/1875 [=====...] - 5s - loss: 0.29" (Keras 3 draws the bar with "━").
_COUNTER = re.compile(r"^\s*(\d+)/(\d+)\s*(?:\[|\u2501| - )")
# An evaluation's progress: "Test: [  50/195]", "Test (EMA): [ 0/195]", "Validation: [3/10]".
_EVAL_COUNTER = re.compile(
    r"^\s*(?:test|val|valid|validation|eval|evaluation)\b([^\[:]{0,12}):\s*"
    r"\[\s*(\d+)\s*/\s*(\d+)\s*\]",
    re.IGNORECASE,
)
# llm.c's main.log: "s:0 trl:10.965596", "s:0 tel:10.9"
_LLMC = re.compile(r"^s:(\d+) ")
# timm: "Train: 3 [  50/1251 ( 4%)]"
_TIMM = re.compile(r"^\s*Train:\s*(\d+)\s*\[\s*(\d+)\s*/\s*(\d+)")
# PyTorch's examples: "Train Epoch: 1 [640/60000 (1%)]\tLoss: 0.301" (samples seen in the epoch)
_EXAMPLES = re.compile(r"epoch:?\s*(\d+)\s*\[\s*(\d+)\s*/\s*(\d+)\s*\(", re.IGNORECASE)
_STEP_NAMES = ("global_step", "num_updates", "trainer/global_step", "global step")
#: A word that, before the first pair, says the line reports validation.
_VAL_WORD = re.compile(
    r"(?<![\w/])(?:valid|validation|validating|val|eval|evaluation|evaluating|test)(?![\w])",
    re.IGNORECASE,
)
_HAS_DIGIT = re.compile(r"\d")


@dataclass(slots=True)
class Tokens:
    """What one line holds: its named numbers, and the step-like token when there is one."""

    #: (name, number text, position of the number in the line)
    pairs: list[tuple[str, str, int]]
    #: The step, or ``None``. ``kind`` says where it came from.
    step: int | None = None
    #: ``step``, ``iter``, ``batch`` (N/M batches within ``epoch``), ``epoch``, ``key``,
    #: ``evalbatch`` (batch N of M of an evaluation: only its last line is a point).
    kind: str = ""
    #: Positions in the line of the numbers that make the step: the step (or batch), the
    #: epoch and the batches per epoch (-1 where absent).
    step_pos: int = -1
    epoch_pos: int = -1
    per_epoch_pos: int = -1
    #: Position of the run's total steps, ``M`` of ``step N/M`` or ``iter N/M`` (-1: none;
    #: never an epoch's ``N/M`` nor the batches or samples of one epoch).
    total_pos: int = -1
    #: Whether the text before the first pair says this is a validation line.
    validation: bool = False
    #: The name of an evaluation set other than the main one (``ema``), or "".
    eval_set: str = ""


def tokenize(line: str) -> Tokens | None:
    """The pairs and step of ``line``, or ``None`` when it holds no number at all."""
    if not _HAS_DIGIT.search(line):
        return None
    pairs: list[tuple[str, str, int]] = []
    starts: dict[int, int] = {}  # value position -> where its pair starts
    for m in _PAIR.finditer(line):
        name = m.group("name")
        if name.split(" ", 1)[0].lower() in _NOT_NAMES:
            name = _trim_name(name)
            if not name:
                continue
        pairs.append((name, m.group("value"), m.start("value")))
        starts[m.start("value")] = m.start("name") + m.group("name").find(name)
    tokens = Tokens(pairs)
    _find_step(line, tokens)
    first = min((starts[pos] for _, _, pos in tokens.pairs), default=-1)
    if first > 0 and _VAL_WORD.search(line, 0, first):
        tokens.validation = True
    return tokens


def _trim_name(name: str) -> str:
    """Drop leading prose words (``at iter`` -> ``iter``)."""
    words = name.split(" ")
    while words and words[0].lower() in _NOT_NAMES:
        words.pop(0)
    return " ".join(words)


def _find_step(line: str, tokens: Tokens) -> None:
    """Set the step of ``tokens`` from the best step-like token, dropping its pair."""
    low = line.lower()
    m: re.Match[str] | None = None
    if "step" in low:
        m = _STEP.search(line)
        if m:
            _take(tokens, m, 1, "step", total=2)
            return
    if "iter" in low:
        m = _ITER.search(line) or _ITER_BRACKET.search(line)
        if m:
            _take(tokens, m, 1, "iter", total=2)
            return
    m = _EVAL_COUNTER.match(line)
    if m:  # timm, torchvision: "Test: [  50/195]  Loss: 3.25 (3.57)", an evaluation's batch
        _take(tokens, m, 2, "evalbatch", per_epoch=3)
        tokens.validation = True
        # A second evaluation set: "Test (EMA):" -> its metrics are val_ema_*.
        tokens.eval_set = re.sub(r"\W+", "_", m.group(1)).strip("_").lower()
        return
    m = _LLMC.match(line)
    if m:
        _take(tokens, m, 1, "step")
        return
    m = _COUNTER.match(line)
    if m:  # Keras: "1875/1875 [====] - 5s 2ms/step - loss: ..." under an "Epoch 2/20" line
        _take(tokens, m, 1, "batch", per_epoch=2)
        return
    if "epoch" not in low:
        m = _BRACKET_STEP.match(line)
        if m:
            _take(tokens, m, 1, "step", total=2)
            return
    if "train:" in low:
        m = _TIMM.match(line)
        if m:
            _take(tokens, m, 2, "batch", epoch=1, per_epoch=3)
            return
    epoch_m = _EPOCH.search(line) if "epoch" in low else None
    if epoch_m and "(" in line:
        m = _EXAMPLES.search(line)
        if m:  # the sample counter is the position within the epoch (steps count samples)
            _take(tokens, m, 2, "batch", epoch=1, per_epoch=3)
            return
    if "batch" in low:
        m = _BATCHES.search(line)
        if m:
            _take(tokens, m, 1, "batch", per_epoch=2)
            if epoch_m:
                _take_epoch(tokens, epoch_m)
            return
    if _key_step(tokens):
        if epoch_m:
            _drop_pairs(tokens, epoch_m.start(), epoch_m.end())
        return
    if epoch_m:
        if epoch_m.group(3) and "(train)" not in low and "(" in epoch_m.group(0):
            # mmengine "Epoch(val) [1][4/4]  val_loss: 0.44": an evaluation's batch counter
            _take(tokens, epoch_m, 3, "evalbatch", per_epoch=4)
            tokens.validation = True
            return
        if epoch_m.group(3):  # mmengine "Epoch(train) [1][ 50/1000]"
            _take(tokens, epoch_m, 3, "batch", epoch=1, per_epoch=4)
            return
        _take(tokens, epoch_m, 1, "epoch", epoch=1)


def _key_step(tokens: Tokens) -> bool:
    """A ``global_step`` / ``num_updates`` pair is the step."""
    for i, (name, value, pos) in enumerate(tokens.pairs):
        if name.lower() in _STEP_NAMES and value.isdigit():
            tokens.step, tokens.kind, tokens.step_pos = _step_int(value), "key", pos
            del tokens.pairs[i]
            return True
    return False


def _take(
    tokens: Tokens,
    m: re.Match[str],
    group: int,
    kind: str,
    *,
    epoch: int = 0,
    per_epoch: int = 0,
    total: int = 0,
) -> None:
    """The step is group ``group`` of ``m``; ``epoch``/``per_epoch``/``total`` name other
    groups (a total group may be empty: ``step 10`` has none)."""
    tokens.step, tokens.kind, tokens.step_pos = _step_int(m.group(group)), kind, m.start(group)
    if epoch:
        tokens.epoch_pos = m.start(epoch)
    if per_epoch:
        tokens.per_epoch_pos = m.start(per_epoch)
    if total and m.group(total) is not None:
        tokens.total_pos = m.start(total)
    _drop_pairs(tokens, m.start(), m.end())


def _step_int(digits: str) -> int:
    """The step an example line shows; past 18 digits it is no step (and ``int()`` of
    thousands of digits raises), so the rows of such lines are dropped when read."""
    return int(digits) if len(digits) <= 18 else 2**62


def _take_epoch(tokens: Tokens, m: re.Match[str]) -> None:
    tokens.epoch_pos = m.start(1)
    _drop_pairs(tokens, m.start(), m.end())


def _drop_pairs(tokens: Tokens, lo: int, hi: int) -> None:
    """A pair whose number is part of the step token is the step, not a metric."""
    tokens.pairs[:] = [p for p in tokens.pairs if not lo <= p[2] < hi]
