"""What every transport does with a validated request: answer it or queue it.

Read ops (``hello``, ``status``, ``history``) are answered at once from a snapshot, and so is
``note`` (a line written to the run's log); queued ops (the changes ``set_lr``, ``scale_lr``,
``unpin``, ``pause``, ``resume``, ``rewind``, and ``schedule``) go to the training thread, which
answers them at the next step boundary and then calls ``reply``. ``subscribe`` is left to the
transport because only a stream can carry it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from lrwatch.control import protocol as P

Reply = Callable[[dict[str, Any]], None]
#: ``report(code, message)``: how the run-side parts (log writer, command file, transports)
#: tell the Monitor about a disk, OS or control problem; it says it once per code.
Report = Callable[[str, str], None]


def no_report(code: str, message: str) -> None:
    """The ``report`` of a part used on its own (tests, tools): problems go unsaid."""


class Handler(Protocol):
    """The run side of the protocol (implemented by :class:`lrwatch.Monitor`)."""

    limits: P.Limits

    def info(self) -> dict[str, Any]:
        """Server info for ``hello`` (run, pid, host, versions)."""
        ...

    def status(self) -> dict[str, Any]:
        """A snapshot for ``status``: step, lr per group, paused, last metrics."""
        ...

    def history(self) -> list[dict[str, Any]]:
        """Applied LR changes, oldest first."""
        ...

    def submit(self, req: P.Request, reply: Reply, by: str) -> bool:
        """Queue a change op for the training thread; False when the queue is full."""
        ...

    def note(self, req: P.Request, by: str) -> dict[str, Any]:
        """Write a ``note`` record to the log; the reply's fields."""
        ...

    def records_since(self, seq: int | None, backlog: int) -> tuple[list[str], int]:
        """Log lines after ``seq`` (or the last ``backlog`` when None) and the new seq."""
        ...


def dispatch(handler: Handler, req: P.Request, reply: Reply, by: str) -> None:
    """Answer ``req`` now (read ops) or queue it (change ops); never raises."""
    try:
        if req.op == "hello":
            reply(P.ok_reply(req.id, v=P.PROTOCOL_VERSION, **handler.info()))
        elif req.op == "status":
            reply(P.ok_reply(req.id, **handler.status()))
        elif req.op == "history":
            reply(P.ok_reply(req.id, changes=handler.history()))
        elif req.op == "note":
            reply(P.ok_reply(req.id, **handler.note(req, by)))
        elif req.op in P.QUEUED_OPS:
            if not handler.submit(req, reply, by):
                reply(P.error_reply(req.id, P.BUSY, "too many queued commands; retry later"))
        else:
            reply(P.error_reply(req.id, P.UNSUPPORTED, f"{req.op} is not available here"))
    except Exception as exc:  # a broken snapshot must not kill the server thread
        reply(P.error_reply(req.id, P.REFUSED, f"internal error: {type(exc).__name__}"))
