"""One run's control connection, headless: its state, its requests and what to say about them.

A :class:`RunControl` owns the run's :class:`~lrwatch.control.client.ControlClient`, the
connection state (:class:`Link`), the command in flight and the changes it made ("ours", so
the run's own ``lr_change`` record of them is not news). It never blocks its caller and never
touches a UI: the blocking parts are *jobs* (``connect_job``, ``ping_job``, ``send_job``)
that any thread may run and that only return events; the state changes when the owner hands
those events back (``handle_state``, ``handle_reply``) on its own thread. Each of those returns
:class:`Notice` lines to show. The TUI runs the jobs in thread workers and shows the notices;
``guard`` and the autopilot drive the same object, so a change made by a program and one made
by a key travel one path.
"""

from __future__ import annotations

import contextlib
import enum
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lrwatch.control.client import ControlClient
from lrwatch.records import Event
from lrwatch.session.commands import Command, ack_text, change_text, error_text
from lrwatch.session.events import ControlReply, ControlState, SessionEvent

#: Seconds to wait after a connection drops for the run's ``end`` record before saying "lost".
LOST_GRACE = 1.5
#: Seconds between connection attempts after one failed.
RETRY_AFTER = 5.0
#: An ``lr_change`` written this many seconds ago or less is news.
NEWS_WINDOW = 60.0
#: Seconds a request on a connection of its own waits (a ``status`` poll, a note).
ASIDE_TIMEOUT = 3.0
#: How to make a read-only run controllable (shown in the header).
DEFAULT_HINT = "lrwatch.Monitor() or `lrwatch run -- CMD`"

#: Blocking work for any thread: returns the events that say how it went.
Job = Callable[[], list[SessionEvent]]


class Link(enum.Enum):
    """Where a run's control connection stands."""

    READ_ONLY = "read-only"  #: the run has no control endpoint
    IDLE = "idle"  #: an endpoint, no connection yet (or a retry is due)
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CHECKING = "checking"  #: it dropped; waiting to see whether the run wrote ``end``
    FAILED = "failed"  #: the last attempt failed, or the connection was lost (``error``)
    ENDED = "ended"  #: the run is over: no more connects or pings


@dataclass(frozen=True)
class ControlInfo:
    """What the header shows of a run's control connection (a snapshot)."""

    endpoint: str | None = None
    connected: bool = False
    error: str = ""
    #: A connection answered at least once: the run was seen alive (quiet then = stalled).
    seen: bool = False
    #: The connection dropped and the UI is waiting to see whether the run wrote ``end``.
    checking: bool = False
    mode: str = "rescale"
    hint: str = DEFAULT_HINT


@dataclass(frozen=True)
class Notice:
    """A line to show on the status line, and the toast (``toast``, ``timeout`` seconds) that
    goes with it when the news should not be missed."""

    text: str
    error: bool = False
    toast: str = ""
    timeout: float = 0.0
    title: str = ""
    #: A status topic this notice settles (the line a "not connected yet" refusal left).
    clears: str = ""


def _attribution(data: dict[str, object]) -> str:
    """`` by autopilot: <reason>`` when a program (not a person's transport) made the change."""
    if "via" not in data or not isinstance(data.get("by"), str):
        return ""
    reason = data.get("reason")
    return f" by {data['by']}" + (f": {reason}" if isinstance(reason, str) else "")


def connect(endpoint: str, token: str | None = None, timeout: float = 5.0) -> ControlClient:
    """A control client for ``endpoint`` that answered ``hello`` (raises on failure)."""
    client = ControlClient(endpoint, token=token, timeout=timeout)
    reply = client.request("hello")
    if not reply.get("ok", False):
        client.close()
        raise ConnectionError(error_text(reply))
    return client


