"""Ingest and the rules thread: real threads, real engine, no app."""

from __future__ import annotations

import itertools
import math
import threading

import numpy as np

from lrwatch.records import Event, MetricBlock, Metrics, count_records, expand
from lrwatch.session.blocks import slices
from lrwatch.session.events import DataArrived, FindingsChanged, RulesProgress
from lrwatch.session.ingest import ADD_SLICE, Ingest
from lrwatch.session.rules_worker import RulesWorker
from lrwatch.sources.follow import POLL_FAST, POLL_SLOW, poll_delay
from lrwatch.store import MetricStore


def _records(n: int, nan_at: int | None = None, start: int = 0) -> list[Metrics]:
    return [
        Metrics(i, {"loss": math.nan if i == nan_at else 2.0 - i * 1e-4, "lr": 1e-3})
        for i in range(start, start + n)
    ]


def test_ingest_adds_in_slices_and_posts_one_batched_message() -> None:
    posted: list[object] = []
    store = MetricStore()
    ingest = Ingest(store, threading.Lock(), posted.append, rules=False)
    ingest.add("a", _records(3 * ADD_SLICE + 5))
    ingest.add("b", [])
    ingest.flush(force=True)
    assert len(store.runs["a"].series["loss"]) == 3 * ADD_SLICE + 5
    assert "b" in store.runs  # an empty batch still registers the run
    arrived = [m for m in posted if isinstance(m, DataArrived)]
    assert [m.counts for m in arrived] == [{"a": 3 * ADD_SLICE + 5, "b": 0}]


def test_rules_run_on_their_own_thread_and_post_findings() -> None:
    posted: list[object] = []
    ingest = Ingest(MetricStore(), threading.Lock(), posted.append)
    ingest.start()
    try:
        ingest.add("exp", _records(400, nan_at=300))
        assert ingest.rules is not None and ingest.rules.drain()
    finally:
        ingest.close()
    found = [m for m in posted if isinstance(m, FindingsChanged)]
    assert found and found[-1].run == "exp"
    symptoms = {f.symptom for f in found[-1].findings}
    assert "nan_inf" in symptoms, symptoms
    assert all(f.id.startswith("exp") for f in found[-1].findings)  # unique across runs


def test_a_backlog_overflow_thins_the_oldest_records_and_says_so() -> None:
    posted: list[object] = []
    worker = RulesWorker(None, posted.append, max_backlog=1000)
    # Not started yet: everything queues, so the overflow is deterministic.
    for k in range(5):
        worker.submit("exp", _records(400, start=400 * k))
    assert worker.backlog <= 1000 and worker.skipped == 2000 - worker.backlog
    kept = [r.step for _, recs, _ in worker._queue for r in recs]
    assert kept[-100:] == list(range(1900, 2000))  # the newest rows whole
    worker.start()
    try:
        assert worker.drain()
    finally:
        worker.stop()
    progress = [m for m in posted if isinstance(m, RulesProgress)]
    assert progress and progress[-1] == RulesProgress(0, worker.skipped)
    assert worker.engines["exp"].step == 1999  # the newest records were checked


def test_an_overflow_of_many_runs_keeps_the_newest_records_of_every_run() -> None:
    """A thousand finished runs read at once: each keeps its own recent past (before, the
    oldest runs lost everything and were never judged)."""
    worker = RulesWorker(None, lambda _: None, max_backlog=1000, min_share=50)
    runs = [f"run{i}" for i in range(10)]
    for name in runs:
        worker.submit(name, _records(400))
    assert worker.backlog <= 1000 and worker.skipped == 4000 - worker.backlog
    assert all(worker.queued(name) for name in runs)
    worker.start()
    try:
        assert worker.drain()
    finally:
        worker.stop()
    assert {name: worker.engines[name].step for name in runs} == dict.fromkeys(runs, 399)
    assert not any(worker.queued(name) for name in runs)


def _block(start: int, n: int) -> MetricBlock:
    steps = np.arange(start, start + n, dtype=np.int64)
    return MetricBlock(steps, {"loss": 2.0 - steps * 1e-4, "lr": np.full(n, 1e-3)})


def test_slices_count_rows_and_cut_blocks_in_order() -> None:
    ev = Event("lr_change", {"old": [1e-3], "new": [5e-4]}, 7, None)
    batch = [_block(0, 5), ev, _block(5, 10), *_records(3, start=15)]
    parts = list(slices(batch, 4))
    assert [count_records(p) for p in parts] == [4, 4, 4, 4, 3]
    steps = [r.step for p in parts for r in expand(p)]
    assert steps == [0, 1, 2, 3, 4, 7, *range(5, 18)]  # every row once, in order


