"""The run side of every transport, assembled from the ``control`` spec of a Monitor.

``control`` is a comma-separated list: ``unix`` (socket next to the log), ``unix:PATH``,
``tcp://HOST:PORT`` (token required), ``file`` (command file only) or ``none``. The command
file transport is added unless disabled. The first socket endpoint is the one the run header
advertises; the others are reachable too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lrwatch.control import endpoint as E
from lrwatch.control import protocol as P
from lrwatch.control.dispatch import Handler, Reply
from lrwatch.control.filecmd import CommandFile
from lrwatch.control.server import ControlServer, ServerLimits

Emit = Callable[[dict[str, Any]], None]


class Service:
    """Listening sockets + server thread + command file of one run."""

    def __init__(self, handler: Handler, emit: Emit) -> None:
        self.handler = handler
        self.emit = emit
        self.endpoint: str | None = None
        self.server: ControlServer | None = None
        self.cmd: CommandFile | None = None
        self.cmd_path: Path | None = None
        self.token_path: Path | None = None
        self.socket_path: Path | None = None

    @classmethod
    def open(
        cls,
        handler: Handler,
        log_path: Path,
        control: str,
        emit: Emit,
        opts: dict[str, Any],
    ) -> Service:
        """Bind what ``control`` asks for; raises :class:`EndpointError` on a bad spec."""
        svc = cls(handler, emit)
        listeners = []
        token = None
        items = [c.strip() for c in control.split(",") if c.strip()]
        for item in items:
            if item == "none":
                continue
            if item == "file":
                svc.endpoint = svc.endpoint or f"file:{log_path.absolute()}"
                continue
            if item.startswith("tcp://"):
                ep = E.parse_endpoint(item)
                sock, port = E.bind_tcp(ep.host, ep.port, opts.get("allow_remote", False))
                if token is None:
                    svc.token_path = E.sibling(log_path, ".token")
                    token = E.write_token(svc.token_path)
                listeners.append((sock, True, "tcp"))
                svc.endpoint = svc.endpoint or f"tcp://{ep.host}:{port}"
            elif item == "unix" or item.startswith("unix:"):
                path = Path(item[5:]) if item.startswith("unix:") else E.socket_path_for(log_path)
                sock, path = E.bind_unix(path)
                svc.socket_path = path
                listeners.append((sock, False, "unix"))
                svc.endpoint = svc.endpoint or f"unix:{path}"
            else:
                raise E.EndpointError(
                    f"bad control {item!r}: use unix, unix:PATH, tcp://HOST:PORT, file or none"
                )
        if listeners:
            limits = ServerLimits(max_clients=opts.get("max_clients", 16))
            svc.server = ControlServer(handler, listeners, token=token, limits=limits)
            svc.server.start()
        if opts.get("file_commands", True) and "none" not in items:
            svc.cmd_path = E.sibling(log_path.absolute(), ".cmd")
            svc.cmd = CommandFile(svc.cmd_path)
            svc.endpoint = svc.endpoint or f"file:{log_path.absolute()}"
        return svc

    def file_due(self) -> bool:
        """True when the command file should be polled at this boundary."""
        return self.cmd is not None and self.cmd.due()

    def poll_file(self) -> list[tuple[P.Request, Reply]]:
        """Validated requests from the command file; invalid ones are answered in the log."""
        if self.cmd is None or not self.cmd.due():
            return []
        out = []
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
        """Stop serving and remove the socket file (it would be stale)."""
        if self.server is not None:
            self.server.close()
        if self.socket_path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.socket_path)
