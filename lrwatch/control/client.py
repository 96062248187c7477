"""Client side of the control protocol (used by ``lrwatch ctl`` and the UI).

::

    client = ControlClient.from_log("runs/exp1.jsonl")
    reply = client.request("scale_lr", factor=0.5)   # {"id":..., "ok": True, "step": 121, ...}
    for record in client.subscribe(backlog=1000): ...

Transports: ``unix:/p.sock`` or ``/p.sock``, ``tcp://host:port`` (token sent in ``hello``), and
``file:/log.jsonl`` (requests appended to the command file, replies read from the log).
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lrwatch.control import endpoint as E
from lrwatch.control import protocol as P


class ControlError(Exception):
    """Cannot reach the run: no endpoint, refused connection, bad token, timeout."""


class ConnectionLost(ControlError):
    """The server closed or reset the connection (a TCP handshake a flood pushed out, or a
    run that ended)."""


def read_header(log_path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The latest ``run`` header of a log (a resumed run appends a new one), or None."""
    return _scan(log_path)[0]


def _scan(log_path: str | os.PathLike[str]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(latest run header, the ``end`` record after it or None): the head and the last MiB."""
    try:
        with open(log_path, "rb") as f:
            head = list(itertools.islice(f, 200))
            size = f.seek(0, os.SEEK_END)
            start = max(0, size - (1 << 20))
            f.seek(start)
            tail = f.read().split(b"\n")
    except OSError as exc:
        raise ControlError(f"cannot read {log_path}: {exc.strerror}") from None
    if start > 0:
        tail = tail[1:]  # the first piece may be the end of a line
    header = end = None
    for raw in head + tail:
        if b'"kind"' not in raw:
            continue
        obj = _parse(raw)
        kind = obj.get("kind") if obj is not None else None
        if kind == "run":
            header, end = obj, None
        elif kind == "end":
            end = obj
    return header, end


#: Tries of a TCP handshake that the server closed before answering (a flood pushed it out).
HANDSHAKE_TRIES = 3


class ControlClient:
    """Talk to a running Monitor over any of its transports."""

    def __init__(
        self,
        endpoint: str,
        token: str | None = None,
        timeout: float = 5.0,
        cmd: str | os.PathLike[str] | None = None,
    ) -> None:
        """``cmd``: the command file of a ``file:`` endpoint when it is not ``<log>.cmd``
        (the run header's ``cmd`` names it)."""
        try:
            self.endpoint = E.parse_endpoint(endpoint)
        except E.EndpointError as exc:
            raise ControlError(str(exc)) from None
        self.token = token
        self.timeout = timeout
        self.cmd = Path(cmd) if cmd else None
        self._ids = itertools.count(1)
        self._sock: socket.socket | None = None
        self._buf = bytearray()
        self.server: dict[str, Any] = {}

    @classmethod
    def from_log(
        cls, log_path: str | os.PathLike[str], token: str | None = None, timeout: float = 5.0
    ) -> ControlClient:
        """A client for the run writing ``log_path``, using its header and token file.

        A Unix socket on another host (or one that is gone) is out of reach: the client then
        uses the command-file transport, which only needs the shared filesystem.
        """
        header, end = _scan(log_path)
        if header is not None and end is not None:
            raise ControlError(
                f"the run in {log_path} has ended ({end.get('status')} at step "
                f"{end.get('step')}); there is nothing to control"
            )
        if header is None:
            raise ControlError(
                f"{log_path} has no run header: was it written by lrwatch.Monitor? "
                "Pass the socket path or tcp://HOST:PORT instead."
            )
        control = header.get("control") or ""
        token_file = _beside(log_path, header.get("token"), ".token")
        token = token or os.environ.get("LRWATCH_TOKEN") or E.read_token(token_file)
        reachable = control.startswith("tcp://") or (
            control.startswith("unix:")
            and header.get("host") == socket.gethostname()
            and os.path.exists(control[5:])
        )
        if reachable:
            return cls(control, token=token, timeout=timeout)
        if header.get("cmd"):
            log = Path(log_path).absolute()
            cmd = _beside(log, header["cmd"], ".cmd")
            return cls(f"file:{log}", token=token, timeout=timeout, cmd=cmd)
        raise ControlError(
            f"the run in {log_path} (host {header.get('host')}) has no endpoint reachable from "
            f"here ({control or 'none'}); is it still running?"
        )

    # -- requests ------------------------------------------------------------------------

    def request(self, op: str, timeout: float | None = None, **args: Any) -> dict[str, Any]:
        """Send one request and return its reply (``ok`` true or false)."""
        timeout = self.timeout if timeout is None else timeout
        if self.endpoint.kind == "file":
            return self._file_request(op, args, timeout)
        self._connect()
        req_id = next(self._ids)
        self._send({"id": req_id, "op": op, **args})
        deadline = time.monotonic() + timeout
        while True:
            msg = self._recv(deadline, what=op)
            if msg.get("id") == req_id or (msg.get("id") is None and not msg.get("ok", True)):
                return msg

    def subscribe(self, backlog: int = 10000) -> Iterator[dict[str, Any]]:
        """Yield the run's records: the last ``backlog`` ones, then live ones until it ends."""
        if self.endpoint.kind == "file":
            yield from self._file_follow(backlog)
            return
        reply = self.request("subscribe", backlog=backlog)
        if not reply.get("ok"):
            raise ControlError(f"subscribe refused: {reply.get('error', {}).get('message')}")
        while True:
            try:
                msg = self._recv(None, what="subscribe")
            except ControlError:
                return
            yield msg
            if msg.get("kind") == "end":
                return

    def close(self) -> None:
        """Close the connection."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- socket transport --------------------------------------------------------------------

    def _connect(self) -> None:
        if self._sock is not None:
            return
        ep = self.endpoint
        if ep.kind == "tcp" and not self.token:
            raise ControlError(
                f"{ep} needs a token: pass --token, set LRWATCH_TOKEN, or give the log path "
                "so its .token file is used"
            )
        for attempt in range(HANDSHAKE_TRIES):
            self._sock = self._open_socket()
            if ep.kind != "tcp":
                return
            try:
                hello = self.request("hello", token=self.token)
            except ConnectionLost:
                # Under a flood of tokenless connections the server closes the oldest
                # handshakes to make room: a client that was slow to send its token is one.
                self.close()
                if attempt + 1 == HANDSHAKE_TRIES:
                    raise
                continue
            if not hello.get("ok"):
                self.close()
                raise ControlError(f"{ep} refused us: {hello['error']['message']}")
            self.server = hello
            return

    def _open_socket(self) -> socket.socket:
        ep = self.endpoint
        try:
            if ep.kind == "unix":
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(self.timeout)
                sock.connect(ep.path)
                return sock
            return socket.create_connection((ep.host, ep.port), timeout=self.timeout)
        except FileNotFoundError:
            raise ControlError(
                f"no socket at {ep.path}: the run has ended or never opened it "
                "(check the log header's 'control' field)"
            ) from None
        except OSError as exc:
            raise ControlError(
                f"cannot connect to {ep}: {exc.strerror or exc}; is the run still alive?"
            ) from None

    def _send(self, msg: dict[str, Any]) -> None:
        assert self._sock is not None
        try:
            self._sock.sendall(P.encode(msg))
        except OSError as exc:
            self.close()
            raise ConnectionLost(f"connection to {self.endpoint} lost: {exc}") from None

    def _recv(self, deadline: float | None, what: str) -> dict[str, Any]:
        while True:
            nl = self._buf.find(b"\n")
            if nl >= 0:
                line = bytes(self._buf[:nl])
                del self._buf[: nl + 1]
                try:
                    msg = json.loads(line)
                except ValueError:
                    continue
                if isinstance(msg, dict):
                    return msg
                continue
            assert self._sock is not None
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise ControlError(
                    f"no reply to {what} within the timeout: the run may be busy in a long step "
                    "(changes are applied at the next step boundary); retry with a longer --timeout"
                )
            self._sock.settimeout(left)
            try:
                data = self._sock.recv(65536)
            except TimeoutError:
                continue
            except OSError as exc:
                raise ConnectionLost(f"connection to {self.endpoint} lost: {exc}") from None
            if not data:
                self.close()
                raise ConnectionLost(f"{self.endpoint} closed the connection")
            self._buf += data

    # -- file transport ------------------------------------------------------------------------

    def _file_request(self, op: str, args: dict[str, Any], timeout: float) -> dict[str, Any]:
        log = Path(self.endpoint.path)
        cmd = self.cmd or E.sibling(log, ".cmd")
        if not cmd.exists():
            raise ControlError(f"no command file {cmd}: the run does not accept file commands")
        req_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        start = log.stat().st_size
        fd = os.open(cmd, os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, P.encode({"id": req_id, "op": op, **args}))
        finally:
            os.close(fd)
        deadline = time.monotonic() + timeout
        for record in _follow(log, start, deadline):
            if record.get("kind") == "reply" and record.get("id") == req_id:
                record.pop("kind")
                return record
        raise ControlError(
            f"no reply to {op} in {log} within {timeout:g}s: the run polls {cmd.name} at step "
            "boundaries; it may be in a long step, paused by nobody, or gone"
        )

    def _file_follow(self, backlog: int) -> Iterator[dict[str, Any]]:
        log = Path(self.endpoint.path)
        for record in _tail_records(log, backlog):
            yield record
        for record in _follow(log, log.stat().st_size, None):
            yield record
            if record.get("kind") == "end":
                return


def _beside(log_path: str | os.PathLike[str], named: str | None, suffix: str) -> Path:
    """The file the run header names (``cmd``, ``token``), as this host sees it: the run
    creates it next to its log (under a fresh name when ``<log><suffix>`` was not its own),
    and the header's path is the run host's view, so only its name is kept."""
    if named:
        return Path(log_path).with_name(Path(named).name)
    return E.sibling(log_path, suffix)


def _tail_records(log: Path, n: int) -> list[dict[str, Any]]:
    if n <= 0:
        return []
    with open(log, "rb") as f:
        lines = f.read().splitlines()[-n:]
    return [r for r in (_parse(line) for line in lines) if r is not None]


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        obj = json.loads(line)
    except ValueError:
        return None
    return obj if isinstance(obj, dict) else None


def _follow(log: Path, offset: int, deadline: float | None) -> Iterator[dict[str, Any]]:
    """Records appended to ``log`` after ``offset`` (complete lines only) until ``deadline``."""
    partial = b""
    while deadline is None or time.monotonic() < deadline:
        with open(log, "rb") as f:
            f.seek(offset)
            data = f.read()
        if data:
            offset += len(data)
            lines = (partial + data).split(b"\n")
            partial = lines.pop()
            for line in lines:
                record = _parse(line)
                if record is not None:
                    yield record
        else:
            time.sleep(0.05)
