"""Send fuzz messages to a live run over one transport and collect what comes back.

Each message is followed by a ``status`` request with its own id (the *fence*): the replies
before the fence's reply are the message's, and the fence's reply shows that the connection
(or, for the command file, the run) still answers. No sleeps: every wait is on a socket read
or on the log growing, bounded by a deadline; a deadline passed is a *hang*.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.fuzz_lib.messages import Message

#: Seconds without the expected reply before a message counts as a hang.
HANG_S = 30.0


class Hang(Exception):
    """No reply before the deadline."""


@dataclass
class Outcome:
    """What one message got back."""

    replies: list[dict[str, Any]] = field(default_factory=list)
    fence: dict[str, Any] | None = None  #: the following status's reply
    closed: bool = False  #: the server closed the connection
    hang: bool = False
    dead: bool = False  #: the training process is gone
    note: str = ""  #: a reply that is not one JSON object per line


def fence_line(fence_id: str) -> bytes:
    """The ``status`` request that follows every message."""
    return b'{"id":"%s","op":"status"}\n' % fence_id.encode()


def parse_reply(line: bytes) -> dict[str, Any]:
    """One reply line as an object; ValueError when it is not one."""
    obj = json.loads(line)
    if not isinstance(obj, dict):
        raise ValueError(f"reply is not an object: {line[:80]!r}")
    return obj


class LineReader:
    """Reply lines from a socket, each read bounded by a deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()
        self.eof = False

    def next(self, deadline: float) -> dict[str, Any] | None:
        """The next reply, None at end of stream; :class:`Hang` past ``deadline``."""
        while b"\n" not in self.buf:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise Hang
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(1 << 16)
            except TimeoutError:
                raise Hang from None
            except OSError:  # reset by the server after it answered
                data = b""
            self.eof = not data
            self.buf += data
        nl = self.buf.index(b"\n")
        line = bytes(self.buf[:nl])
        del self.buf[: nl + 1]
        return parse_reply(line)


def send(sock: socket.socket, payload: bytes, chunk: int) -> None:
    """Send ``payload`` whole or in ``chunk``-byte pieces; a closed peer is not an error."""
    sock.settimeout(HANG_S)
    try:
        if chunk <= 0:
            sock.sendall(payload)
            return
        for pos in range(0, len(payload), chunk):
            sock.sendall(payload[pos : pos + chunk])
    except TimeoutError:
        raise Hang from None
    except OSError:
        pass  # the server closed the connection (e.g. after too_long); read its answer


def connect(address: str) -> socket.socket:
    """A connection to ``unix:PATH`` or ``tcp://HOST:PORT``."""
    if address.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        target: Any = address[5:]
    else:
        host, _, port = address[6:].rpartition(":")
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        target = (host, int(port))
    sock.settimeout(HANG_S)
    sock.connect(target)
    return sock


class SocketChannel:
    """A held connection (Unix socket, or TCP authenticated with the token)."""

    def __init__(self, name: str, address: str, token: str | None = None) -> None:
        self.name = name
        self.address = address
        self.token = token
        self.sock: socket.socket | None = None
        self.reader: LineReader | None = None

    def open(self) -> None:
        """(Re)connect, authenticating first over TCP."""
        self.close()
        self.sock = connect(self.address)
        self.reader = LineReader(self.sock)
        if self.token is not None:
            hello = {"id": "auth", "op": "hello", "token": self.token, "client": "fuzz"}
            send(self.sock, (json.dumps(hello) + "\n").encode(), 0)
            reply = self.reader.next(time.monotonic() + HANG_S)
            if not reply or not reply.get("ok"):
                raise RuntimeError(f"authentication failed: {reply}")

    def close(self) -> None:
        """Drop the connection."""
        if self.sock is not None:
            self.sock.close()
        self.sock = self.reader = None

    def request(self, line: bytes, reply_id: str) -> dict[str, Any] | None:
        """Send one line and return the reply with ``reply_id`` (None if the peer closed)."""
        if self.sock is None:
            self.open()
        assert self.sock is not None and self.reader is not None
        send(self.sock, line, 0)
        deadline = time.monotonic() + HANG_S
        while (reply := self.reader.next(deadline)) is not None:
            if reply.get("id") == reply_id:
                return reply
        self.close()
        return None

    def exchange(self, msg: Message, fence_id: str) -> Outcome:
        """Send ``msg`` then a fence; the message's replies, and whether the fence answered."""
        out = Outcome()
        try:
            if self.sock is None:
                self.open()
            assert self.sock is not None and self.reader is not None
            send(self.sock, msg.line + b"\n", msg.chunk)
            send(self.sock, fence_line(fence_id), 0)
            deadline = time.monotonic() + HANG_S
            while (reply := self.reader.next(deadline)) is not None:
                if reply.get("id") == fence_id:
                    out.fence = reply
                    return out
                out.replies.append(reply)
            out.closed = True
            self.close()
            out.fence = self.request(fence_line(fence_id), fence_id)
        except Hang:
            out.hang = True
            self.close()
        except ValueError as exc:
            out.note = f"bad reply line: {exc}"
            self.close()
        return out


