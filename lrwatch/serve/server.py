"""The served app: textual-serve's WebSocket-to-process bridge behind lrwatch's token.

Each browser tab that connects gets its own app process (``command``), exactly as textual-
serve runs it; what lrwatch changes is around it: who gets in (:mod:`lrwatch.serve.auth`),
the page (:mod:`lrwatch.serve.page`), how many tabs may run at once, and a server bound to a
socket opened beforehand, so that ``--port 0`` can print the port it got.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from textual_serve.server import Server

from lrwatch.serve.auth import cookie_name, token_middleware
from lrwatch.serve.page import index, statics, terminal_script


@dataclass(frozen=True, slots=True)
class Served:
    """What a server serves and to whom."""

    command: str  #: the shell command of one tab's app process
    token: str
    title: str = "lrwatch"
    theme: str = "dark"
    max_tabs: int = 8  #: app processes at once (each one is a whole Python process)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: any free port)."""
    info = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(info[0], socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(info[4])
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class AppServer(Server):
    """textual-serve's :class:`Server` with a token, lrwatch's page and a tab limit."""

    def __init__(self, served: Served, sock: socket.socket) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(served.command, host=host, port=port, title=served.title)
        self.served = served
        self.sock = sock
        self.tabs = 0  #: app processes running now

    async def _make_app(self) -> web.Application:
        app = web.Application(
            middlewares=[token_middleware(self.served.token, cookie_name(self.port))]
        )
        app.add_routes(
            [
                web.get("/", self.handle_page, name="index"),
                web.get("/lrwatch/textual.js", self.handle_script),
                web.get("/ws", self.handle_tab, name="websocket"),
                web.get("/download/{key}", self.handle_download, name="download"),
                web.static("/static", statics(), name="static"),
            ]
        )
        return app

    async def handle_page(self, request: web.Request) -> web.Response:
        """The page (the token was checked by the middleware)."""
        try:
            size = int(request.query.get("fontsize", "16"))
        except ValueError:
            size = 16
        page = index(self.served.title, self.served.theme, size)
        return web.Response(text=page, content_type="text/html")

    async def handle_script(self, request: web.Request) -> web.Response:
        """textual-serve's terminal script, with screen-reader mode on."""
        return web.Response(body=terminal_script(), content_type="application/javascript")

    async def handle_tab(self, request: web.Request) -> web.StreamResponse:
        """One tab's WebSocket: an app process of its own, while there is room for one."""
        if self.tabs >= self.served.max_tabs:
            text = f"lrwatch serve: {self.tabs} tabs are open, the most --max-tabs allows\n"
            return web.Response(status=503, text=text)
        self.tabs += 1
        try:
            return await self.handle_websocket(request)
        finally:
            self.tabs -= 1

    async def run(self, ready: Callable[[], None]) -> None:
        """Serve until SIGINT or SIGTERM; ``ready`` is called once requests are answered."""
        runner = web.AppRunner(await self._make_app(), handle_signals=False)
        await runner.setup()
        try:
            await web.SockSite(runner, self.sock).start()
            ready()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
        finally:
            # Closing the WebSockets ends each tab's handler, which tells its app to quit.
            await runner.cleanup()
