"""The control server: one daemon thread multiplexing Unix/TCP clients with ``selectors``.

It only validates, answers read ops and queues change ops; the training thread applies them.
Everything a client can send is bounded: line length, clients, queued commands per client,
output buffered per client, and time allowed for a half-sent line or an unauthenticated TCP
client. No exception from a client reaches the training thread.

Two kinds of slot keep a stranger from locking the owner out. A *session* slot
(``max_clients``) is held only by a client known to be the owner: a Unix-socket client (the
socket is 0600) or a TCP client that has presented the token. A TCP connection that has not
yet authenticated holds a *handshake* slot (``max_handshakes``) for at most ``auth_timeout``
seconds, and when those are all taken the oldest handshake is dropped for the newest, so a
flood of tokenless connections never blocks an owner who sends the token at once (and the
client retries the handshake when a flood pushed it out, see ``ControlClient``). A session
that sends nothing for ``idle_timeout`` seconds (and is not subscribed or waiting for a
reply) is dropped, and when all session slots are taken a new owner's client replaces the
session idle the longest (at least ``evict_idle`` seconds).
"""

from __future__ import annotations

import collections
import contextlib
import hmac
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, cast

from lrwatch.control import protocol as P
from lrwatch.control.dispatch import Handler, dispatch


@dataclass(slots=True)
class ServerLimits:
    """Per-server bounds on what clients may cost the training process."""

    max_clients: int = 16  # sessions: Unix clients and TCP clients that gave the token
    max_handshakes: int = 64  # TCP connections still to authenticate; the oldest is dropped
    max_inflight: int = 8  # queued change ops per client
    max_outbuf: int = 8 * 1024 * 1024  # a slower subscriber is dropped
    partial_timeout: float = 10.0  # seconds to finish a half-sent line
    auth_timeout: float = 2.0  # seconds for a TCP client to authenticate
    idle_timeout: float = 600.0  # a session that sends nothing this long is dropped
    evict_idle: float = 5.0  # a full server replaces a session idle at least this long
    accept_batch: int = 16  # connections accepted per listener per loop
    # TCP connections accepted per second: past it the listener rests until the next
    # window, so a flood that reconnects as fast as it is closed costs the training process a
    # bounded share of the CPU (and the GIL); the rest wait in the kernel's backlog.
    max_accept_rate: float = 2000.0
    tick: float = 0.05  # subscriber pump / timeout check period


@dataclass(eq=False, slots=True)
class _Conn:
    sock: socket.socket
    needs_token: bool
    by: str
    opened: float = field(default_factory=time.monotonic)
    last_rx: float = field(default_factory=time.monotonic)
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    authed: bool = False
    inflight: int = 0
    sub_seq: int | None = None  # not None once subscribed
    closing: bool = False  # close once outbuf is sent


