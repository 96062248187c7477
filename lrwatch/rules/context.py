"""What a rule may know about the run: :class:`RunContext`, a read-only view kept by the engine.

Rules judge one metric each, but many judgements depend on the run around it: the LR now and
at its peak, whether it is rising (warmup) or decaying, whether an LR shock just happened,
the optimizer, the shared train-loss statistics, and whether another symptom already
explains what a rule sees. The engine tracks all of that (:class:`RunState`) and hands each
rule the same object typed as :class:`RunContext`, so a rule reads it and can never write it,
reach the engine, or reach another rule.

The engine updates :class:`RunState`'s plain attributes in its record loop; a rule's read is
one attribute load, as cheap as when rules held the engine itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lrwatch.rules.config import RuleConfig
from lrwatch.rules.loss_stats import LossStats


class RunContext(Protocol):
    """The run as the rules see it (read-only; the engine keeps it current)."""

    @property
    def config(self) -> RuleConfig:
        """All thresholds (a rule's own section is also given to its constructor)."""

    @property
    def step(self) -> int:
        """The newest step seen."""

    @property
    def points(self) -> int:
        """Finite train-loss points seen."""

    @property
    def val_points(self) -> int:
        """Finite val-loss points seen."""

    @property
    def loss(self) -> LossStats:
        """The shared train-loss statistics (updated before the rules see a point; reset
        when the LR jumps). Read them; only the engine adds to or resets them."""

    @property
    def lr(self) -> float | None:
        """The current LR (group 0), None while unknown."""

    @property
    def lr_max(self) -> float | None:
        """The highest LR seen."""

    @property
    def lr_rising(self) -> bool:
        """The LR went up at its last logged change (warmup, a cyclic rise)."""

    @property
    def lr_decaying(self) -> bool:
        """The last LR change was a smooth decrease: a schedule decaying, not a step or shock."""

    @property
    def saw_warmup(self) -> bool:
        """The LR rose during the run's first 1000 points."""

    @property
    def lr_logged(self) -> bool:
        """The LR is logged with the metrics (not only stated once, in a header or config
        line), so a warmup or a schedule would show."""

    @property
    def optimizer(self) -> str | None:
        """The optimizer's class name from the run header."""

    @property
    def shock_left(self) -> int:
        """Loss points left in which a jump is judged as an LR shock's (0: none)."""

    @property
    def rewinds(self) -> int:
        """How many times the run went back to a snapshot (``rewind`` records); the rules
        were restarted at the last one."""

    def is_open(self, symptom: str) -> bool:
        """Whether a rule of ``symptom`` has an unresolved finding (a more specific finding
        may already explain what a rule sees)."""


class RunState:
    """The engine's side of :class:`RunContext`: the same values, writable.

    Only the engine writes these; rules get this object typed as :class:`RunContext`.
    """

    __slots__ = (
        "_is_open",
        "config",
        "loss",
        "lr",
        "lr_logged",
        "lr_max",
        "lr_ratio",
        "lr_rising",
        "optimizer",
        "points",
        "rewinds",
        "saw_warmup",
        "shock_left",
        "step",
        "val_points",
    )

    def __init__(self, config: RuleConfig, loss: LossStats, is_open: Callable[[str], bool]) -> None:
        """``is_open`` answers :meth:`is_open` (the engine's finding bookkeeping)."""
        self.config = config
        self.loss = loss
        self._is_open = is_open
        self.lr: float | None = None
        self.lr_max: float | None = None
        self.lr_rising = False
        self.saw_warmup = False
        self.lr_logged = False
        self.optimizer: str | None = None
        self.shock_left = 0
        self.rewinds = 0
        #: ratio of the last LR change seen (< 1: the LR was decaying)
        self.lr_ratio = 1.0
        self.step = 0
        self.points = 0
        self.val_points = 0

    @property
    def lr_decaying(self) -> bool:
        """See :attr:`RunContext.lr_decaying`."""
        return 1.0 / self.config.engine.jump_ratio**2 < self.lr_ratio < 1.0 - 1e-6

    def is_open(self, symptom: str) -> bool:
        """See :meth:`RunContext.is_open`."""
        return self._is_open(symptom)
