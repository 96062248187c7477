"""Hostile clients against a real training subprocess: its losses stay bitwise identical to an
undisturbed twin, and the server keeps answering valid clients throughout."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

from ctlhelp import (
    connect,
    header,
    losses,
    metric_steps,
    read_reply,
    records,
    start_trainee,
    wait_for,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrwatch.control.client import ControlClient

N = 120


def test_hostile_clients_change_nothing(tmp_path: Path) -> None:
    twin = start_trainee(tmp_path, "twin", N, stopped=True)
    run = start_trainee(tmp_path, "run", N)
    try:
        sock = header(run.log)["control"].removeprefix("unix:")
        good = ControlClient(f"unix:{sock}")
        assert good.request("status")["ok"]

        # 1. Garbage lines, driven by hypothesis; each gets an error reply or nothing.
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
        # Garbage, not a request: a JSON object with an op gets unknown_op (part 2).
        @given(st.binary(max_size=2000).filter(lambda b: b.strip() and not _has_op(b)))
        def garbage(data: bytes) -> None:
            s = connect(sock)
            s.sendall(data.replace(b"\n", b" ") + b"\n")
            reply = read_reply(s)
            s.close()
            assert reply["ok"] is False and reply["error"]["code"] in ("bad_json", "bad_request")

        garbage()
        # 2. Unknown ops and wrong types: error replies, nothing changes.
        s = connect(sock)
        s.sendall(b'{"id": 1, "op": "rm -rf"}\n{"id": 2, "op": "set_lr", "value": "big"}\n')
        assert read_reply(s)["error"]["code"] == "unknown_op"
        s.close()
        # 3. An oversized line: error reply, then the connection is closed.
        s = connect(sock)
        s.sendall(b"x" * (100 * 1024))
        assert read_reply(s)["error"]["code"] == "too_long"
        assert s.recv(10) == b""
        s.close()
        # 4. Half-sent messages and a crowd of clients, all held open at once.
        half = [connect(sock) for _ in range(5)]
        for h in half:
            h.sendall(b'{"id": 1, "op": "sta')
        crowd = [connect(sock) for _ in range(30)]
        served = refused = 0
        for c in crowd:
            # A refused client was already closed by the server; its error is still readable.
            with contextlib.suppress(OSError):
                c.sendall(b'{"id": 7, "op": "status"}\n')
            c.settimeout(30)
            data = c.recv(65536)
            refused += b"too_many_clients" in data
            served += b'"ok":true' in data
        assert served + refused == 30
        assert served <= 16 - 1 - 5  # the good client and the half-sent ones hold 6 slots
        for c in crowd + half:
            c.close()
        # The valid client kept its connection and is still answered.
        status = wait_for(lambda: good.request("status"), what="status after the storm")
        assert status["ok"] and status["lr"] == [0.05] and status["paused"] is False
        assert good.request("history")["changes"] == []
        good.close()
        wait_for(lambda: metric_steps(run.log) >= N, what=f"{N} steps")
        assert run.stop() == 0
        assert twin.proc.wait(timeout=120) == 0
    finally:
        run.kill()
        twin.kill()
    ours, theirs = losses(run.log), losses(twin.log)
    assert len(theirs) == N and len(ours) >= N
    assert ours[:N] == theirs  # bitwise: repr of the same doubles
    assert not [r for r in records(run.log) if r.get("kind") == "lr_change"]


def _has_op(data: bytes) -> bool:
    """Whether ``data`` (one line once its newlines are blanked) is a JSON object with ``op``."""
    try:
        obj = json.loads(data.replace(b"\n", b" "))
    except ValueError:
        return False
    return isinstance(obj, dict) and "op" in obj
