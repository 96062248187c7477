"""From a reader's thread into the store, the rules and a consumer's events.

An :class:`Ingest` is the :class:`~lrwatch.sources.follow.FollowSink` of a watching session:
it adds records to the store under the store's lock (the UI thread reads under the same lock
when it draws) in small slices with a capped duty cycle (:class:`~lrwatch.session.pacing.Pacer`),
hands them to the rule engine's own thread (:class:`~lrwatch.session.rules_worker.RulesWorker`),
and emits :class:`~lrwatch.session.events.DataArrived` at most ``1/min_interval`` times a
second, carrying the counts and the run events (``lr_change``, ``end`` …) read since the last.

Backpressure: with ``backpressure=True`` a new ``DataArrived`` waits until the consumer said
it handled the last one (:meth:`Ingest.consumed`); meanwhile updates merge here, so a slow UI
gets one bigger update instead of a queue of small ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from lrwatch.records import AnyRecord, Event
from lrwatch.rules import RuleConfig
from lrwatch.session.blocks import slices
from lrwatch.session.events import (
    DataArrived,
    Emit,
    InputClosed,
    ReadProgress,
    SourceProblem,
)
from lrwatch.session.pacing import Pacer
from lrwatch.session.rules_worker import RulesWorker
from lrwatch.sources.follow import AddChunk, FollowSink
from lrwatch.sources.peek import Peek
from lrwatch.store import MetricStore

#: Records added to the store per lock hold: the UI's draw waits for at most one slice.
ADD_SLICE = 2048
#: The same while a backlog is read: the charts are not drawn then (only the header reads
#: the store), and per-slice costs add up over 10M records.
BACKLOG_SLICE = 65536


def _slices(records: list[AnyRecord], size: int) -> Iterator[list[AnyRecord]]:
    if not records:
        yield records  # still sync an empty batch: it registers new runs and their stats
    yield from slices(records, size)


class Ingest(FollowSink):
    """Adds batches to the store, queues them for the rules, and emits batched events."""

    def __init__(
        self,
        store: MetricStore,
        lock: threading.Lock,
        post: Emit,
        rules_config: RuleConfig | None = None,
        min_interval: float = 0.1,
        rules: bool = True,
        backpressure: bool = False,
    ) -> None:
        self.store = store
        self.lock = lock
        self.post = post
        self.min_interval = min_interval
        self.backpressure = backpressure
        self.rules = RulesWorker(rules_config, post) if rules else None
        self.pacer = self._live_pacer = Pacer(work=0.02, rest=0.005)
        #: While a backlog is read the UI thread only handles keys and the header: a rest of
        #: 1 ms (a GIL hand-over) per 50 ms instead of 5 ms per 20 ms (20% of the reading).
        self._backlog_pacer = Pacer(work=0.05, rest=0.001)
        self.slice_rows = ADD_SLICE
        self._backlog = False  # between begin_backlog and the done progress
        self._pending = DataArrived({})
        self._unconsumed = threading.Event()  # a DataArrived is out and not yet handled
        self._last_post = 0.0
        self._last_progress = 0.0
        #: What the consumer last heard of each run (unreadable-line count): an empty poll of
        #: an unchanged run is not news, and posting it made the idle UI redraw 10 times a second.
        self._known: dict[str, int] = {}
        #: Runs peeked at before their backlog was read (many runs: a table shows these).
        self.peeks: dict[str, Peek] = {}

    def start(self) -> None:
        """Start the rule engine's thread."""
        if self.rules is not None:
            self.rules.start()

    def close(self) -> None:
        """Stop the rule engine's thread."""
        if self.rules is not None:
            self.rules.stop()

    def begin_backlog(self) -> None:
        """A backlog is read from now on: bigger slices, a lighter pacer, the rules held
        (records are queued for them, none checked) until :meth:`release_rules`."""
        self.slice_rows, self.pacer = BACKLOG_SLICE, self._backlog_pacer
        self._backlog = True
        if self.rules is not None:
            self.rules.hold()

    def release_rules(self) -> None:
        """Let the rules catch up with what was queued (the app calls it after its first draw)."""
        if self.rules is not None:
            self.rules.release()

    def consumed(self) -> None:
        """The consumer handled the last :class:`DataArrived` (backpressure: the next may go)."""
        self._unconsumed.clear()

    # -- the follower's callbacks (its thread) ----------------------------------------------

    def records(self, name: str, records: list[AnyRecord], add: AddChunk) -> None:
        """A poll's records of run ``name``: into the store and the rules' queue (and the
        news out, within a poll too: one poll of a thousand-file backlog takes seconds)."""
        self.add(name, records, add)
        self.flush()

    def polled(self) -> None:
        self.flush()

    def input_closed(self, name: str) -> None:
        self.flush(force=True)  # its last records first, then the news
        self.post(InputClosed(name))

    def idle(self) -> None:
        self.pacer.idle()

    def peeked(self, name: str, path: str, peek: Peek) -> None:
        """A first look at a run before its backlog is read: the run is known from now on
        (its DataArrived count is 0) and :attr:`peeks` holds what its file's tail says."""
        with self.lock:
            self.store.run(name, path=path)
        self.peeks[name] = peek
        self._pending.counts.setdefault(name, 0)
        self.flush()

    def failed(self, text: str) -> None:
        self.post(SourceProblem(text, fatal=True))

    def finished(self) -> None:
        self.flush(force=True)

    def progress(self, read: int, total: int, done: bool = False) -> None:
        """Post how much of the backlog is read (at most ``1/min_interval`` a second; ``done``
        always, after the records it covers)."""
        now = time.monotonic()
        if done:
            self.flush(force=True)  # the backlog's last records, still marked as such
            self.slice_rows, self.pacer = ADD_SLICE, self._live_pacer
            self._backlog = False
        elif now - self._last_progress < self.min_interval:
            return
        self._last_progress = now
        self.post(ReadProgress(read, total, done))

    # -- adding -----------------------------------------------------------------------------

    def add(self, name: str, records: list[AnyRecord], sync: AddChunk | None = None) -> None:
        """Add ``records`` to run ``name`` (``sync(chunk)`` adds a chunk itself when given).

        Records may be :class:`~lrwatch.records.MetricBlock` columns (block-mode readers).
        """
        pending = self._pending
        for chunk in _slices(records, self.slice_rows):
            with self.lock:
                run = self.store.runs.get(name)
                seen = len(run.events) if run is not None else 0
                n = sync(chunk) if sync is not None else self.store.run(name).add(chunk)
                run = self.store.runs[name]
                skipped = run.skipped
                events: list[Event] = run.events[seen:] if len(run.events) > seen else []
            if n or self._known.get(name) != skipped:
                self._known[name] = skipped
                pending.counts[name] = pending.counts.get(name, 0) + n
            if events:
                pending.events.setdefault(name, []).extend(events)
            self.pacer.tick()
        if self.rules is not None:
            self.rules.submit(name, records)

    def flush(self, force: bool = False) -> None:
        """Post what is pending, unless the last post was under ``min_interval`` ago (or,
        with backpressure, the consumer has not handled it yet)."""
        now = time.monotonic()
        if not force and now - self._last_post < self.min_interval:
            return
        if not force and self.backpressure and self._unconsumed.is_set():
            return  # merged into the next one
        pending = self._pending
        if pending.counts or pending.events:
            pending.backlog = self._backlog
            self._pending = DataArrived({})
            if self.backpressure:
                self._unconsumed.set()
            self.post(pending)
        self._last_post = now
