"""How a rule reports: :class:`Reporter`, its channel to the findings, and the engine's book.

One ongoing problem is one finding. Each rule gets its own :class:`Reporter`, which keeps
that rule's open finding (``active``): ``report`` opens it or updates it in place (escalating,
never demoting), ``resolve`` closes it. A symptom that comes back within
``engine.reopen_within`` points reopens the same finding (same id) instead of opening a new
one, so a value hovering at a threshold is one finding, not a string of them.

:class:`FindingBook` is the engine's side: it gives every rule its reporter, makes finding
ids unique per run, remembers every finding, and collects the ones a batch opened or changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypedDict, Unpack

from lrwatch.lrchange import LRChange
from lrwatch.rules.finding import Finding, severity_rank


class FindingFields(TypedDict, total=False):
    """The parts of a finding a rule writes with each report (left out: kept as they are)."""

    evidence: dict[str, Any]
    message: str
    suggestion: str
    action: LRChange | None
    confidence: float


class Reporter(Protocol):
    """A rule's channel to the findings; it holds at most one open finding at a time."""

    @property
    def active(self) -> Finding | None:
        """The open finding, None when there is none."""

    def report(
        self,
        step: int,
        severity: str,
        onset: int | None = None,
        *,
        symptom: str | None = None,
        **fields: Unpack[FindingFields],
    ) -> Finding:
        """Open a finding (onset ``onset`` or ``step``; id ``symptom``, by default the rule's)
        or update the open one: ``last_step``, ``fields``, and the severity if higher."""

    def resolve(self, step: int, why: str = "", *, reopenable: bool = True) -> None:
        """Mark the open finding resolved at ``step`` (nothing when none is open).

        ``reopenable``: a report within ``engine.reopen_within`` points reopens it; False
        when what follows would be a new episode, not this one coming back.
        """


class FindingBook:
    """Every finding of one run, and what the current batch opened or changed."""

    def __init__(self, run: str, reopen_within: int, points: Callable[[], int]) -> None:
        """``run`` prefixes ids; ``points`` counts the run's finite train-loss points (the
        clock of ``reopen_within``)."""
        self.run = run
        self.reopen_within = reopen_within
        self.points = points
        self.changed: dict[int, Finding] = {}  #: opened or changed since :meth:`begin`
        self._findings: list[Finding] = []
        self._ids: set[str] = set()
        self._channels: list[Channel] = []

    def reporter(self, symptom: str) -> Channel:
        """A new rule's reporter; ``symptom``: the rule's (its findings' default id, and
        what :meth:`is_open` asks about)."""
        channel = Channel(self, symptom)
        self._channels.append(channel)
        return channel

    def begin(self) -> None:
        """Start collecting the findings a new batch opens or changes."""
        self.changed = {}

    @property
    def findings(self) -> list[Finding]:
        """All findings, open and resolved, in the order they were opened."""
        return self._findings

    def is_open(self, symptom: str) -> bool:
        """Whether a rule of ``symptom`` has an open finding."""
        return any(c.symptom == symptom and c.active is not None for c in self._channels)

    def new(self, symptom: str, severity: str, onset: int, evidence: dict[str, Any]) -> Finding:
        """A new finding with an id unique in the run (``symptom@onset``, then ``.2``...)."""
        base = f"{self.run}/{symptom}@{onset}" if self.run else f"{symptom}@{onset}"
        fid, k = base, 1
        while fid in self._ids:
            k += 1
            fid = f"{base}.{k}"
        self._ids.add(fid)
        f = Finding(symptom, severity, onset, onset, evidence=evidence, id=fid)
        self._findings.append(f)
        self.changed[id(f)] = f
        return f

    def resolve(self, f: Finding, step: int, why: str = "") -> None:
        """Mark ``f`` resolved at ``step``."""
        if f.resolved:
            return
        f.resolved = True
        f.resolved_step = step
        if why:
            f.evidence = {**f.evidence, "resolved_because": why}
        self.changed[id(f)] = f


class Channel:
    """One rule's :class:`Reporter`, kept by a :class:`FindingBook`."""

    __slots__ = ("_book", "active", "closed", "closed_at", "symptom")

    def __init__(self, book: FindingBook, symptom: str) -> None:
        self._book = book
        self.symptom = symptom
        self.active: Finding | None = None
        self.closed: Finding | None = None  #: the last finding resolved (may reopen)
        self.closed_at = 0  #: the run's points when it was resolved

    def report(
        self,
        step: int,
        severity: str,
        onset: int | None = None,
        *,
        symptom: str | None = None,
        **fields: Unpack[FindingFields],
    ) -> Finding:
        """See :meth:`Reporter.report`."""
        f = self.active
        if f is None:
            f = self._reopen()
        if f is None:
            f = self._book.new(
                symptom or self.symptom, severity, step if onset is None else onset, {}
            )
        elif severity_rank(severity) > severity_rank(f.severity):
            f.severity = severity
            self._book.changed[id(f)] = f
        f.last_step = max(f.last_step, step)
        reopened = f.evidence.get("reopened")
        for key, value in fields.items():
            setattr(f, key, value)
        if reopened and "reopened" not in f.evidence:
            f.evidence["reopened"] = reopened  # rules rebuild the evidence; keep the count
        self.active = f
        return f

    def resolve(self, step: int, why: str = "", *, reopenable: bool = True) -> None:
        """See :meth:`Reporter.resolve`."""
        f = self.active
        if f is None:
            return
        self._book.resolve(f, step, why)
        self.closed, self.closed_at = (f if reopenable else None), self._book.points()
        self.active = None

    def _reopen(self) -> Finding | None:
        """The last finding, reopened, when it was resolved only a few points ago."""
        f = self.closed
        book = self._book
        if f is None or book.points() - self.closed_at > book.reopen_within:
            return None
        self.closed = None
        f.resolved, f.resolved_step = False, None
        f.evidence = {k: v for k, v in f.evidence.items() if k != "resolved_because"}
        f.evidence["reopened"] = f.evidence.get("reopened", 0) + 1
        book.changed[id(f)] = f
        return f
