"""The control server in-process: subscribe, file transport, limits, TCP authentication."""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import lrwatch
from lrwatch.control.client import ControlClient, ControlError


class Trainer:
    """A real torch loop in a thread, calling mon.step() until stopped."""

    def __init__(self, mon: lrwatch.Monitor, sleep: float = 0.002) -> None:
        torch.manual_seed(0)
        self.model = torch.nn.Linear(4, 1)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.1)
        self.mon = mon.attach(self.opt)
        self.sleep = sleep
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            loss = self.model(torch.randn(8, 4)).pow(2).mean()
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            self.mon.step(loss=loss)
            time.sleep(self.sleep)

    def finish(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        self.mon.close()


@pytest.fixture
def trainer(tmp_path: Path, request) -> Iterator[Trainer]:
    kwargs = getattr(request, "param", {})
    t = Trainer(lrwatch.Monitor(log=tmp_path / "s.jsonl", **kwargs))
    yield t
    t.finish()


def test_subscribe_backlog_then_live(trainer: Trainer) -> None:
    while trainer.mon.status()["step"] < 20:
        time.sleep(0.01)
    client = ControlClient(trainer.mon.endpoint, timeout=30)
    stream = client.subscribe(backlog=5)
    backlog = [next(stream) for _ in range(5)]
    assert all("loss" in r for r in backlog)
    steps = [r["step"] for r in backlog]
    assert steps == list(range(steps[0], steps[0] + 5))
    live = [next(stream) for _ in range(10)]
    assert [r["step"] for r in live] == list(range(steps[-1] + 1, steps[-1] + 11))
    # An LR change shows up in the stream as the run's own lr_change record.
    other = ControlClient(trainer.mon.endpoint, timeout=30)
    ack = other.request("scale_lr", factor=2)
    for record in stream:
        if record.get("kind") == "lr_change":
            assert record["id"] == ack["id"] and record["new"] == [0.2]
            break
    trainer.finish()
    assert [r for r in stream][-1]["kind"] == "end"  # the stream ends with the run
    client.close()
    other.close()


def test_file_transport(tmp_path: Path) -> None:
    trainer = Trainer(lrwatch.Monitor(log=tmp_path / "f.jsonl", control="file"))
    try:
        assert trainer.mon.endpoint == f"file:{tmp_path / 'f.jsonl'}"
        client = ControlClient.from_log(tmp_path / "f.jsonl", timeout=30)
        assert client.endpoint.kind == "file"
        status = client.request("status")
        assert status["ok"] and status["lr"] == [0.1]
        reply = client.request("set_lr", value=0.03, mode="pin")
        assert reply["ok"] and reply["new"] == [pytest.approx(0.03)] and reply["mode"] == "pin"
        bad = client.request("set_lr", value=float("nan"))
        assert bad["error"]["code"] == "bad_value"
        sub = client.request("subscribe")
        assert sub["error"]["code"] == "unsupported"
    finally:
        trainer.finish()
    recs = [json.loads(x) for x in (tmp_path / "f.jsonl").read_text().splitlines()]
    replies = [r for r in recs if r.get("kind") == "reply"]
    assert [r["ok"] for r in replies] == [True, True, False, False]
    change = next(r for r in recs if r.get("kind") == "lr_change")
    after = [r["lr"] for r in recs if "kind" not in r and r["step"] >= change["step"]]
    assert after and all(lr == pytest.approx(0.03) for lr in after)


def test_file_transport_when_the_socket_host_differs(tmp_path: Path) -> None:
    trainer = Trainer(lrwatch.Monitor(log=tmp_path / "h.jsonl"))
    try:
        log = tmp_path / "h.jsonl"
        lines = log.read_text().splitlines()
        head = json.loads(lines[0]) | {"host": "compute-node-17"}
        copy = tmp_path / "copy" / "h.jsonl"  # a login node's view of the same run
        copy.parent.mkdir()
        copy.symlink_to(log)
        fake = tmp_path / "fake.jsonl"
        fake.write_text(json.dumps(head) + "\n")
        assert ControlClient.from_log(copy).endpoint.kind == "unix"
        client = ControlClient.from_log(fake)
        assert client.endpoint.kind == "file"  # the unix socket is on another host
    finally:
        trainer.finish()


@pytest.mark.parametrize("trainer", [{"max_clients": 2}], indirect=True)
def test_limits_half_sent_and_too_many_clients(trainer: Trainer) -> None:
    server = trainer.mon._service.server
    server.limits.partial_timeout = 0.3
    path = trainer.mon.endpoint.removeprefix("unix:")
    a, b, c = (socket.socket(socket.AF_UNIX) for _ in range(3))
    for s in (a, b, c):
        s.settimeout(10)
        s.connect(path)
    assert b"too_many_clients" in c.recv(4096)
    a.sendall(b'{"id": 1, "op": "stat')  # and never finish the line
    reply = json.loads(a.recv(4096))
    assert reply["error"]["code"] == "timeout" and a.recv(10) == b""
    b.sendall(b'{"id": 2, "op": "status"}\n')
    assert json.loads(b.recv(65536))["ok"] is True  # the other client was never disturbed
    for s in (a, b, c):
        s.close()


@pytest.mark.parametrize("trainer", [{"control": "tcp://127.0.0.1:0"}], indirect=True)
def test_tcp_requires_token_on_every_connection(trainer: Trainer, tmp_path: Path) -> None:
    host, port = trainer.mon.endpoint.removeprefix("tcp://").rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(b'{"id": 1, "op": "status"}\n')
    assert json.loads(s.recv(4096))["error"]["code"] == "unauthorized"
    s.close()
    with pytest.raises(ControlError, match="refused"):
        ControlClient(trainer.mon.endpoint, token="nope").request("status")
    token = (tmp_path / "s.token").read_text().strip()
    s = socket.create_connection((host, int(port)), timeout=10)
    s.sendall(json.dumps({"id": 1, "op": "status", "token": token}).encode() + b"\n")
    assert json.loads(s.recv(65536))["ok"] is True  # a token field works as well as hello
    s.close()
    client = ControlClient(trainer.mon.endpoint, token=token)
    hello = client.request("hello")
    assert hello["v"] == 1 and hello["run"] == "s" and hello["server"]["name"] == "lrwatch"
    client.close()


def test_back_to_back_requests_cannot_hold_training(trainer: Trainer) -> None:
    # A client that sends the next change the moment it gets an ack must not keep the
    # training thread applying changes forever: each boundary applies what was queued then.
    client = ControlClient(trainer.mon.endpoint, timeout=30)
    steps = []
    for i in range(12):
        client.request("status")
        reply = client.request("scale_lr", factor=2.0 if i % 2 == 0 else 0.5)
        steps.append(reply["step"])
    client.close()
    assert steps == sorted(set(steps)), steps  # one change per boundary, training moves on


def test_status_shows_the_pinned_lr(trainer: Trainer) -> None:
    client = ControlClient(trainer.mon.endpoint, timeout=30)
    assert client.request("set_lr", value=0.07, mode="pin")["new"] == [pytest.approx(0.07)]
    status = client.request("status")
    assert status["lr"] == [pytest.approx(0.07)] and status["pinned"] == [pytest.approx(0.07)]
    client.close()


@pytest.mark.parametrize("trainer", [{"max_clients": 2}], indirect=True)
def test_idle_sessions_are_dropped_and_replaced_when_full(trainer: Trainer) -> None:
    server = trainer.mon._service.server
    path = trainer.mon.endpoint.removeprefix("unix:")
    a, b = (socket.socket(socket.AF_UNIX) for _ in range(2))
    for s in (a, b):
        s.settimeout(30)
        s.connect(path)
    b.sendall(b'{"id": 1, "op": "status"}\n')  # b was active after a
    assert json.loads(b.recv(65536))["ok"]
    server.limits.evict_idle = 0.0  # a full server may now replace any idle session
    c = ControlClient(trainer.mon.endpoint, timeout=30)
    assert c.request("status")["ok"]  # served: the longest-idle session (a) made room
    dropped = json.loads(a.recv(4096))
    assert dropped["error"]["code"] == "timeout" and a.recv(10) == b""
    server.limits.idle_timeout = 0.2  # and an idle session is closed after idle_timeout
    assert json.loads(b.recv(4096))["error"]["code"] == "timeout" and b.recv(10) == b""
    for s in (a, b):
        s.close()
    c.close()


@pytest.mark.parametrize("trainer", [{"control": "tcp://127.0.0.1:0"}], indirect=True)
def test_handshakes_never_take_session_slots(trainer: Trainer, tmp_path: Path) -> None:
    server = trainer.mon._service.server
    server.limits.max_handshakes = 4
    host, port = trainer.mon.endpoint.removeprefix("tcp://").rsplit(":", 1)
    strangers = [socket.create_connection((host, int(port)), timeout=30) for _ in range(6)]
    # The two oldest were pushed out by the newer ones; the rest wait for their deadline.
    for s in strangers[:2]:
        assert s.recv(10) == b""
    token = (tmp_path / "s.token").read_text().strip()
    owner = ControlClient(trainer.mon.endpoint, token=token, timeout=30)
    assert owner.request("status")["ok"]
    assert server.n_sessions == 1
    server.limits.auth_timeout = 0.0
    for s in strangers[2:]:
        data = s.recv(4096)
        assert data == b"" or json.loads(data)["error"]["code"] == "unauthorized"
        s.close()
    wait = time.monotonic() + 30
    while server.n_clients > 1 and time.monotonic() < wait:
        time.sleep(0.01)
    assert server.n_clients == 1 and owner.request("status")["ok"]
    owner.close()


@pytest.mark.parametrize("trainer", [{"control": "tcp://127.0.0.1:0"}], indirect=True)
def test_an_owner_pushed_out_of_the_handshakes_retries(
    trainer: Trainer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = trainer.mon._service.server
    server.limits.max_handshakes = 2
    host, port = trainer.mon.endpoint.removeprefix("tcp://").rsplit(":", 1)
    opened = ControlClient._open_socket
    strangers: list[socket.socket] = []

    def slow_owner(client: ControlClient) -> socket.socket:
        sock = opened(client)
        if not strangers:  # the first time only: two strangers arrive before our token
            strangers.extend(socket.create_connection((host, int(port))) for _ in range(2))
            readable, _, _ = select.select([sock], [], [], 30)  # the server closes ours
            assert readable and sock.recv(1, socket.MSG_PEEK) == b""
        return sock

    monkeypatch.setattr(ControlClient, "_open_socket", slow_owner)
    token = (tmp_path / "s.token").read_text().strip()
    owner = ControlClient(trainer.mon.endpoint, token=token, timeout=30)
    assert owner.request("status")["ok"]  # its second handshake went through
    assert len(strangers) == 2
    for s in strangers:
        s.close()
    owner.close()
