"""``diagnose``'s sink for the follower: one rule engine per run, no store.

Imported when ``diagnose`` runs, not when the command line starts (it pulls in the readers).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from lrwatch.records import AnyRecord, MetricBlock, Metrics
from lrwatch.rules import Engine, Finding, RuleConfig
from lrwatch.sources.follow import AddChunk, FollowSink


class Judge(FollowSink):
    """The follower's sink for ``diagnose``: one rule engine per run, no store."""

    def __init__(
        self,
        config: RuleConfig | None,
        follow: bool,
        on_change: Callable[[str, list[Finding]], object] | None,
    ) -> None:
        self.config, self.follow, self.on_change = config, follow, on_change
        self.stop = threading.Event()
        self.engines: dict[str, Engine] = {}
        self.counts: dict[str, int] = {}
        self.with_loss: set[str] = set()
        self.problem = ""

    def engine(self, name: str) -> Engine:
        engine = self.engines.get(name)
        if engine is None:
            engine = self.engines[name] = Engine(self.config, run=name)
        return engine

    def records(self, name: str, records: list[AnyRecord], add: AddChunk) -> None:
        engine = self.engine(name)
        changed = engine.feed(records)
        self.counts[name] = self.counts.get(name, 0) + add(records)
        if name not in self.with_loss and _has_loss(records):
            self.with_loss.add(name)
        if changed and self.on_change is not None:
            self.on_change(name, changed)

    def polled(self) -> None:
        # Following: done once every run wrote its end record (a new file may still come,
        # but a directory of finished runs must not be watched forever).
        if self.follow and self.engines and all(e.ended for e in self.engines.values()):
            self.stop.set()

    def idle(self) -> None:
        if not self.follow:
            return
        now = time.time()
        for name, engine in self.engines.items():
            stalled = engine.check_stalled(now)
            if stalled and self.on_change is not None:
                self.on_change(name, stalled)

    def failed(self, text: str) -> None:
        self.problem = text
        self.stop.set()


def _has_loss(records: list[AnyRecord]) -> bool:
    return any(
        "loss" in (r.values if isinstance(r, Metrics) else r.columns)
        for r in records
        if isinstance(r, Metrics | MetricBlock)
    )
