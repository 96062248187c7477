"""Filling a MetricStore from a RunSet: once to the end (``inspect``), or live (:class:`Follower`).

:class:`Follower` is the one follow loop: ``watch`` (through the TUI's session), ``diagnose
--follow``, the benchmarks and ``guard`` run it in a thread and take what it reads through a
:class:`FollowSink`'s plain callbacks. It knows nothing of Textual or of the rule engine.
"""

from __future__ import annotations

import os
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from lrwatch.records import AnyRecord, count_records
from lrwatch.sources.errors import SourceError
from lrwatch.sources.runset import RunSet, open_runs
from lrwatch.store import MetricStore

if TYPE_CHECKING:
    from lrwatch.sources.peek import Peek

#: Seconds between polls of the files while they grow, and at most once they have gone quiet
#: (a finished log must not cost CPU; a live one that pauses is picked up within a second).
POLL_FAST, POLL_SLOW = 0.05, 1.0
#: Seconds without new data before the polls start to slow down.
QUIET_AFTER = 2.0

#: Seconds ``read_runs`` waits for a pipe between polls.
_PIPE_WAIT = 0.05
#: Seconds between progress reports while one poll reads a backlog of many files.
_PROGRESS_EVERY = 0.1
#: Runs from which a follower first peeks at every file (a runs table wants them all at once).
PEEK_FROM = 9


def sync_run(store: MetricStore, runset: RunSet, name: str, records: list[AnyRecord]) -> int:
    """Add ``records`` to run ``name`` and copy the source's path/format/skip stats over."""
    src = runset.sources[name]
    run = store.run(name, path=src.path, format=src.format)
    n = run.add(records) if records else 0
    run.format = src.format or run.format
    run.skipped = src.skipped
    run.steps_inferred = run.steps_inferred or src.steps_inferred
    chooser = runset.choosers.get(name)
    if chooser is not None:
        run.loss_choice = chooser.train.describe() if chooser.train else ""
        run.val_loss_choice = chooser.val.describe() if chooser.val else ""
    run.unread = getattr(src, "unread", [])
    return n


def backlog(runset: RunSet) -> dict[str, tuple[int, int]]:
    """Per file source of ``runset``: (bytes read, bytes the file holds now).

    What a reader opening big finished logs has still to catch up with (``watch`` shows it
    as progress and holds back chart redraws and the rules until it is read). Pipes have no
    size and are left out; a source read to its end (``done``) counts as fully read.
    """
    out: dict[str, tuple[int, int]] = {}
    for name, src in runset.sources.items():
        offset = getattr(src, "offset", None)  # None: a pipe (or an MLflow run's many files)
        if offset is None:
            continue
        try:
            size = os.stat(src.path).st_size
        except OSError:
            size = 0
        read = size if src.done else min(offset, size)
        out[name] = (read, size)
    return out


def read_runs(
    paths: list[str],
    fmt: str | None = None,
    store: MetricStore | None = None,
    **options: Any,
) -> MetricStore:
    """Read every named run once to its end (a pipe to EOF) into ``store`` (a new one if None).

    Raises :class:`~lrwatch.sources.SourceError` for a missing path or an unknown format.
    ``options`` go to :func:`open_runs` (``stdin_fd``, ``names``, ``parser_factory``...).
    Parsers run in block mode (the store takes columns), unless ``blocks=False``.
    """
    store = MetricStore() if store is None else store
    options.setdefault("blocks", True)
    runset = open_runs(paths, fmt, follow=False, **options)
    try:
        while True:
            batch = runset.poll()
            for name, records in batch.items():
                sync_run(store, runset, name, records)
            if runset.done:
                break
            if not any(batch.values()):
                runset.wait(_PIPE_WAIT)
        for name in runset.sources:
            sync_run(store, runset, name, [])
    finally:
        runset.close()
    return store


def poll_delay(quiet: float) -> float:
    """Seconds to wait before the next poll after ``quiet`` seconds without new records."""
    if quiet < QUIET_AFTER:
        return POLL_FAST
    return min(POLL_SLOW, POLL_FAST * 2 ** min((quiet - QUIET_AFTER) / 2, 10.0))


#: Adds a chunk of a run's records to the store (with its source's stats); returns how many.
AddChunk = Callable[[list[AnyRecord]], int]


