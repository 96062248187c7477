"""Who may reach a served app: the token, the cookie it turns into, and the bind address.

textual-serve has no authentication at all (anyone who reaches the port gets an app process,
and with it the run's LR). Every request must carry the token: in the URL (``?token=``) the
first time, then in a cookie the first answer sets, so that the page's scripts, styles and
WebSocket (whose URL the page builds without the query) carry it too.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.typedefs import Middleware

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: What a request without the token gets: no app, and a line that says why.
REFUSED = "lrwatch serve: this address needs the token that lrwatch serve printed (…/?token=…)\n"


def new_token() -> str:
    """A random URL-safe token (144 bits)."""
    return secrets.token_urlsafe(18)


def cookie_name(port: int) -> str:
    """The cookie that carries the token. Cookies are per host, not per port, so two serves
    on one host must not overwrite each other's."""
    return f"lrwatch-serve-{port}"


def _same_origin(request: web.Request) -> bool:
    """A WebSocket's Origin (sent by browsers) must be this server: a page elsewhere must not
    drive the app with the cookie of someone who opened it."""
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser (curl, a test client): the token alone decides
        return True
    return urlsplit(origin).netloc == request.host


def token_middleware(token: str, cookie: str) -> Middleware:
    """An aiohttp middleware refusing (403) every request that carries neither ``?token=``
    nor the cookie with the token; a good ``?token=`` sets the cookie."""

    def good(value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), token.encode())

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        in_query = good(request.query.get("token"))
        if not (in_query or good(request.cookies.get(cookie))):
            return web.Response(status=403, text=REFUSED)
        if request.headers.get("Upgrade", "").lower() == "websocket" and not _same_origin(request):
            return web.Response(status=403, text="lrwatch serve: cross-origin WebSocket refused\n")
        response = await handler(request)
        if in_query and not response.prepared:
            response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    return check
