"""``lrwatch attach``: a run's records from its control socket's ``subscribe`` stream."""

from __future__ import annotations

import threading
from collections.abc import Callable

from lrwatch.control.client import ControlClient, ControlError
from lrwatch.formats.jsonl import JsonlParser
from lrwatch.records import AnyRecord, Event
from lrwatch.session.events import SourceProblem
from lrwatch.session.ingest import Ingest


def follow_stream(
    target: str,
    token: str | None,
    ingest: Ingest,
    stop: threading.Event,
    on_client: Callable[[ControlClient], object] = lambda c: None,
    backlog: int = 100_000,
) -> None:
    """Feed the store from ``target``'s ``subscribe`` stream until it ends or ``stop`` is set.

    ``on_client`` receives the streaming client, so its owner can close it to unblock this
    thread. The stream's objects are read as the log's lines would be (no re-encoding).
    """
    parser = JsonlParser()
    name = target
    try:
        client = ControlClient(target, token=token)
        on_client(client)
        for obj in client.subscribe(backlog):
            if stop.is_set():
                break
            recs: list[AnyRecord] = list(parser.records_of([obj]))
            for rec in recs:
                if isinstance(rec, Event) and rec.kind == "run" and rec.data.get("run"):
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
