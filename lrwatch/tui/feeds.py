"""What the UI's worker threads run: follow files or a control stream into the store.

Readers know nothing of widgets: an :class:`Ingest` adds records to the store under the
store lock (the UI thread reads under the same lock when it draws) in small slices with a
capped duty cycle (:class:`~lrwatch.tui.pacing.Pacer`), hands them to the rule engine's own
thread (:class:`~lrwatch.tui.rules_worker.RulesWorker`), and calls ``post`` with small
messages at most ``1/min_interval`` times a second.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from lrwatch.records import AnyRecord
from lrwatch.store import MetricStore
from lrwatch.tui.blocks import slices
from lrwatch.tui.messages import DataArrived, InputClosed, ReadProgress, SourceProblem
from lrwatch.tui.pacing import Pacer
from lrwatch.tui.rules_worker import RulesWorker

#: Records added to the store per lock hold: the UI's draw waits for at most one slice.
ADD_SLICE = 2048
#: The same while a backlog is read: the charts are not drawn then (only the header reads
#: the store), and per-slice costs add up over 10M records.
BACKLOG_SLICE = 65536
#: Seconds between polls of the files while they grow, and at most once they have gone quiet
#: (a finished log must not cost CPU; a live one that pauses is picked up within a second).
POLL_FAST, POLL_SLOW = 0.05, 1.0
#: Seconds without new data before the polls start to slow down.
QUIET_AFTER = 2.0


def _slices(records: list[AnyRecord], size: int) -> Iterator[list[AnyRecord]]:
    if not records:
        yield records  # still sync an empty batch: it registers new runs and their stats
    yield from slices(records, size)


def poll_delay(quiet: float) -> float:
    """Seconds to wait before the next poll after ``quiet`` seconds without new records."""
    if quiet < QUIET_AFTER:
        return POLL_FAST
    return min(POLL_SLOW, POLL_FAST * 2 ** min((quiet - QUIET_AFTER) / 2, 10.0))


class Ingest:
    """Adds batches to the store, queues them for the rules, and posts batched messages."""

    def __init__(
        self,
        store: MetricStore,
        lock: threading.Lock,
        post: Callable[[Any], Any],
        rules_config: Any = None,
        min_interval: float = 0.1,
        rules: bool = True,
    ) -> None:
        self.store = store
        self.lock = lock
        self.post = post
        self.min_interval = min_interval
        self.rules = RulesWorker(rules_config, post) if rules else None
        self.pacer = self._live_pacer = Pacer(work=0.02, rest=0.005)
        #: While a backlog is read the UI thread only handles keys and the header: a rest of
        #: 1 ms (a GIL hand-over) per 50 ms instead of 5 ms per 20 ms (20% of the reading).
        self._backlog_pacer = Pacer(work=0.05, rest=0.001)
        self.slice_rows = ADD_SLICE
        self._pending: dict[str, int] = {}
        self._last_post = 0.0
        self._last_progress = 0.0
        #: What the UI last heard of each run (unreadable-line count): an empty poll of an
        #: unchanged run is not news, and posting it made the idle UI redraw 10 times a second.
        self._known: dict[str, int] = {}

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
        if self.rules is not None:
            self.rules.hold()

    def release_rules(self) -> None:
        """Let the rules catch up with what was queued (the app calls it after its first draw)."""
        if self.rules is not None:
            self.rules.release()

    def progress(self, read: int, total: int, done: bool = False) -> None:
        """Post how much of the backlog is read (at most ``1/min_interval`` a second; ``done``
        always, after the records it covers)."""
        now = time.monotonic()
        if done:
            self.slice_rows, self.pacer = ADD_SLICE, self._live_pacer
            self.flush(force=True)
        elif now - self._last_progress < self.min_interval:
            return
        self._last_progress = now
        self.post(ReadProgress(read, total, done))

    def add(
        self,
        name: str,
        records: list[AnyRecord],
        sync: Callable[[list[AnyRecord]], int] | None = None,
    ) -> None:
        """Add ``records`` to run ``name`` (``sync(chunk)`` adds a chunk itself when given).

        Records may be :class:`~lrwatch.records.MetricBlock` columns (block-mode readers).
        """
        for chunk in _slices(records, self.slice_rows):
            with self.lock:
                n = sync(chunk) if sync is not None else self.store.run(name).add(chunk)
                skipped = self.store.runs[name].skipped
            if n or self._known.get(name) != skipped:
                self._known[name] = skipped
                self._pending[name] = self._pending.get(name, 0) + n
            self.pacer.tick()
        if self.rules is not None:
            self.rules.submit(name, records)

    def flush(self, force: bool = False) -> None:
        """Post what is pending, unless the last post was under ``min_interval`` ago."""
        now = time.monotonic()
        if not force and now - self._last_post < self.min_interval:
            return
        if self._pending:
            self.post(DataArrived(self._pending))
            self._pending = {}
        self._last_post = now


def follow_files(
    paths: list[str],
    fmt: str | None,
    ingest: Ingest,
    stop: threading.Event,
    follow: bool = True,
    stdin_fd: int | None = None,
    blocks: bool = True,
    **source_options: Any,
) -> None:
    """Tail ``paths`` (files, dirs, globs, ``-`` read from ``stdin_fd``) until ``stop`` is set.

    ``source_options`` go to ``open_runs`` (``loss``, ``val_loss``, ``parser_factory``).

    ``blocks``: readers yield :class:`~lrwatch.records.MetricBlock` columns for plain metric
    rows (2-3x faster ingest). Files are polled every 50 ms while they grow and ever more
    rarely (up to once a second) once they have been quiet for a while.

    The backlog (what the files hold when they are opened) is read first, flat out: the
    rules are held (:meth:`Ingest.begin_backlog`) and :class:`ReadProgress` messages say how far
    it got; the last one (``done``) comes once a poll has read everything the files held
    when it began. Whoever gets that one releases the rules (the app: after drawing it).
    """
    from lrwatch.sources import SourceError, open_runs
    from lrwatch.sources.follow import backlog, sync_run

    try:
        runset = open_runs(
            paths, fmt, follow=follow, stdin_fd=stdin_fd, blocks=blocks, **source_options
        )
    except SourceError as exc:
        ingest.post(SourceProblem(str(exc), fatal=True))
        return
    closed: set[str] = set()
    last_data = time.monotonic()
    loading = True
    ingest.begin_backlog()
    try:
        while not stop.is_set():
            before = backlog(runset) if loading else {}
            batch = runset.poll()
            for name, src in runset.sources.items():
                recs = batch.get(name) or []
                ingest.add(name, recs, lambda r, n=name: sync_run(ingest.store, runset, n, r))
                if src.is_stream and src.done and name not in closed:
                    closed.add(name)
                    ingest.flush(force=True)  # its last records first, then the news
                    ingest.post(InputClosed(name))
            ingest.flush()
            if loading:
                loading = not _report_backlog(ingest, before, backlog(runset))
            now = time.monotonic()
            if any(batch.values()):
                last_data = now
            else:
                ingest.pacer.idle()
                if not follow and runset.done:
                    break
                # A pipe gets no slow polls: its writer may pause and resume at any time.
                piped = any(s.is_stream and not s.done for s in runset.sources.values())
                stop.wait(POLL_FAST if piped else poll_delay(now - last_data))
    except Exception as exc:
        ingest.post(SourceProblem(f"reading stopped: {exc!r}", fatal=True))
    finally:
        ingest.flush(force=True)
        if loading:
            ingest.progress(0, 0, done=True)
        runset.close()


def _report_backlog(
    ingest: Ingest, before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> bool:
    """Post the backlog's progress; True once the poll read all that the files held when it
    began (pipes have no backlog: a watch of stdin is caught up after its first poll)."""
    read = sum(r for r, _ in after.values())
    total = sum(size for _, size in after.values())
    caught_up = all(after.get(name, (size, size))[0] >= size for name, (_, size) in before.items())
    ingest.progress(read, total, done=caught_up)
    return caught_up


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
