"""The rule engine on its own thread, paced, so it never delays the charts or the keys.

The engine costs tens of microseconds a record in pure Python: run inline in the reader it
caps ingest at ~30k records/s and holds the GIL for long stretches. Here readers only hand
batches over (:meth:`RulesWorker.submit`); the worker feeds them to one
:class:`~lrwatch.rules.Engine` per run in small slices with a capped duty cycle, checks for
stalls, and posts the findings of changed runs at most every ``interval`` seconds. When it
falls far behind (a huge finished log, or a run logging faster than the rules can follow) it
thins what each run has queued to an equal share (its newest rows whole, a stride through the
older ones) rather than holding millions of records in memory, and says so (:class:`~lrwatch.session.events.RulesProgress`); ``lrwatch diagnose`` reads everything.
"""

from __future__ import annotations

import threading
import time
from collections import deque

from lrwatch.records import AnyRecord, count_records
from lrwatch.rules import Engine, RuleConfig
from lrwatch.session.blocks import slices, thin_rows
from lrwatch.session.events import Emit, FindingsChanged, RulesProgress, SourceProblem
from lrwatch.session.pacing import Pacer

#: Records the rules may fall behind before the queued runs are thinned (see _trim).
MAX_BACKLOG = 1_000_000
#: Rows each run keeps at least when an overflowing backlog is trimmed (see _trim).
MIN_SHARE = 1_000
#: Records per engine call: small enough that one call stays well under a work slice.
FEED_SLICE = 512
#: Seconds between stall checks.
STALL_CHECK = 5.0


