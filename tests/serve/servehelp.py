"""Start a real ``lrwatch serve`` process and find the URL it prints."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import aiohttp

URL = re.compile(r"open\s+(http://\S+/\?token=(\S+))")


@dataclass
class Serving:
    """A running ``lrwatch serve``: its process, the URL with the token, what it printed."""

    proc: subprocess.Popen[str]
    url: str
    token: str
    lines: list[str] = field(default_factory=list)

    @property
    def base(self) -> str:
        """The URL without the token."""
        return self.url.split("?", 1)[0].rstrip("/")


def _pump(stream: object, out: queue.Queue[str | None]) -> None:
    for line in stream:  # type: ignore[attr-defined]
        out.put(line)
    out.put(None)


@contextmanager
def serving(
    *args: str, timeout: float = 120.0, env: dict[str, str] | None = None
) -> Iterator[Serving]:
    """``lrwatch serve --port 0 ARGS`` until the block ends (then SIGINT, as Ctrl+C)."""
    cmd = [sys.executable, "-m", "lrwatch", "serve", "--port", "0", *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    match = None
    try:
        while not seen or "Ctrl+C stops serving" not in seen[-1]:  # the banner's last line
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if line is None:
                raise AssertionError(f"lrwatch serve exited: {''.join(seen)}")
            seen.append(line)
            match = match or URL.search(line)
        assert match is not None, "".join(seen)
        yield Serving(proc, match.group(1), match.group(2), seen)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


async def tab_output(
    served: Serving, until: bytes, origin: str | None = None, cookie: bool = True
) -> bytes:
    """Open a tab's WebSocket as the page does (``cookie``: after loading the page with the
    token) and read the app's output until ``until`` shows; then type ``q``."""
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        if cookie:
            async with session.get(served.url) as resp:
                assert resp.status == 200
        url = served.base.replace("http://", "ws://") + "/ws?width=120&height=36"
        async with session.ws_connect(url, headers=headers) as ws:
            deadline = time.monotonic() + 120
            got = b""
            while until not in got:
                msg = await ws.receive(timeout=max(1.0, deadline - time.monotonic()))
                if msg.type == aiohttp.WSMsgType.BINARY:
                    got += msg.data
                elif msg.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket ended: {msg.type} after {got[-300:]!r}")
            await ws.send_json(["stdin", "q"])
            return got