class NoTokenChannel:
    """A fresh TCP connection per message and no token; the owner's fence on ``owner``."""

    def __init__(self, address: str, owner: SocketChannel) -> None:
        self.name = "tcp-notoken"
        self.address = address
        self.owner = owner

    def exchange(self, msg: Message, fence_id: str) -> Outcome:
        """Send ``msg`` unauthenticated; read until the server closes."""
        out = Outcome()
        sock = connect(self.address)
        reader = LineReader(sock)
        try:
            send(sock, msg.line + b"\n", msg.chunk)
            deadline = time.monotonic() + HANG_S
            while (reply := reader.next(deadline)) is not None:
                out.replies.append(reply)
            out.closed = True
            out.fence = self.owner.request(fence_line(fence_id), fence_id)
        except Hang:
            out.hang = True
        except ValueError as exc:
            out.note = f"bad reply line: {exc}"
        finally:
            sock.close()
        return out


class LogTail:
    """The run's log read incrementally: every line must be one JSON object."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.replies: list[dict[str, Any]] = []
        self.bad_lines: list[bytes] = []

    def poll(self) -> int:
        """Read what was appended; returns the number of new reply records."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return 0
        self.offset += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        before = len(self.replies)
        for line in lines:
            try:
                rec = parse_reply(line)
            except ValueError:
                self.bad_lines.append(line[:200])
                continue
            if rec.get("kind") == "reply":
                self.replies.append(rec)
        return len(self.replies) - before


class FileChannel:
    """The command file: messages appended in batches, replies read back from the log."""

    def __init__(self, cmd: Path, log: Path, proc: subprocess.Popen[bytes], batch: int = 40):
        self.name = "file"
        self.cmd = cmd
        self.tail = LogTail(log)
        self.proc = proc
        self.batch = batch

    def run(self, msgs: list[Message], fence_ids: list[str]) -> list[Outcome]:
        """Every message's outcome, sent ``batch`` at a time."""
        outs: list[Outcome] = []
        for lo, hi in self._batches(msgs):
            outs += self._batch(msgs[lo:hi], fence_ids[lo:hi])
        return outs

    def _batches(self, msgs: list[Message]) -> list[tuple[int, int]]:
        """Index ranges of at most ``batch`` messages; an over-long line goes alone, so that
        it starts where the run's reader stands and every reply it causes is its own."""
        out, lo = [], 0
        for i, msg in enumerate(msgs):
            if msg.multi or i - lo >= self.batch:
                if i > lo:
                    out.append((lo, i))
                lo = i
            if msg.multi:
                out.append((i, i + 1))
                lo = i + 1
        if lo < len(msgs):
            out.append((lo, len(msgs)))
        return out

    def _append(self, msg: Message, fence_id: str) -> None:
        payload = msg.line + b"\n"
        step = msg.chunk or len(payload)
        fd = os.open(self.cmd, os.O_WRONLY | os.O_APPEND)
        try:
            for pos in range(0, len(payload), step):
                os.write(fd, payload[pos : pos + step])
            os.write(fd, fence_line(fence_id))
        finally:
            os.close(fd)

    def _batch(self, msgs: list[Message], fence_ids: list[str]) -> list[Outcome]:
        start = len(self.tail.replies)
        for msg, fid in zip(msgs, fence_ids, strict=True):
            self._append(msg, fid)
        self._wait_for(fence_ids[-1], start)
        return self._split(self.tail.replies[start:], msgs, fence_ids)

    def _wait_for(self, fence_id: str, start: int) -> bool:
        """Wait until the log has the reply to ``fence_id``; False on a hang or a dead run."""
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline:
            if self.tail.poll():
                deadline = time.monotonic() + HANG_S  # progress: the run is answering
            if any(r.get("id") == fence_id for r in self.tail.replies[start:]):
                return True
            if self.proc.poll() is not None:
                self.tail.poll()
                return any(r.get("id") == fence_id for r in self.tail.replies[start:])
            wait_for_growth(self.tail.path, self.tail.offset, deadline)
        return False

    def _split(self, replies: list[dict[str, Any]], msgs: list[Message], fence_ids: list[str]):
        """Replies matched to messages.

        The run answers a poll's invalid lines at once and its valid requests (fences too)
        afterwards, so errors and ok replies are two streams, each in the order of the lines.
        """
        errs = [r for r in replies if r.get("ok") is not True]
        oks = [r for r in replies if r.get("ok") is True]
        dead = self.proc.poll() is not None
        outs = []
        for msg, fid in zip(msgs, fence_ids, strict=True):
            out = Outcome()
            if msg.ok and oks and oks[0].get("id") in msg.ids and oks[0].get("id") is not None:
                out.replies.append(oks.pop(0))
            elif errs:
                out.replies.append(errs.pop(0))
                while msg.multi and errs:  # alone in its batch: every error is its own
                    out.replies.append(errs.pop(0))
            while oks and oks[0].get("id") != fid:
                out.replies.append(oks.pop(0))  # an ok reply nobody asked for
            if oks:
                out.fence = oks.pop(0)
            else:
                out.dead, out.hang = dead, not dead
            outs.append(out)
        return outs


def wait_for_growth(path: Path, size: int, deadline: float) -> None:
    """Block until ``path`` is longer than ``size`` or a short slice of ``deadline`` passes.

    The log has no change notification a portable test can use, so this polls its size; it
    returns as soon as the file grows, and never waits past ``deadline``.
    """
    end = min(deadline, time.monotonic() + 0.5)
    while time.monotonic() < end:
        try:
            if os.stat(path).st_size > size:
                return
        except OSError:
            return
        time.sleep(0.005)
