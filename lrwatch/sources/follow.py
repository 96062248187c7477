"""Filling a MetricStore from a RunSet: once to the end (``inspect``), or live in a worker thread."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any

from lrwatch.records import AnyRecord
from lrwatch.sources.runset import RunSet, open_runs
from lrwatch.store import MetricStore

#: Seconds ``read_runs`` waits for a pipe between polls.
_PIPE_WAIT = 0.05


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


def follow(
    runset: RunSet,
    store: MetricStore,
    on_batch: Callable[[dict[str, int]], Any],
    stop_event: threading.Event,
    interval: float = 0.05,
    batch_window: float = 0.1,
) -> None:
    """Poll ``runset`` until ``stop_event`` is set, adding records to ``store``.

    Meant for a worker thread. ``on_batch`` gets {run name: records added} at most once per
    ``batch_window`` seconds (a new run shows up with 0), never once per record; what is
    pending when the loop stops is delivered before it returns.
    """
    pending: dict[str, int] = {}
    last = time.monotonic()
    while not stop_event.is_set():
        batch = runset.poll()
        for name in runset.sources:
            # Every run, not only those with records: skipped-line counts change too.
            records = batch.get(name)
            n = sync_run(store, runset, name, records or [])
            if records is not None:
                pending[name] = pending.get(name, 0) + n
        now = time.monotonic()
        if pending and now - last >= batch_window:
            on_batch(pending)
            pending, last = {}, now
        if not any(batch.values()):
            stop_event.wait(interval)
    if pending:
        on_batch(pending)
