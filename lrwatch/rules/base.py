"""What every rule builds on: the Rule base class, ReduceLROnPlateau-style progress, and
a relative-size helper. The shared loss statistics are in :mod:`lrwatch.rules.loss_stats`."""

from __future__ import annotations

import math
from typing import ClassVar

from lrwatch.rules.context import RunContext
from lrwatch.rules.finding import Finding, severity_rank
from lrwatch.rules.reporter import Reporter


class Rule:
    """One detector. The engine calls the hooks for each record, in stream order.

    A rule reads the run through its :class:`~lrwatch.rules.context.RunContext` (``ctx``)
    and reports through its :class:`~lrwatch.rules.reporter.Reporter` (``reporter.report``,
    ``reporter.resolve``), which keeps at most
    one open finding (``active``): while the symptom persists the rule updates that finding
    (escalating it if needed) instead of opening a new one. A rule knows neither the engine
    nor any other rule. Subclasses take their config section as a third argument.
    """

    symptom: ClassVar[str] = ""

    def __init__(self, ctx: RunContext, reporter: Reporter) -> None:
        self.ctx = ctx
        self.reporter = reporter
        self._refreshed = -(10**18)  # step of the last full refresh of the open finding

    def on_loss(self, step: int, x: float) -> None:
        """A finite train loss (after the shared statistics were updated)."""

    def on_val(self, step: int, x: float) -> None:
        """A val loss (may be non-finite)."""

    def on_grad(self, step: int, x: float) -> None:
        """A grad norm (may be non-finite)."""

    def on_reset(self, step: int, direction: int, explicit: bool) -> None:
        """The LR jumped (direction +1/-1) or was changed through an lr_change (explicit)."""

    # -- helpers ------------------------------------------------------------------------

    #: While a finding is open, its text is rebuilt at most once per this many points
    #: (formatting is the costliest part of a rule); ``last_step`` is kept exact.
    REFRESH: ClassVar[int] = 25

    @property
    def active(self) -> Finding | None:
        """The rule's open finding (None when there is none)."""
        return self.reporter.active

    def touch(self, step: int, severity: str) -> bool:
        """Cheap update of the open finding; False when a full report is due."""
        f = self.reporter.active
        if f is None or severity_rank(severity) > severity_rank(f.severity):
            return False
        if step - self._refreshed >= self.REFRESH:
            self._refreshed = step
            return False
        f.last_step = max(f.last_step, step)
        return True


class Progress:
    """ReduceLROnPlateau's notion of progress: a new best beats the old by ``threshold`` (rel).

    ``since`` counts points since the last such improvement.
    """

    __slots__ = ("best", "best_step", "since", "threshold")

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.best = math.inf
        self.best_step = 0
        self.since = 0

    def add(self, step: int, v: float) -> bool:
        """Add a value; True when it is a significant improvement."""
        if self.best == math.inf or v < self.best - self.threshold * abs(self.best):
            self.best, self.best_step, self.since = v, step, 0
            return True
        self.since += 1
        return False


def rel(x: float, ref: float) -> float:
    """``x / |ref|``, or inf when ref is 0 (no scale to compare with)."""
    return x / abs(ref) if ref else math.inf