class RunControl:
    """The control side of one run (see the module docstring)."""

    def __init__(
        self,
        name: str,
        endpoint: str | None = None,
        *,
        log_path: str | None = None,
        token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        #: The run's log when it was read from a file: the client follows its header's
        #: ``cmd``/``token`` fields (a run that had to take fresh control file names).
        self.log_path = log_path
        self.token = token
        self.clock = clock
        self.state = Link.READ_ONLY if endpoint is None else Link.IDLE
        self.error = ""
        self.seen = False
        self.mode = "rescale"
        self.awaiting: Command | None = None  #: a command of ours in flight
        #: Steps at which our own commands took effect (their ack is shown already).
        self.ours: set[int | None] = set()
        #: Request ids of our own rewinds (their ``rewind`` record is not news either).
        self.ours_rewinds: set[object] = set()
        self._client: ControlClient | None = None
        self._io = threading.Lock()  # one request at a time on the client's socket
        self._next_try = 0.0
        self._ended = False
        self._lost_error = ""  # why it dropped, while CHECKING

    # -- what it is ------------------------------------------------------------------------------

    @property
    def client(self) -> ControlClient | None:
        """The connected client (None when not connected)."""
        return self._client

    @property
    def connected(self) -> bool:
        return self.state is Link.CONNECTED

    @property
    def checking(self) -> bool:
        return self.state is Link.CHECKING

    def info(self) -> ControlInfo:
        """A snapshot for the header."""
        return ControlInfo(
            self.endpoint,
            self.connected,
            self.error,
            self.seen,
            self.checking,
            self.mode,
        )

    def set_endpoint(self, endpoint: str | None, log_path: str | None = None) -> None:
        """The endpoint became known (the run's header arrived)."""
        if endpoint is None or self.endpoint is not None:
            return
        self.endpoint, self.log_path = endpoint, log_path
        if self.state is Link.READ_ONLY:
            self.state = Link.IDLE

    def toggle_mode(self) -> str:
        """Switch LR changes between rescale (the schedule keeps its shape) and pin."""
        self.mode = "pin" if self.mode == "rescale" else "rescale"
        return self.mode

    def refusal(self) -> str | None:
        """Why a command cannot be sent now (None: it can)."""
        if self.endpoint is None:
            return "read-only"
        if not self.connected:
            return self.error or "not connected yet"
        return None

    def request(self, op: str, timeout: float = 10.0, **args: Any) -> dict[str, Any]:
        """Send one request on the run's connection and return its reply (blocking: a worker
        thread). One request at a time shares the socket with pings and commands: it waits
        up to ``timeout`` for its turn, then as long for the answer. Raises ConnectionError
        when not connected, TimeoutError when the connection stays busy, and what the
        client raises (the connection is not marked lost here: the next ping says so)."""
        client = self._client
        if client is None:
            raise ConnectionError(self.refusal() or "not connected")
        if not self._io.acquire(timeout=timeout):
            raise TimeoutError("the control connection is busy with another command")
        try:
            return client.request(op, timeout=timeout, **args)
        finally:
            self._io.release()

    def own_client(self, timeout: float = ASIDE_TIMEOUT) -> ControlClient:
        """A new connection to the run, apart from the one its commands and pings share
        (blocking): through its log's header when it was read from a file (a run that had to
        take fresh control file names says so there), else its endpoint. Raises
        ConnectionError for a read-only run, and what connecting raises."""
        if self.log_path:
            with contextlib.suppress(Exception):  # the endpoint below says why, if it fails too
                return ControlClient.from_log(self.log_path, timeout=timeout)
        if self.endpoint is None:
            raise ConnectionError("read-only")
        return connect(self.endpoint, self.token, timeout=timeout)

    def request_aside(self, op: str, timeout: float = ASIDE_TIMEOUT, **args: Any) -> dict[str, Any]:
        """One request on a connection of its own (:meth:`own_client`), closed after
        (blocking: a worker thread): it never waits behind, nor holds up, a command on the
        run's connection. Raises what connecting or the request raises."""
        client = self.own_client(timeout)
        try:
            return client.request(op, timeout=timeout, **args)
        finally:
            client.close()

    # -- jobs: blocking, any thread, only return events ------------------------------------------

    def connect_job(self) -> Job | None:
        """A connection attempt, when one is due (marks the run as connecting)."""
        if self._ended or self.endpoint is None:
            return None
        if self.state in (Link.CONNECTING, Link.CONNECTED) or self.clock() < self._next_try:
            return None
        self.state = Link.CONNECTING if self.state is not Link.CHECKING else self.state
        endpoint, log_path, token, name = self.endpoint, self.log_path, self.token, self.name

        def job() -> list[SessionEvent]:
            try:
                client = None
                if log_path:
                    client = ControlClient.from_log(log_path)
                    if client.request("hello").get("ok") is not True:
                        client.close()
                        client = None
                if client is None:
                    client = connect(endpoint, token)
                return [ControlState(name, True, client=client)]
            except Exception as exc:
                return [ControlState(name, False, str(exc) or type(exc).__name__)]

        return job

    def ping_job(self) -> Job | None:
        """Ask a connected run for its status, so a dead socket shows up as lost."""
        client = self._client
        if client is None or self._ended:
            return None

        def job() -> list[SessionEvent]:
            try:
                with self._io:
                    client.request("status", timeout=2.0)
            except Exception as exc:
                client.close()
                return [ControlState(self.name, False, f"lost: {exc}")]
            return []

        return job

    def send_job(self, cmd: Command) -> Job:
        """Send ``cmd`` and wait for the run's answer (its ack comes once it is applied)."""
        self.awaiting = cmd  # its lr_change record is ours, not news
        client, name = self._client, self.name

        def job() -> list[SessionEvent]:
            if client is None:
                return [ControlReply(name, cmd.op, False, error="not connected")]
            try:
                with self._io:
                    reply = client.request(cmd.op, **cmd.args)
            except Exception as exc:
                return [
                    ControlReply(name, cmd.op, False, error=str(exc)),
                    ControlState(name, False, f"lost: {exc}"),
                ]
            ok = bool(reply.get("ok"))
            return [ControlReply(name, cmd.op, ok, reply, "" if ok else error_text(reply))]

        return job

    # -- events back, on the owner's thread ------------------------------------------------------

    def handle_state(self, ev: ControlState, end: Event | None, over: bool) -> list[Notice]:
        """A connection came up, failed or dropped. ``over``: the run ended (``end`` is its
        record, when it wrote one); then a closed socket is expected, not an error."""
        if over:
            if ev.client is not None:
                ev.client.close()
            return self.run_ended(end)
        if ev.connected:
            self._client = ev.client
            self.state, self.seen, self.error = Link.CONNECTED, True, ""
            return [Notice("", clears="control")]
        was, old_error = self.connected, self.error
        self._drop()
        self._next_try = self.clock() + RETRY_AFTER
        if was:
            self.state = Link.CHECKING  # settle() after LOST_GRACE says whether it is lost
            self._lost_error = ev.error
            return []
        self.state = Link.FAILED
        if self.seen and old_error.startswith("lost"):
            return []  # a lost run's failed reconnects keep saying "lost", and say it once
        self.error = ev.error
        if ev.error == old_error:
            return []  # once, not on every failed retry
        return [Notice(f"✗ control of {self.name}: {ev.error}", error=True)]

    def settle(self, end: Event | None, over: bool) -> list[Notice]:
        """``LOST_GRACE`` after a drop: lost, unless the run ended (or it reconnected)."""
        if self.state is not Link.CHECKING:
            return []
        if over:
            return self.run_ended(end)
        error = self._lost_error
        self.state = Link.FAILED
        self.error = error if error.startswith("lost") else f"lost: {error}"
        text = f"control of {self.name} {self.error} (the run wrote no end record)"
        return [Notice(f"✗ {text}", error=True, toast=text, timeout=8.0)]

    def handle_reply(self, ev: ControlReply) -> list[Notice]:
        """The run answered our command."""
        cmd, self.awaiting = self.awaiting or Command(ev.op), None
        if ev.ok:
            step = ev.reply.get("step")
            self.ours.add(step if isinstance(step, int) else None)
            if ev.op == "rewind":
                self.ours_rewinds.add(ev.reply.get("id"))
            text = ack_text(cmd, ev.reply)
            # Brief: the status line keeps it; a toast must not hide the chart that shows it.
            return [Notice(f"✓ {ev.run}: {text}", toast=text, timeout=3.0, title=f"run {ev.run}")]
        text = f"{ev.run} refused {ev.op}: {ev.error}"
        return [Notice(f"✗ {text}", error=True, toast=text, timeout=8.0)]

    def run_ended(self, end: Event | None) -> list[Notice]:
        """Once: the run is over; drop the connection (no more pings) and say so, calmly."""
        if self._ended:
            return []
        self._ended = True
        # Say it when the run was watched live, or when a control error is on screen for it.
        worth_saying = self.seen or bool(self.error)
        self._drop()
        self.state, self.error = Link.ENDED, ""
        if not (worth_saying and end is not None):
            return []
        status = end.data.get("status", "finished")
        where = f" at step {end.step:,}" if end.step is not None else ""
        return [Notice(f"■ run {self.name} {status}{where}; its control socket closed")]

    def news(self, events: Sequence[Event], now: float) -> list[Notice]:
        """LR changes made elsewhere (``lrwatch ctl``, another UI) in the last minute.

        Opening an old log is not news, nor is the record of a change of ours.
        """
        if self.awaiting is not None:
            return []
        out = []
        for ev in events:
            if ev.kind not in ("lr_change", "rewind") or ev.t is None or now - ev.t > NEWS_WINDOW:
                continue
            if ev.kind == "lr_change" and ev.step in self.ours:
                continue
            if ev.kind == "rewind" and ev.data.get("id") in self.ours_rewinds:
                continue
            old, new = ev.data.get("old"), ev.data.get("new")
            change = change_text(old, new) if isinstance(old, list) and old and new else ""
            how = " · ".join(str(ev.data[k]) for k in ("op", "mode") if ev.data.get(k))
            if ev.kind == "rewind":
                to = ev.data.get("to_step")
                span = (
                    f" {ev.step:,} → {to:,}" if ev.step is not None and isinstance(to, int) else ""
                )
                text = f"⟲ {self.name} rewound{span} from elsewhere" + (
                    f": LR {change}" if change else ""
                )
            else:
                where = f" at step {ev.step:,}" if ev.step is not None else ""
                text = f"↻ LR of {self.name} changed{where} from elsewhere: {change}"
                text += f" ({how})" if how else ""
            out.append(Notice(text + _attribution(ev.data)))
        return out

    @property
    def ended(self) -> bool:
        return self._ended

    def close(self) -> None:
        """Close the connection (the owner is going away)."""
        self._drop()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()
