"""Another local user against a real training process: prepared files, planted links, a flood
of tokenless connections, and a number too large for a float. The run obeys only its owner,
writes only into files it owns, and always answers the owner."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from ctlhelp import ctl, env, header, metric_steps, records, start_trainee, wait_for

from lrwatch.control.client import ControlClient

EVIL = '{"id": "evil", "op": "set_lr", "value": 0.9}'


@pytest.fixture
def shared() -> Iterator[Path]:
    """A directory every user may write to, sticky like /tmp (pytest's tmp_path is private)."""
    path = Path(tempfile.mkdtemp(prefix="lrw-shared-"))
    path.chmod(0o1777)
    yield path
    subprocess.run(["rm", "-rf", str(path)], check=False)


def as_stranger(script: str, cwd: Path) -> None:
    """Run shell ``script`` as another user (nobody) when we can switch users (root), else
    as ourselves: then only the files' modes make them a stranger's."""
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    cmd = [*(prefix if os.geteuid() == 0 else []), "sh", "-c", script]
    subprocess.run(cmd, cwd=cwd, check=True, timeout=60)


def _file_reply(log: Path, req_id: str) -> dict | None:
    return next((r for r in records(log) if r.get("id") == req_id), None)


PLANTS = {
    # what the stranger prepares -> what the run says about it on stderr
    "log, command file and token": (
        "touch exp.jsonl exp.cmd exp.token && chmod 666 exp.*",
        ["exp.jsonl ", "not writing there"],
    ),
    "command file and token": (
        "touch exp.cmd exp.token && chmod 666 exp.*",
        ["exp.cmd ", "not obeying it", "exp.token ", "not using it"],
    ),
    "symbolic links": (
        "ln -s {precious} exp.jsonl && ln -s /dev/null exp.cmd && ln -s /dev/null exp.token",
        ["exp.jsonl is a symbolic link", "not writing there"],
    ),
}


def _own_log(shared: Path) -> Path | None:
    """The log the run really writes: the one that starts with a run header."""
    for path in shared.glob("exp*.jsonl"):
        if not path.is_symlink() and path.stat().st_size:
            return path
    return None


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_files_a_stranger_prepared_are_never_obeyed_or_written(
    shared: Path, tmp_path: Path, plant: str
) -> None:
    precious = tmp_path / "precious.txt"  # the owner's file a link would make us append to
    precious.write_text("keep me\n")
    script, said = PLANTS[plant]
    as_stranger(script.format(precious=precious), shared)
    run = start_trainee(
        tmp_path, "exp", 20, "--control", "tcp://127.0.0.1:0,unix", log=shared / "exp.jsonl"
    )
    try:
        real = wait_for(lambda: _own_log(shared), what="the run's own log")
        head = header(real)
        cmd, token = Path(head["cmd"]), Path(head.get("token") or real.with_suffix(".token"))
        assert cmd.parent == shared and cmd.name != "exp.cmd" and token.name != "exp.token"
        assert cmd.stat().st_mode & 0o777 == token.stat().st_mode & 0o777 == 0o600
        if "symbolic" not in plant:
            as_stranger(f"echo '{EVIL}' >> exp.cmd", shared)
        # The owner's probe goes to the command file the header names and is answered; the
        # stranger's request, written before it, was never read.
        with open(cmd, "a") as f:
            f.write('{"id": "probe", "op": "status"}\n')
        assert wait_for(lambda: _file_reply(real, "probe"), what="the probe's reply")["ok"]
        res = ctl(str(real), "status")  # TCP, with the token from the header's token file
        assert res.returncode == 0, res.stderr
        assert run.stop() == 0
    finally:
        run.kill()
    err = run.proc.stderr.read().decode()
    assert all(text in err for text in said), err
    assert not [r for r in records(real) if r.get("kind") == "lr_change"]
    assert precious.read_text() == "keep me\n"
    if plant.startswith("log"):
        assert (shared / "exp.jsonl").stat().st_size == 0  # nothing of ours in their file


FLOOD = r"""
import selectors, socket, sys, pathlib
host, port, n, ready = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), pathlib.Path(sys.argv[4])
sel = selectors.DefaultSelector()
def one():
    s = socket.create_connection((host, port))
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ)
for _ in range(n):
    one()
ready.touch()
while True:  # hold every connection; whenever the server drops one, open another
    for key, _ in sel.select():
        try:
            data = key.fileobj.recv(4096)
        except OSError:
            data = b""
        if not data:
            sel.unregister(key.fileobj)
            key.fileobj.close()
            one()
"""


def test_a_flood_of_tokenless_connections_never_locks_the_owner_out(tmp_path: Path) -> None:
    run = start_trainee(tmp_path, "fl", 20, "--control", "tcp://127.0.0.1:0,unix")
    flood = None
    try:
        head = header(run.log)
        host, port = head["control"].removeprefix("tcp://").rsplit(":", 1)
        ready = tmp_path / "flood.ready"
        script = [sys.executable, "-c", FLOOD, host, port, "200", str(ready)]
        flood = subprocess.Popen(script, env=env())
        wait_for(ready.exists, what="200 tokenless connections held open")
        token = Path(head.get("token") or tmp_path / "fl.token").read_text().strip()
        for _ in range(3):  # the owner, over every way in, each time
            for target, extra in (
                (str(tmp_path / "fl.sock"), []),
                (head["control"], ["--token", token]),
                (str(run.log), []),
            ):
                res = ctl(*extra, target, "status", "--json")
                assert res.returncode == 0, (target, res.stderr)
                assert json.loads(res.stdout)["ok"]
        assert flood.poll() is None  # the flood was still going all along
        assert run.stop() == 0
    finally:
        if flood is not None:
            flood.kill()
        run.kill()


def _huge() -> str:
    return "1" + "0" * 400


def test_an_integer_too_large_for_a_float_gets_bad_value_and_training_goes_on(
    tmp_path: Path,
) -> None:
    run = start_trainee(tmp_path, "big", 20)
    try:
        head = header(run.log)
        with open(head["cmd"], "a") as f:  # the command file: read on the training thread
            f.write(f'{{"id": 1, "op": "set_lr", "value": {_huge()}}}\n')
            f.write(f'{{"id": 2, "op": "scale_lr", "factor": -{_huge()}}}\n')
        one = wait_for(lambda: _file_reply(run.log, 1), what="the reply to the huge set_lr")
        two = wait_for(lambda: _file_reply(run.log, 2), what="the reply to the huge scale_lr")
        assert one["error"]["code"] == two["error"]["code"] == "bad_value"
        sock = socket.socket(socket.AF_UNIX)  # the socket: answered, connection kept
        sock.settimeout(30)
        sock.connect(head["control"].removeprefix("unix:"))
        sock.sendall(f'{{"id": 3, "op": "set_lr", "value": {_huge()}}}\n'.encode())
        sock.sendall(b'{"id": 4, "op": "status"}\n')
        replies = b""
        while replies.count(b"\n") < 2:
            replies += sock.recv(65536)
        three, four = (json.loads(line) for line in replies.splitlines())
        assert three["error"]["code"] == "bad_value" and four["ok"] and four["lr"] == [0.05]
        sock.close()
        steps = metric_steps(run.log)
        wait_for(lambda: metric_steps(run.log) > steps + 10, what="training after the requests")
        assert ControlClient.from_log(run.log).request("status")["ok"]
        assert run.stop() == 0
    finally:
        run.kill()
