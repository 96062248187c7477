"""Ingest and the rules thread: real threads, real engine, no app."""

from __future__ import annotations

import math
import threading

from lrwatch.records import Metrics
from lrwatch.store import MetricStore
from lrwatch.tui.feeds import ADD_SLICE, Ingest
from lrwatch.tui.messages import DataArrived, FindingsChanged, RulesProgress
from lrwatch.tui.rules_worker import RulesWorker


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


def test_a_backlog_overflow_skips_the_oldest_batches_and_says_so() -> None:
    posted: list[object] = []
    worker = RulesWorker(None, posted.append, max_backlog=1000)
    # Not started yet: everything queues, so the overflow is deterministic.
    for k in range(5):
        worker.submit("exp", _records(400, start=400 * k))
    assert worker.skipped == 1200 and worker.backlog == 800
    worker.start()
    try:
        assert worker.drain()
    finally:
        worker.stop()
    progress = [m for m in posted if isinstance(m, RulesProgress)]
    assert progress and progress[-1] == RulesProgress(0, 1200)
    assert worker.engines["exp"].step == 1999  # the newest records were checked