class FollowSink(ABC):
    """What a :class:`Follower` calls, on its own thread, as it reads.

    A sink implements :meth:`records` and whichever of the others it cares about; the rest
    do nothing.
    """

    @abstractmethod
    def records(self, name: str, records: list[AnyRecord], add: AddChunk) -> None:
        """Run ``name``'s new ``records`` (``[]`` for a new run, and when its stats changed:
        a line skipped, its format found).

        The sink puts them in the store by calling ``add`` (once, or per chunk).
        """

    def polled(self) -> None:  # noqa: B027 (a hook)
        """One poll's records were all handed over."""

    def input_closed(self, name: str) -> None:  # noqa: B027 (a hook)
        """Run ``name`` is read from a pipe that reached EOF (its last records came first)."""

    def progress(self, read: int, total: int, done: bool) -> None:  # noqa: B027 (a hook)
        """How much of what the files held at start is read; ``done`` once, last."""

    def peeked(self, name: str, path: str, peek: Peek) -> None:  # noqa: B027 (a hook)
        """A first look at run ``name`` (many runs: before any is read; see PEEK_FROM)."""

    def idle(self) -> None:  # noqa: B027 (a hook)
        """A poll read nothing: the follower waits before the next one."""

    def failed(self, text: str) -> None:  # noqa: B027 (a hook)
        """Reading stopped (a missing path, an unknown format, an unexpected error)."""

    def finished(self) -> None:  # noqa: B027 (a hook)
        """The loop ended (asked to stop, or every input is read to its end)."""


class Follower:
    """Tails ``paths`` (files, dirs, globs, ``-`` read from ``stdin_fd``) into a store.

    ``source_options`` go to ``open_runs`` (``loss``, ``val_loss``, ``parser_factory`` …);
    ``blocks``: readers yield :class:`~lrwatch.records.MetricBlock` columns for plain metric
    rows (2-3x faster ingest). Files are polled every 50 ms while they grow and ever more
    rarely (up to once a second) once they have been quiet for a while; pipes every 50 ms.

    The backlog (what the files hold when they are opened) is read first, flat out, with
    :meth:`FollowSink.progress` saying how far; its ``done`` comes once a poll has read
    everything the files held when it began (pipes have no backlog).
    """

    def __init__(
        self,
        paths: list[str],
        fmt: str | None = None,
        *,
        follow: bool = True,
        stdin_fd: int | None = None,
        blocks: bool = True,
        poll_fast: float = POLL_FAST,
        **source_options: Any,
    ) -> None:
        self.paths, self.fmt, self.follow = paths, fmt, follow
        self.stdin_fd, self.blocks, self.source_options = stdin_fd, blocks, source_options
        self.poll_fast = poll_fast
        self._runset: RunSet | None = None
        #: Per run, the source stats last handed to the sink (format, skipped, unread lines).
        self._stats: dict[str, tuple[str, int, int]] = {}

    @classmethod
    def of(cls, runset: RunSet, poll_fast: float = POLL_FAST) -> Follower:
        """A follower of a run set opened already (the caller closes it)."""
        follower = cls([], follow=runset.follow, poll_fast=poll_fast)
        follower._runset = runset
        return follower

    def open(self) -> RunSet:
        """The run set this follower reads: opened now from its paths when it was not given
        one (raises :class:`SourceError`). A caller that opens it first (to add paths to it
        later) closes it; :meth:`run` closes only one it opened itself."""
        if self._runset is None:
            self._runset = open_runs(
                self.paths,
                self.fmt,
                follow=self.follow,
                stdin_fd=self.stdin_fd,
                blocks=self.blocks,
                **self.source_options,
            )
        return self._runset

    def run(self, store: MetricStore | None, stop: threading.Event, sink: FollowSink) -> None:
        """Read until ``stop`` is set (or, without ``follow``, until every input is read).

        ``store``: where the sink's ``add`` puts records; None for a sink that keeps none
        (``diagnose`` feeds the rules only), whose ``add`` then only counts them.
        """
        owned = self._runset is None
        try:
            runset = self.open()
        except SourceError as exc:
            sink.failed(str(exc))
            sink.finished()
            return
        loading = True
        try:
            loading = self._loop(runset, store, stop, sink)
        except Exception as exc:
            sink.failed(f"reading stopped: {exc!r}")
        finally:
            sink.finished()
            if loading:
                sink.progress(0, 0, True)
            if owned:
                runset.close()

    def _loop(
        self, runset: RunSet, store: MetricStore | None, stop: threading.Event, sink: FollowSink
    ) -> bool:
        """The polls; returns whether the backlog was still being read when they stopped."""
        closed: set[str] = set()
        last_data = time.monotonic()
        loading = True
        self._peek(runset, sink)
        while not stop.is_set():
            before = backlog(runset) if loading else {}
            got = self._poll(runset, store, sink, before if loading else None)
            for name, src in runset.sources.items():
                if src.is_stream and src.done and name not in closed:
                    closed.add(name)
                    sink.input_closed(name)
            sink.polled()
            if loading:
                loading = not _report_backlog(sink, before, backlog(runset))
            now = time.monotonic()
            if got:
                last_data = now
                continue
            sink.idle()
            if not self.follow and runset.done:
                break
            if any(s.is_stream and not s.done for s in runset.sources.values()):
                # A pipe gets no slow polls (its writer may pause and resume at any time),
                # and wakes the wait as soon as it has data.
                runset.wait(self.poll_fast)
            else:
                stop.wait(max(self.poll_fast, poll_delay(now - last_data)))
        return loading

    def _poll(
        self,
        runset: RunSet,
        store: MetricStore | None,
        sink: FollowSink,
        before: dict[str, tuple[int, int]] | None,
    ) -> bool:
        """One poll, each run's records handed to the sink as soon as they are read (a
        thousand-run backlog is neither held whole nor shown all at once at its end). A run
        with nothing new is handed over only when its stats changed (a skipped line, a format
        found). ``before``: the backlog at the start, while it is read (progress within the
        poll). Returns whether any records came."""
        got = False
        read = sum(r for r, _ in before.values()) if before is not None else 0
        total = sum(size for _, size in before.values()) if before is not None else 0
        last_progress = time.monotonic()
        for name, records in runset.poll_each():
            src = runset.sources[name]
            stats = (src.format, src.skipped, getattr(src, "unread_count", 0))
            if records or self._stats.get(name) != stats:
                self._stats[name] = stats
                add = count_records if store is None else partial(sync_run, store, runset, name)
                sink.records(name, records, add)
            got = got or bool(records)
            if before is not None and name in before and records:
                read += max(0, (getattr(src, "offset", None) or 0) - before[name][0])
                if time.monotonic() - last_progress >= _PROGRESS_EVERY:
                    last_progress = time.monotonic()
                    sink.progress(min(read, total), total, False)
        return got

    def _peek(self, runset: RunSet, sink: FollowSink) -> None:
        """Many runs: a first look at each (:mod:`lrwatch.sources.peek`) before any is read."""
        files = {n: s for n, s in runset.sources.items() if not s.is_stream}
        if len(files) < PEEK_FROM:
            return
        from lrwatch.sources.peek import peek

        options = runset.peek_options()
        for name, src in files.items():
            found = peek(src.path, src.format or None, **options)
            if found is not None:
                sink.peeked(name, src.path, found)


