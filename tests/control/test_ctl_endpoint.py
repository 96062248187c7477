"""Endpoints: socket paths and fallbacks, permissions, stale vs live sockets, TCP binding."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from lrwatch.control import endpoint as E


def test_parse_endpoint_forms() -> None:
    assert E.parse_endpoint("unix:/a/b.sock") == E.Endpoint("unix", path="/a/b.sock")
    assert E.parse_endpoint("/a/b.sock") == E.Endpoint("unix", path="/a/b.sock")
    assert E.parse_endpoint("tcp://127.0.0.1:8123") == E.Endpoint(
        "tcp", host="127.0.0.1", port=8123
    )
    assert E.parse_endpoint("tcp://[::1]:5") == E.Endpoint("tcp", host="::1", port=5)
    assert str(E.parse_endpoint("file:/r/x.jsonl")) == "file:/r/x.jsonl"
    for bad in ("tcp://host", "tcp://:80", "http://x", ""):
        with pytest.raises(E.EndpointError):
            E.parse_endpoint(bad)


def test_socket_next_to_log_and_fallback_for_long_paths(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    (tmp_path / "xdg").mkdir(mode=0o700)
    assert E.socket_path_for(tmp_path / "exp1.jsonl") == tmp_path / "exp1.sock"
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)
    long_path = E.socket_path_for(deep / "exp1.jsonl")
    assert long_path.parent == tmp_path / "xdg" / "lrwatch"
    assert len(os.fsencode(long_path)) <= E.MAX_SOCKET_PATH
    assert stat.S_IMODE(os.stat(long_path.parent).st_mode) == 0o700
    # Same log, same fallback path (a client can recompute it); another log, another path.
    assert E.socket_path_for(deep / "exp1.jsonl") == long_path
    assert E.socket_path_for(deep / "exp2.jsonl") != long_path
    sock, path = E.bind_unix(long_path)
    sock.close()
    assert stat.S_ISSOCK(os.lstat(path).st_mode)


def test_socket_is_0600_and_stale_one_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "run.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays, nobody listens: a crashed run's leftover
    assert os.path.exists(path) and not E.is_live(path)
    sock, bound = E.bind_unix(path)
    try:
        assert bound == path
        assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
        assert E.is_live(path)
    finally:
        sock.close()


def test_live_socket_is_not_stolen(tmp_path: Path) -> None:
    path = tmp_path / "run.sock"
    first, p1 = E.bind_unix(path)
    try:
        second, p2 = E.bind_unix(path)
        second.close()
        assert p1 == path and p2 != path and p2.parent == path.parent
        # The first server still owns its socket file and accepts connections.
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.connect(str(path))
        conn, _ = first.accept()
        conn.close()
        probe.close()
    finally:
        first.close()


def test_regular_file_is_never_replaced(tmp_path: Path) -> None:
    path = tmp_path / "run.sock"
    path.write_text("precious")
    with pytest.raises(E.EndpointError, match="not a socket"):
        E.bind_unix(path)
    assert path.read_text() == "precious"


def test_tcp_is_loopback_only_unless_allowed() -> None:
    with pytest.raises(E.EndpointError, match="allow_remote"):
        E.bind_tcp("0.0.0.0", 0)
    sock, port = E.bind_tcp("127.0.0.1", 0)
    sock.close()
    assert port > 0
    sock, port = E.bind_tcp("0.0.0.0", 0, allow_remote=True)
    sock.close()
    assert E.is_loopback("localhost") and E.is_loopback("::1") and not E.is_loopback("10.0.0.1")


def test_token_file_is_0600_and_fresh(tmp_path: Path) -> None:
    path = tmp_path / "run.token"
    t1, used, refusal = E.write_token(path)
    assert used == path and refusal is None
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert E.read_token(path) == t1 and len(t1) >= 32
    os.chmod(path, 0o644)  # left readable by an older version: ours, so rewritten and closed
    t2 = E.write_token(path)[0]
    assert t2 != t1 and E.read_token(path) == t2
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    # Never "-..." (argparse would read `--token -x` as a missing value): hex only.
    tokens = [E.write_token(path)[0] for _ in range(200)]
    assert all(set(t) <= set("0123456789abcdef") for t in tokens)
    assert E.read_token(tmp_path / "missing.token") is None
