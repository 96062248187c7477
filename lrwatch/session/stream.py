"""``lrwatch attach``: a run's records from its control socket's ``subscribe`` stream,
waiting for the socket to appear (a run still starting) rather than giving up."""

from __future__ import annotations

import threading
from collections.abc import Callable

from lrwatch.control.client import ControlClient, ControlError
from lrwatch.formats.jsonl import JsonlParser
from lrwatch.records import AnyRecord, Event
from lrwatch.session.events import SourceProblem, StatusNote
from lrwatch.session.ingest import Ingest

#: Seconds between tries to reach a socket that is not there yet: first, and at most.
RETRY_FIRST, RETRY_MAX = 0.1, 1.0


def follow_stream(
    target: str,
    token: str | None,
    ingest: Ingest,
    stop: threading.Event,
    on_client: Callable[[ControlClient], object] = lambda c: None,
    backlog: int = 100_000,
    retry: bool = True,
) -> None:
    """Feed the store from ``target``'s ``subscribe`` stream until it ends or ``stop`` is set.

    ``on_client`` receives the streaming client, so its owner can close it to unblock this
    thread. The stream's objects are read as the log's lines would be (no re-encoding).
    ``retry``: until the first record, a socket that is not there (a run still importing
    torch) is tried again with backoff (≤ :data:`RETRY_MAX` s) until ``stop``; the status line
    says what it waits for. A refusal (token) is not retried.
    """
    delay, waiting = RETRY_FIRST, False
    while not stop.is_set():
        client = ControlClient(target, token=token)
        on_client(client)
        try:
            received = _stream(client, target, ingest, stop, backlog, waiting)
        except (ControlError, OSError) as exc:
            client.close()
            if stop.is_set():
                return
            if not retry or _hopeless(exc):
                ingest.post(SourceProblem(f"lost connection to {target}: {exc}"))
                return
            if not waiting:
                waiting = True
                ingest.post(StatusNote(f"waiting for {target}… (q quits)"))
            stop.wait(delay)
            delay = min(RETRY_MAX, delay * 2)
            continue
        finally:
            ingest.flush(force=True)
        if not stop.is_set():
            what = "ended" if received else "ended before any record"
            ingest.post(SourceProblem(f"stream from {target} {what}"))
        return


def _stream(
    client: ControlClient,
    target: str,
    ingest: Ingest,
    stop: threading.Event,
    backlog: int,
    waited: bool,
) -> bool:
    """Read ``client``'s subscribe stream into ``ingest``; returns whether a record came.

    A connection lost after the first record is reported, not retried (the run ended).
    """
    parser = JsonlParser()
    name, received = target, False
    try:
        for obj in client.subscribe(backlog):
            if not received and waited:
                ingest.post(StatusNote(f"connected to {target}"))
            received = True
            if stop.is_set():
                break
            recs: list[AnyRecord] = list(parser.records_of([obj]))
            for rec in recs:
                if isinstance(rec, Event) and rec.kind == "run" and rec.data.get("run"):
                    name = str(rec.data["run"])
            if recs:
                ingest.add(name, recs)
            ingest.flush()
    except (ControlError, OSError) as exc:
        if received and not stop.is_set():
            ingest.post(SourceProblem(f"lost connection to {target}: {exc}"))
            return True
        raise
    return received


def _hopeless(exc: Exception) -> bool:
    """Whether trying again cannot help: the run refused us (token), or no token for TCP."""
    text = str(exc)
    return "refused us" in text or "needs a token" in text or "subscribe refused" in text