class RulesWorker:
    """Runs the rule engines of every run on one background thread."""

    def __init__(
        self,
        config: RuleConfig | None,
        post: Emit,
        *,
        interval: float = 0.5,
        max_backlog: int = MAX_BACKLOG,
        pacer: Pacer | None = None,
        min_share: int = MIN_SHARE,
    ) -> None:
        self.config = config
        self.post = post
        self.interval = interval
        self.max_backlog = max_backlog
        self.min_share = min_share
        # Half the time at most: the rules may lag, the UI may not.
        self.pacer = pacer or Pacer(work=0.02, rest=0.02)
        self.engines: dict[str, Engine] = {}
        self.backlog = 0  #: records submitted and not yet fed
        self.skipped = 0  #: records never fed because the backlog overflowed
        self.failed = False
        self._queue: deque[tuple[str, list[AnyRecord], int]] = deque()
        self._queued: dict[str, int] = {}  #: rows queued per run
        self._cond = threading.Condition()
        self._stop = False
        self._held = False
        self._changed: set[str] = set()
        self._reported = (0, 0)
        self._last_post = self._last_stall = 0.0
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (a daemon: a stuck rule must not keep the process alive)."""
        self._thread = threading.Thread(target=self._run, name="lrwatch-rules", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the thread to end and wait up to ``timeout`` seconds for it."""
        with self._cond:
            self._stop = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)

    def hold(self) -> None:
        """Queue what is submitted but feed nothing until :meth:`release` (returns at once).

        While the UI reads a big log's backlog the engine would take half the interpreter
        from the reader (the GIL) and double the time to the first full screen; the queue
        keeps its bound meanwhile (thinned and counted as usual, see :meth:`_trim`).
        """
        with self._cond:
            self._held = True

    def release(self) -> None:
        """Feed the queued records again (after :meth:`hold`)."""
        with self._cond:
            self._held = False
            self._cond.notify()

    @property
    def held(self) -> bool:
        """Whether feeding is on hold."""
        return self._held

    def submit(self, name: str, records: list[AnyRecord]) -> None:
        """Queue ``records`` of run ``name`` for the rules (returns at once).

        Blocks (:class:`~lrwatch.records.MetricBlock`) count as their rows everywhere.
        """
        if self.failed or not records:
            return
        n = count_records(records)
        with self._cond:
            self._queue.append((name, records, n))
            self._queued[name] = self._queued.get(name, 0) + n
            self.backlog += n
            if self.backlog > self.max_backlog:
                self._trim()
            self._cond.notify()

    def _trim(self) -> None:
        """Over the bound: every run keeps an equal share of its rows, its newest ones whole
        and a stride through the older ones (:func:`~lrwatch.session.blocks.thin_rows`).

        A thousand finished runs read at once would otherwise leave the rules only the last
        hundred (the oldest batches went first): now each run is judged, on its recent past
        and the shape of the rest. The share is at least ``min_share`` rows; trimming goes
        down to 3/4 of the bound so that it happens seldom. Events are never cut.
        """
        target = self.max_backlog * 3 // 4
        share = max(target // max(1, len(self._queued)), min(self.min_share, target))
        over = {run: n for run, n in self._queued.items() if n > share}
        if not over:
            return
        kept: deque[tuple[str, list[AnyRecord], int]] = deque()
        for run, records, n in self._queue:
            if run in over:
                # Each of the run's batches keeps its part of the share.
                records = thin_rows(records, max(1, n * share // over[run]))
                left = count_records(records)
                self._queued[run] -= n - left
                self.backlog -= n - left
                self.skipped += n - left
                n = left
            if records:
                kept.append((run, records, n))
        self._queue = kept

    def queued(self, name: str) -> bool:
        """Whether run ``name`` has records waiting for the rules (not judged up to date)."""
        with self._cond:
            return self._queued.get(name, 0) > 0

    def drain(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted was fed (tests); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._cond:
                if self.backlog == 0:
                    break
            time.sleep(0.01)
        else:
            return False
        self._publish()
        return True

    # -- the thread ------------------------------------------------------------------------

    def _run(self) -> None:
        self._last_post = self._last_stall = time.monotonic()
        while True:
            with self._cond:
                if (self._held or not self._queue) and not self._stop:
                    self._cond.wait(self.interval)
                    self.pacer.idle()
                if self._stop:
                    return
                item = self._queue.popleft() if self._queue and not self._held else None
            if item is not None:
                self._feed(item[0], item[1])
                with self._cond:
                    left = self._queued.get(item[0], 0) - item[2]
                    if left > 0:
                        self._queued[item[0]] = left
                    else:
                        self._queued.pop(item[0], None)
            self._periodic()

    def _periodic(self) -> None:
        """Stall checks and findings on their own clocks, also in the middle of a batch: a
        backlog's batch holds 100k records or more, seconds of rules."""
        now = time.monotonic()
        if now - self._last_stall >= STALL_CHECK:
            self._last_stall = now
            self._check_stalls()
        if now - self._last_post >= self.interval:
            self._last_post = now
            self._publish()

    def _engine(self, name: str) -> Engine:
        engine = self.engines.get(name)
        if engine is None:
            engine = self.engines[name] = Engine(self.config, run=name)
        return engine

    def _feed(self, name: str, records: list[AnyRecord]) -> None:
        for chunk in slices(records, FEED_SLICE):
            try:
                if self._engine(name).feed(chunk):
                    self._changed.add(name)
            except Exception as exc:  # a rule bug must not stop the charts
                self._fail(exc)
                return
            with self._cond:
                self.backlog -= count_records(chunk)
            self.pacer.tick()
            if self._stop:
                return
            self._periodic()
            if self.failed:  # a stall check failed: no more feeding
                return

    def _fail(self, exc: Exception) -> None:
        self.failed = True
        with self._cond:
            self._queue.clear()
            self._queued.clear()
            self.backlog = 0
        self.post(SourceProblem(f"rule engine stopped: {exc!r}"))

    def _check_stalls(self) -> None:
        if self.failed:
            return
        for name, engine in list(self.engines.items()):
            try:
                if engine.check_stalled(time.time()):
                    self._changed.add(name)
            except Exception as exc:
                self._fail(exc)
                return

    def _publish(self) -> None:
        for name in sorted(self._changed):
            self.post(FindingsChanged(name, list(self.engines[name].findings)))
        self._changed.clear()
        state = (self.backlog, self.skipped)
        if state != self._reported:
            self._reported = state
            self.post(RulesProgress(*state))
