"""What the UI's worker threads run: follow files or a control stream into the store.

Readers know nothing of widgets: an :class:`Ingest` adds records to the store under the
store lock (the UI thread reads under the same lock when it draws), feeds one rule engine per
run, and calls ``post`` with small messages at most ``1/min_interval`` times a second.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from lrwatch.records import Record
from lrwatch.store import MetricStore
from lrwatch.tui.messages import DataArrived, FindingsChanged, SourceProblem

#: Seconds between stall checks of the rule engines.
STALL_CHECK = 5.0


def _make_engine(config: Any) -> Any:
    try:
        from lrwatch.rules import Engine
    except ImportError:  # the rule engine is optional for the charts
        return None
    return Engine(config)


class Ingest:
    """Adds batches to the store, runs the rules, and posts batched messages."""

    def __init__(
        self,
        store: MetricStore,
        lock: threading.Lock,
        post: Callable[[Any], Any],
        rules_config: Any = None,
        min_interval: float = 0.1,
    ) -> None:
        self.store = store
        self.lock = lock
        self.post = post
        self.rules_config = rules_config
        self.min_interval = min_interval
        self.engines: dict[str, Any] = {}
        self._pending: dict[str, int] = {}
        self._changed: set[str] = set()
        self._last_post = 0.0
        self._last_stall = time.monotonic()
        self._rules = True

    def add(self, name: str, records: list[Record], sync: Callable[[], int] | None = None) -> None:
        """Add ``records`` to run ``name`` (``sync`` does the add itself when given)."""
        with self.lock:
            n = sync() if sync is not None else self.store.run(name).add(records)
        self._pending[name] = self._pending.get(name, 0) + n
        if records and self._rules:
            self._feed_rules(name, records)

    def _feed_rules(self, name: str, records: list[Record]) -> None:
        engine = self.engines.get(name)
        if engine is None:
            engine = self.engines[name] = _make_engine(self.rules_config)
            if engine is None:
                self._rules = False
                return
        try:
            if engine.feed(records):
                self._changed.add(name)
        except Exception as exc:  # a rule bug must not stop the charts
            self._rules = False
            self.post(SourceProblem(f"rule engine stopped: {exc!r}"))

    def flush(self, force: bool = False) -> None:
        """Post what is pending, unless the last post was under ``min_interval`` ago."""
        now = time.monotonic()
        if now - self._last_stall >= STALL_CHECK and self._rules:
            self._last_stall = now
            for name, engine in self.engines.items():
                if engine is not None and engine.check_stalled(time.time()):
                    self._changed.add(name)
        if not force and now - self._last_post < self.min_interval:
            return
        if self._pending:
            self.post(DataArrived(self._pending))
            self._pending = {}
        for name in sorted(self._changed):
            engine = self.engines.get(name)
            if engine is not None:
                self.post(FindingsChanged(name, list(engine.findings)))
        self._changed.clear()
        self._last_post = now


def follow_files(
    paths: list[str], fmt: str | None, ingest: Ingest, stop: threading.Event, follow: bool = True
) -> None:
    """Tail ``paths`` (files, dirs, globs, ``-``) into the store until ``stop`` is set."""
    from lrwatch.sources import SourceError, open_runs
    from lrwatch.sources.follow import sync_run

    try:
        runset = open_runs(paths, fmt, follow=follow)
    except SourceError as exc:
        ingest.post(SourceProblem(str(exc), fatal=True))
        return
    try:
        while not stop.is_set():
            batch = runset.poll()
            for name in runset.sources:
                recs = batch.get(name) or []
                ingest.add(name, recs, lambda n=name, r=recs: sync_run(ingest.store, runset, n, r))
            ingest.flush()
            if not any(batch.values()):
                if not follow and runset.done:
                    break
                stop.wait(0.05)
    except Exception as exc:
        ingest.post(SourceProblem(f"reading stopped: {exc!r}", fatal=True))
    finally:
        ingest.flush(force=True)
        runset.close()


def follow_stream(
    target: str,
    token: str | None,
    ingest: Ingest,
    stop: threading.Event,
    on_client: Callable[[Any], Any] = lambda c: None,
    backlog: int = 100_000,
) -> None:
    """Feed the store from a control socket's ``subscribe`` stream (``lrwatch attach``).

    ``on_client`` receives the streaming client so the app can close it to unblock this thread.
    """
    from lrwatch.control.client import ControlClient, ControlError
    from lrwatch.formats.jsonl import JsonlParser

    parser = JsonlParser()
    name = target
    try:
        client = ControlClient(target, token=token)
        on_client(client)
        for obj in client.subscribe(backlog):
            if stop.is_set():
                break
            recs = parser.feed((json.dumps(obj) + "\n").encode())
            for rec in recs:
                if getattr(rec, "kind", None) == "run" and rec.data.get("run"):
                    name = str(rec.data["run"])
            if recs:
                ingest.add(name, recs)
            ingest.flush()
        if not stop.is_set():
            ingest.post(SourceProblem(f"stream from {target} ended"))
    except (ControlError, OSError) as exc:
        if not stop.is_set():
            ingest.post(SourceProblem(f"lost connection to {target}: {exc}"))
    finally:
        ingest.flush(force=True)