def _report_backlog(
    sink: FollowSink, before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> bool:
    """Report the backlog's progress; True once the poll read all that the files held when it
    began (pipes have no backlog: a watch of stdin is caught up after its first poll)."""
    read = sum(r for r, _ in after.values())
    total = sum(size for _, size in after.values())
    caught_up = all(after.get(name, (size, size))[0] >= size for name, (_, size) in before.items())
    sink.progress(read, total, caught_up)
    return caught_up


class StoreSink(FollowSink):
    """The plain sink: records straight into the store, ``on_batch({run: added})`` at most
    once per ``batch_window`` seconds (a new run shows up with 0), never once per record.

    What is pending when the follower stops is delivered before :meth:`finished` returns;
    why reading stopped, if it failed, is kept in :attr:`problem`.
    """

    def __init__(
        self, on_batch: Callable[[dict[str, int]], object], batch_window: float = 0.1
    ) -> None:
        self.on_batch, self.batch_window = on_batch, batch_window
        self.problem = ""
        self._pending: dict[str, int] = {}
        self._known: set[str] = set()
        self._last = time.monotonic()

    def records(self, name: str, records: list[AnyRecord], add: AddChunk) -> None:
        n = add(records)
        if records or name not in self._known:
            self._known.add(name)
            self._pending[name] = self._pending.get(name, 0) + n

    def polled(self) -> None:
        now = time.monotonic()
        if self._pending and now - self._last >= self.batch_window:
            self._deliver(now)

    def failed(self, text: str) -> None:
        self.problem = text

    def finished(self) -> None:
        if self._pending:
            self._deliver(time.monotonic())

    def _deliver(self, now: float) -> None:
        pending, self._pending, self._last = self._pending, {}, now
        self.on_batch(pending)


def follow(
    runset: RunSet,
    store: MetricStore,
    on_batch: Callable[[dict[str, int]], object],
    stop_event: threading.Event,
    interval: float = POLL_FAST,
    batch_window: float = 0.1,
) -> None:
    """Follow an open ``runset`` into ``store`` until ``stop_event`` is set (a worker thread):
    :class:`Follower` with a :class:`StoreSink` (``on_batch`` as it describes)."""
    Follower.of(runset, poll_fast=interval).run(
        store, stop_event, StoreSink(on_batch, batch_window)
    )
