"""The run side of every transport, assembled from the ``control`` spec of a Monitor.

``control`` is a comma-separated list: ``unix`` (socket next to the log), ``unix:PATH``,
``tcp://HOST:PORT`` (token required), ``file`` (command file only) or ``none``. The command
file transport is added unless disabled. The first socket endpoint is the one the run header
advertises; the others are reachable too.

Opening never raises: a transport that cannot be opened (a bad spec, a port in use, a
read-only directory) is reported and left out, and a Unix socket that cannot live next to the
log goes to the private directory instead, so a run always starts and stays controllable
whenever any transport works.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypedDict

from lrwatch.control import endpoint as E
from lrwatch.control import owned
from lrwatch.control import protocol as P
from lrwatch.control.dispatch import Handler, Reply, Report
from lrwatch.control.filecmd import CommandFile
from lrwatch.control.server import ControlServer, ServerLimits

Emit = Callable[[dict[str, Any]], None]


class ServiceOptions(TypedDict, total=False):
    """The Monitor's settings that the service and its writer read (see lrwatch.Monitor)."""

    allow_remote: bool
    file_commands: bool
    ring: int
    flush_interval: float
    max_clients: int


class Service:
    """Listening sockets + server thread + command file of one run."""

    def __init__(self, handler: Handler, emit: Emit, report: Report) -> None:
        self.handler = handler
        self.emit = emit
        self.report = report
        self.endpoint: str | None = None
        self.server: ControlServer | None = None
        self.cmd: CommandFile | None = None
        self.cmd_path: Path | None = None
        self.token_path: Path | None = None
        self.socket_path: Path | None = None
        self._token: str | None = None
        self._inodes: dict[Path, int] = {}  # files we created, removed at close if unchanged

    @classmethod
    def open(
        cls,
        handler: Handler,
        log_path: Path,
        control: str,
        emit: Emit,
        opts: ServiceOptions,
        report: Report,
    ) -> Service:
        """Bind what ``control`` asks for, reporting (not raising) what cannot be opened."""
        svc = cls(handler, emit, report)
        listeners: list[Any] = []
        items = [c.strip() for c in control.split(",") if c.strip()]
        for item in items:
            try:
                listener = svc._open_item(item, log_path, opts)
            except (E.EndpointError, OSError) as exc:
                report("control_unavailable", f"cannot open control endpoint {item!r}: {exc}")
                continue
            if listener is not None:
                listeners.append(listener)
        if listeners:
            limits = ServerLimits(max_clients=opts.get("max_clients", 16))
            svc.server = ControlServer(handler, listeners, token=svc._token, limits=limits)
            svc.server.start()
        if opts.get("file_commands", True) and "none" not in items:
            svc._open_command_file(log_path)
        return svc

    def _open_item(self, item: str, log_path: Path, opts: ServiceOptions) -> Any:
        """One item of the spec: a listener triple, or None for ``file`` / ``none``."""
        if item == "none":
            return None
        if item == "file":
            self.endpoint = self.endpoint or f"file:{log_path.absolute()}"
            return None
        if item.startswith("tcp://"):
            ep = E.parse_endpoint(item)
            sock, port = E.bind_tcp(ep.host, ep.port, opts.get("allow_remote", False))
            try:
                self._write_token(log_path)
            except OSError:
                sock.close()
                raise
            self.endpoint = self.endpoint or f"tcp://{ep.host}:{port}"
            return (sock, True, "tcp")
        if item == "unix" or item.startswith("unix:"):
            sock, path = self._bind_unix(item, log_path)
            self.socket_path = path
            self._inodes[path] = os.lstat(path).st_ino
            self.endpoint = self.endpoint or f"unix:{path}"
            return (sock, False, "unix")
        raise E.EndpointError(
            f"bad control {item!r}: use unix, unix:PATH, tcp://HOST:PORT, file or none"
        )

    def _bind_unix(self, item: str, log_path: Path) -> tuple[Any, Path]:
        if item.startswith("unix:"):
            return E.bind_unix(Path(item[5:]))
        try:
            return E.bind_unix(E.socket_path_for(log_path))
        except (E.EndpointError, OSError) as exc:
            # Next to the log is taken or refused (a file in the way, a read-only directory):
            # the private directory still works, and the run header names the real path.
            path = E.private_socket_path(log_path)
            self.report("socket_moved", f"socket not next to the log ({exc}); using {path}")
            return E.bind_unix(path)

    def _write_token(self, log_path: Path) -> None:
        if self._token is not None:
            return
        token, path, refusal = E.write_token(E.sibling(log_path, ".token"))
        if refusal is not None:
            self.report("token_untrusted", f"{refusal}: not using it; the token is in {path}")
        self._token, self.token_path = token, path
        self._inodes[path] = os.lstat(path).st_ino

    def _open_command_file(self, log_path: Path) -> None:
        path = E.sibling(log_path.absolute(), ".cmd")
        try:
            self.cmd = CommandFile(path, report=self.report)
        except OSError as exc:
            self.report("cmd_unavailable", f"no command file ({path}: {exc.strerror or exc})")
            return
        self.cmd_path = self.cmd.path
        self.endpoint = self.endpoint or f"file:{log_path.absolute()}"

    def file_due(self) -> bool:
        """True when the command file should be polled at this boundary."""
        return self.cmd is not None and self.cmd.due()

    def poll_file(self) -> list[tuple[P.Request, Reply]]:
        """Validated requests from the command file; invalid ones are answered in the log."""
        if self.cmd is None or not self.cmd.due():
            return []
        out: list[tuple[P.Request, Reply]] = []
        for line in self.cmd.poll():
            try:
                req = P.parse_request(line, self.handler.limits)
            except P.ProtocolError as exc:
                self._reply_in_log(exc.reply())
                continue
            if req.op == "subscribe":
                msg = "subscribe needs a socket; over the file transport, tail the log"
                self._reply_in_log(P.error_reply(req.id, P.UNSUPPORTED, msg))
                continue
            out.append((req, self._reply_in_log))
        return out

    def _reply_in_log(self, reply: dict[str, Any]) -> None:
        self.emit({"kind": "reply", **reply})

    def close(self) -> None:
        """Stop serving; remove the socket and token files (they would be stale)."""
        if self.server is not None:
            self.server.close()
        if self.cmd is not None:
            self.cmd.close()
        for path, ino in self._inodes.items():
            error = owned.remove_if_same(path, ino)
            if error is not None:
                self.report(
                    "leftover",
                    f"cannot remove {path} ({error.strerror or error}); it is stale now",
                )
