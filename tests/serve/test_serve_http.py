"""``lrwatch serve`` over real HTTP: nothing without the token, the app with it."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from tests.serve.servehelp import Serving, serving, tab_output

LOG = str(Path(__file__).resolve().parents[1] / "fixtures" / "nanogpt_healthy.log")


def get(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of a GET (errors included)."""
    req = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


@pytest.fixture(scope="module")
def served() -> Serving:
    with serving("watch", "--no-follow", LOG) as s:
        yield s


PATHS = (
    "/",
    "/static/css/xterm.css",
    "/static/fonts/RobotoMono-VariableFont_wght.ttf",
    "/lrwatch/textual.js",
    "/ws",
    "/download/x",
)


@pytest.mark.parametrize("path", PATHS)
def test_no_token_no_app(served: Serving, path: str) -> None:
    status, _, body = get(served.base + path)
    assert status == 403
    assert b"token" in body


@pytest.mark.parametrize("path", PATHS)
def test_a_wrong_token_is_no_token(served: Serving, path: str) -> None:
    wrong = served.token[:-1] + ("A" if served.token[-1] != "A" else "B")
    status, _, _ = get(f"{served.base}{path}?token={wrong}")
    assert status == 403
    status, _, _ = get(served.base + path, cookie=f"lrwatch-serve-{port(served)}={wrong}")
    assert status == 403


def port(served: Serving) -> int:
    return int(served.base.rsplit(":", 1)[1])


def test_the_token_opens_the_page_and_sets_the_cookie(served: Serving) -> None:
    status, headers, body = get(served.url)
    assert status == 200
    assert f"lrwatch-serve-{port(served)}={served.token}" in headers["Set-Cookie"]
    assert "HttpOnly" in headers["Set-Cookie"] and "SameSite=Strict" in headers["Set-Cookie"]
    page = body.decode()
    assert "googleapis" not in page  # no font from the internet
    assert 'src="lrwatch/textual.js"' in page
    cookie = f"lrwatch-serve-{port(served)}={served.token}"
    status, _, script = get(served.base + "/lrwatch/textual.js", cookie=cookie)
    assert status == 200 and b"screenReaderMode:!0" in script
    status, _, _ = get(served.base + "/static/css/xterm.css", cookie=cookie)
    assert status == 200


def test_the_printed_lines_say_how_to_reach_it_from_a_laptop(served: Serving) -> None:
    text = "".join(served.lines)
    p = port(served)
    assert f"ssh -N -L {p}:127.0.0.1:{p} " in text
    assert f"http://localhost:{p}/?token={served.token}" in text


def test_a_tab_with_the_cookie_gets_the_app(served: Serving) -> None:
    got = asyncio.run(tab_output(served, b"loss", origin=served.base))
    assert b"loss" in got


@pytest.mark.parametrize(("origin", "cookie"), [("http://evil.example", True), (None, False)])
def test_a_websocket_from_elsewhere_or_without_the_cookie_is_refused(
    served: Serving, origin: str | None, cookie: bool
) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as err:
        asyncio.run(tab_output(served, b"loss", origin=origin, cookie=cookie))
    assert err.value.status == 403


def test_tabs_past_max_tabs_are_refused_until_one_closes() -> None:
    async def scenario(served: Serving) -> tuple[int, bytes]:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.get(served.url) as resp:
                assert resp.status == 200
            url = served.base.replace("http://", "ws://") + "/ws?width=100&height=30"
            async with session.ws_connect(url) as first:
                await first.receive(timeout=120)  # the first tab's app is up
                with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                    await session.ws_connect(url)
                await first.send_json(["stdin", "q"])
        # The first tab's slot is free once its app has exited: a new tab gets an app again.
        deadline = time.monotonic() + 120
        while True:
            try:
                return err.value.status, await tab_output(served, b"loss")
            except aiohttp.WSServerHandshakeError as again:
                if again.status != 503 or time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)

    with serving("--max-tabs", "1", "watch", "--no-follow", LOG) as served:
        status, again = asyncio.run(scenario(served))
    assert status == 503
    assert b"loss" in again