def test_blocks_reach_the_store_in_slices_and_the_rules_count_their_rows() -> None:
    posted: list[object] = []
    store = MetricStore()
    ingest = Ingest(store, threading.Lock(), posted.append)
    n = 3 * ADD_SLICE + 5
    ingest.add("a", [_block(0, n)])
    ingest.start()
    try:
        assert ingest.rules is not None and ingest.rules.drain()
    finally:
        ingest.close()
    ingest.flush(force=True)
    assert len(store.runs["a"].series["loss"]) == n
    assert [m.counts for m in posted if isinstance(m, DataArrived)] == [{"a": n}]
    assert ingest.rules.engines["a"].step == n - 1 and ingest.rules.backlog == 0


def test_empty_polls_of_an_unchanged_run_post_nothing() -> None:
    """A finished log is polled forever: each empty poll must not make the UI redraw."""
    posted: list[object] = []
    store = MetricStore()
    ingest = Ingest(store, threading.Lock(), posted.append, rules=False)
    ingest.add("a", _records(10))
    ingest.flush(force=True)
    for _ in range(5):
        ingest.add("a", [])
        ingest.flush(force=True)
    assert [m.counts for m in posted if isinstance(m, DataArrived)] == [{"a": 10}]
    # A change of what the header shows (unreadable lines) is news, even without records.
    store.runs["a"].skipped = 1
    ingest.add("a", [])
    ingest.flush(force=True)
    assert [m.counts for m in posted if isinstance(m, DataArrived)][-1] == {"a": 0}


def test_polls_slow_down_once_the_files_are_quiet() -> None:
    delays = [poll_delay(q) for q in (0.0, 1.0, 3.0, 6.0, 10.0, 60.0, 3600.0)]
    assert delays[0] == delays[1] == POLL_FAST
    assert delays == sorted(delays) and delays[-1] == POLL_SLOW


def test_backpressure_merges_updates_until_the_consumer_took_the_last_one() -> None:
    posted: list[object] = []
    store = MetricStore()
    ingest = Ingest(store, threading.Lock(), posted.append, rules=False, backpressure=True)
    ingest.min_interval = 0.0
    ingest.add("a", _records(10))
    ingest.flush()
    change = Event("lr_change", {"old": [1e-3], "new": [5e-4]}, 15, 1.0)
    ingest.add("a", [*_records(5, start=10), change])
    ingest.flush()  # the first is not consumed yet: nothing more is posted
    assert [m.counts for m in posted] == [{"a": 10}]
    ingest.consumed()
    ingest.flush()
    arrived = [m for m in posted if isinstance(m, DataArrived)]
    assert [m.counts for m in arrived] == [{"a": 10}, {"a": 6}]
    assert arrived[1].events == {"a": [change]}  # the run's events travel with the data


def test_backlog_data_says_so_until_the_done_progress() -> None:
    """The UI draws a backlog once, when it is read: its data messages are marked."""
    posted: list[object] = []
    ingest = Ingest(MetricStore(), threading.Lock(), posted.append, rules=False)
    ingest.begin_backlog()
    ingest.add("a", _records(10))
    ingest.flush(force=True)
    ingest.add("a", _records(5, start=10))
    ingest.progress(100, 100, done=True)  # posts the pending records first, still backlog
    ingest.add("a", _records(5, start=15))
    ingest.flush(force=True)
    arrived = [m for m in posted if isinstance(m, DataArrived)]
    assert [(m.counts, m.backlog) for m in arrived] == [
        ({"a": 10}, True),
        ({"a": 5}, True),
        ({"a": 5}, False),
    ]


def test_thinning_keeps_the_newest_rows_a_stride_of_the_rest_events_and_every_nan() -> None:
    from lrwatch.session.blocks import thin_rows

    block = _block(0, 600)
    block.columns["loss"][123] = math.nan  # an old NaN: the rules must still see it
    records = [Event("run", {"run": "x"}, None, None), block, *_records(400, start=600)]
    records.append(Event("end", {"status": "finished"}, 999, None))
    out = thin_rows(records, 100)
    events = [r for r in out if isinstance(r, Event)]
    assert [e.kind for e in events] == ["run", "end"] and out[0] is records[0]
    steps = [int(s) for r in out if isinstance(r, MetricBlock) for s in r.steps]
    steps += [r.step for r in out if isinstance(r, Metrics)]
    assert steps == sorted(steps) and steps[-50:] == list(range(950, 1000))
    older = [s for s in steps if s < 950]
    assert 123 in older and 45 <= len(older) <= 52  # ~50 by stride, plus the NaN row
    gaps = {b - a for a, b in itertools.pairwise(older) if 123 not in (a, b)}
    assert gaps == {19}  # an even stride (ceil(950 / 50))
    assert thin_rows(records[:2], 1000) == records[:2]  # under the share: untouched