class ControlServer:
    """Serve the control protocol on listening sockets in a daemon thread."""

    def __init__(
        self,
        handler: Handler,
        listeners: list[tuple[socket.socket, bool, str]],
        token: str | None = None,
        limits: ServerLimits | None = None,
    ) -> None:
        """``listeners``: (listening socket, requires token, transport name) triples."""
        self.handler = handler
        self.token = token
        self.limits = limits or ServerLimits()
        self._sel = selectors.DefaultSelector()
        self._listeners = listeners
        for sock, needs_token, name in listeners:
            self._sel.register(sock, selectors.EVENT_READ, ("listen", needs_token, name))
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, ("wake",))
        self._resting: dict[socket.socket, tuple[float, Any]] = {}  # listener -> (until, data)
        self._window = (0.0, 0)  # (start, TCP connections accepted in it)
        self._posted: collections.deque[tuple[_Conn, dict[str, Any]]] = collections.deque()
        self._conns: set[_Conn] = set()
        self._sessions: set[_Conn] = set()
        # Unauthenticated TCP connections, oldest first (an ordered set).
        self._handshakes: collections.OrderedDict[_Conn, None] = collections.OrderedDict()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lrwatch-control", daemon=True)

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def close(self) -> None:
        """Stop the thread and close every socket (pending replies are flushed best effort)."""
        self._stop.set()
        self._wake()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=2.0)
        for sock, _, _ in self._listeners:
            sock.close()
        self._wake_r.close()
        self._wake_w.close()

    @property
    def n_clients(self) -> int:
        """Connected clients right now (sessions and handshakes)."""
        return len(self._conns)

    @property
    def n_sessions(self) -> int:
        """Clients holding a session slot right now."""
        return len(self._sessions)

    # -- called from other threads -------------------------------------------------------

    def _post(self, conn: _Conn, reply: dict[str, Any]) -> None:
        self._posted.append((conn, reply))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_w.send(b"\0")

    # -- server thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._loop_once()
            except Exception:  # never die: a dead server leaves the run uncontrollable
                time.sleep(self.limits.tick)
        with contextlib.suppress(Exception):
            self._pump_subscribers()  # subscribers get the run's last records (its end)
        for conn in list(self._conns):
            self._flush_quiet(conn)
            self._drop(conn)

    def _loop_once(self) -> None:
        self._wake_listeners()
        events = self._sel.select(timeout=self.limits.tick)
        # Clients already connected first, new connections after: a token that has arrived
        # is read before a burst of newcomers can push its connection out of the handshakes.
        for key, mask in events:
            tag = key.data[0]
            if tag == "conn":
                conn = key.data[1]
                if mask & selectors.EVENT_READ and conn in self._conns:
                    self._read(conn)
                if mask & selectors.EVENT_WRITE and conn in self._conns:
                    self._send(conn)
            elif tag == "wake":
                with contextlib.suppress(OSError):
                    self._wake_r.recv(4096)
        for key, _ in events:
            if key.data[0] == "listen":
                # A "listen" key's file object is a listening socket (registered in __init__).
                self._accept(cast(socket.socket, key.fileobj), key.data[1], key.data[2])
        while self._posted:
            conn, reply = self._posted.popleft()
            conn.inflight = max(0, conn.inflight - 1)
            self._queue(conn, reply)
        self._pump_subscribers()
        self._reap()

    def _accept(self, lsock: socket.socket, needs_token: bool, name: str) -> None:
        for _ in range(self.limits.accept_batch):
            if needs_token and not self._accept_budget():
                self._rest(lsock, ("listen", needs_token, name))
                return
            try:
                sock, _ = lsock.accept()
            except OSError:
                return
            self._admit(sock, needs_token, name)

    def _accept_budget(self) -> bool:
        """Take one TCP accept from this 0.1 s window's share of ``max_accept_rate``."""
        now = time.monotonic()
        start, used = self._window
        if now - start >= 0.1:
            start, used = now, 0
        if used >= max(1.0, self.limits.max_accept_rate * 0.1):
            self._window = (start, used)
            return False
        self._window = (start, used + 1)
        return True

    def _rest(self, lsock: socket.socket, data: Any) -> None:
        """Stop watching a listener until the next accept window."""
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(lsock)
        self._resting[lsock] = (self._window[0] + 0.1, data)

    def _wake_listeners(self) -> None:
        now = time.monotonic()
        for lsock, (until, data) in list(self._resting.items()):
            if now >= until:
                del self._resting[lsock]
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._sel.register(lsock, selectors.EVENT_READ, data)

    def _admit(self, sock: socket.socket, needs_token: bool, name: str) -> None:
        sock.setblocking(False)
        conn = _Conn(sock, needs_token, name)
        if needs_token:
            if len(self._handshakes) >= self.limits.max_handshakes:
                oldest = next(iter(self._handshakes))
                self._drop(oldest)  # strangers compete with each other, never with sessions
            self._handshakes[conn] = None
        elif not self._claim_session(conn):
            msg = P.error_reply(
                None, P.TOO_MANY_CLIENTS, f"{self.limits.max_clients} clients already connected"
            )
            with contextlib.suppress(OSError):
                sock.send(P.encode(msg))
            sock.close()
            return
        self._conns.add(conn)
        self._sel.register(sock, selectors.EVENT_READ, ("conn", conn))
        if needs_token:
            # An owner's client sends its token right after connecting: it is often here
            # already, and reading it now takes the connection out of the handshakes before
            # newer strangers can push it out.
            self._read(conn)

    def _claim_session(self, conn: _Conn) -> bool:
        """Give ``conn`` a session slot, replacing the longest-idle session when full."""
        if len(self._sessions) >= self.limits.max_clients:
            now = time.monotonic()
            idle = [
                c
                for c in self._sessions
                if c.sub_seq is None
                and not c.inflight
                and now - c.last_rx >= self.limits.evict_idle
                and not c.closing
            ]
            if not idle:
                return False
            victim = min(idle, key=lambda c: c.last_rx)
            self._fail(victim, P.TIMEOUT, "idle connection replaced by a new client")
            self._drop(victim)
        self._handshakes.pop(conn, None)
        self._sessions.add(conn)
        return True

    def _read(self, conn: _Conn) -> None:
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._drop(conn)
            return
        if not data:
            self._drop(conn)
            return
        if conn.closing:
            return
        conn.last_rx = time.monotonic()
        conn.inbuf += data
        while not conn.closing:
            nl = conn.inbuf.find(b"\n")
            if nl < 0:
                break
            line = bytes(conn.inbuf[:nl])
            del conn.inbuf[: nl + 1]
            self._line(conn, line)
        if len(conn.inbuf) > P.MAX_LINE and not conn.closing:
            conn.inbuf.clear()
            self._fail(conn, P.TOO_LONG, f"request line longer than {P.MAX_LINE} bytes")

    def _line(self, conn: _Conn, line: bytes) -> None:
        if not line.strip():
            return
        try:
            req = P.parse_request(line, self.handler.limits)
        except P.ProtocolError as exc:
            if conn.needs_token and not conn.authed:
                self._fail(conn, P.UNAUTHORIZED, "authenticate first: hello with a token")
            else:
                self._queue(conn, exc.reply())
            return
        if conn.needs_token and not conn.authed:
            if req.token is None or not hmac.compare_digest(req.token, self.token or "\0"):
                self._fail(conn, P.UNAUTHORIZED, "missing or wrong token (see <log>.token)", req.id)
                return
            conn.authed = True
            if not self._claim_session(conn):
                msg = f"{self.limits.max_clients} clients already connected"
                self._fail(conn, P.TOO_MANY_CLIENTS, msg, req.id)
                return
        if req.op == "subscribe":
            self._subscribe(conn, req)
            return
        if req.op in P.QUEUED_OPS:
            if conn.inflight >= self.limits.max_inflight:
                self._queue(conn, P.error_reply(req.id, P.BUSY, "too many commands in flight"))
                return
            conn.inflight += 1
        dispatch(self.handler, req, lambda reply: self._reply(conn, req, reply), conn.by)

    def _reply(self, conn: _Conn, req: P.Request, reply: dict[str, Any]) -> None:
        if req.op in P.QUEUED_OPS:
            # Replies to change ops arrive from the training thread: hand them over.
            self._post(conn, reply)
        else:
            self._queue(conn, reply)

    def _subscribe(self, conn: _Conn, req: P.Request) -> None:
        lines, seq = self.handler.records_since(None, req.args["backlog"])
        self._queue(conn, P.ok_reply(req.id, subscribed=True, backlog=len(lines)))
        conn.sub_seq = seq
        self._queue_lines(conn, lines)

    def _pump_subscribers(self) -> None:
        for conn in list(self._conns):
            if conn.sub_seq is None or conn.closing:
                continue
            lines, conn.sub_seq = self.handler.records_since(conn.sub_seq, 0)
            self._queue_lines(conn, lines)

    def _queue_lines(self, conn: _Conn, lines: list[str]) -> None:
        if lines:
            self._queue_bytes(conn, ("\n".join(lines) + "\n").encode())

    def _queue(self, conn: _Conn, reply: dict[str, Any]) -> None:
        self._queue_bytes(conn, P.encode(reply))

    def _queue_bytes(self, conn: _Conn, data: bytes) -> None:
        if conn not in self._conns:
            return
        if len(conn.outbuf) + len(data) > self.limits.max_outbuf:
            self._drop(conn)  # a client that does not read must not grow our memory
            return
        conn.outbuf += data
        self._send(conn)

    def _send(self, conn: _Conn) -> None:
        try:
            if conn.outbuf:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._drop(conn)
            return
        if not conn.outbuf and conn.closing:
            self._drop(conn)
            return
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbuf else 0)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.modify(conn.sock, want, ("conn", conn))

    def _fail(self, conn: _Conn, code: str, message: str, req_id: Any = None) -> None:
        self._queue(conn, P.error_reply(req_id, code, message))
        conn.closing = True
        self._send(conn)

    def _reap(self) -> None:
        now = time.monotonic()
        limits = self.limits
        while self._handshakes:  # oldest first: stop at the first one still in time
            conn = next(iter(self._handshakes))
            if now - conn.opened <= limits.auth_timeout:
                break
            del self._handshakes[conn]
            self._fail(conn, P.UNAUTHORIZED, "no token sent in time")
            self._drop(conn)  # without waiting for a reader that may never read
        for conn in list(self._sessions):
            if conn.closing:
                continue
            if conn.inbuf and now - conn.last_rx > limits.partial_timeout:
                self._fail(conn, P.TIMEOUT, "half-sent request timed out")
            elif (
                conn.sub_seq is None
                and not conn.inflight
                and now - conn.last_rx > limits.idle_timeout
            ):
                msg = f"idle for {limits.idle_timeout:g} s: closed (reconnect to go on)"
                self._fail(conn, P.TIMEOUT, msg)

    def _flush_quiet(self, conn: _Conn) -> None:
        with contextlib.suppress(OSError):
            conn.sock.setblocking(True)
            conn.sock.settimeout(0.2)
            if conn.outbuf:
                conn.sock.sendall(conn.outbuf)

    def _drop(self, conn: _Conn) -> None:
        if conn not in self._conns:
            return
        self._conns.discard(conn)
        self._sessions.discard(conn)
        self._handshakes.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn.sock)
        conn.sock.close()
