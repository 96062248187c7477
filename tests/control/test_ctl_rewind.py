"""``rewind`` over a real socket to a real separate training process, and hostile input to the
new ops (``rewind``, ``schedule``, ``note``): error replies, training bitwise unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
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

from lrwatch.control.client import ControlClient


def _ask(sock: str, line: bytes) -> dict[str, Any]:
    """Send one raw request line on a fresh connection; its reply."""
    with connect(sock, timeout=60) as s:
        s.sendall(line + b"\n")
        return read_reply(s)


def test_rewind_over_the_socket_restores_and_records(tmp_path: Path) -> None:
    run = start_trainee(tmp_path, "run", 30, "--snapshot-every", "10")
    try:
        client = ControlClient(header(run.log)["control"])
        wait_for(lambda: metric_steps(run.log) >= 25, what="25 steps")
        status = client.request("status")
        # Every 10 steps, the newest 2 kept (the run goes on past 30 until it is stopped:
        # under load the status may come from step 40 or later).
        assert status["snapshots"] == list(range(10, status["step"] + 1, 10))[-2:]
        reply = client.request(
            "rewind", steps_back=4, scale_lr=0.1, by="autopilot", finding="divergence",
            reason="loss spiked 40x", timeout=60,
        )  # fmt: skip
        assert reply["ok"], reply
        frm, to = reply["step"], reply["to_step"]
        assert to == (frm - 4) // 10 * 10 and reply["source"] == "snapshot"
        assert reply["old"] == [0.05] and reply["new"] == [pytest.approx(0.005, rel=1e-12)]
        assert (reply["factor"], reply["mode"]) == (0.1, "rescale")
        assert (reply["by"], reply["via"], reply["finding"]) == ("autopilot", "unix", "divergence")
        assert client.request("status")["snapshots"][-1] == to
        wait_for(lambda: len(records(run.log)) > frm + 10, what="steps after the rewind")
        client.close()
        assert run.stop() == 0
    finally:
        run.kill()
    recs = records(run.log)
    i = next(i for i, r in enumerate(recs) if r.get("kind") == "rewind")
    rec = recs[i]
    assert rec == {"kind": "rewind", **{k: v for k, v in reply.items() if k not in ("ok", "op")}}
    before = [r for r in recs[:i] if "kind" not in r]
    after = [r for r in recs[i:] if "kind" not in r]
    assert before[-1]["step"] == frm and after[0]["step"] == to + 1
    assert {r["lr"] for r in before} == {0.05} and {r["lr"] for r in after} == {reply["new"][0]}


#: Requests that must be refused. Each is sent as a raw line (NaN and huge ints included).
HOSTILE = [
    # rewind: wrong types, both / neither, huge, NaN, negative, future, no snapshot yet
    b'{"id":1,"op":"rewind","steps_back":"5"}',
    b'{"id":2,"op":"rewind","to_step":3.5}',
    b'{"id":3,"op":"rewind","steps_back":true}',
    b'{"id":4,"op":"rewind","steps_back":2,"to_step":1}',
    b'{"id":5,"op":"rewind"}',
    b'{"id":6,"op":"rewind","steps_back":' + b"9" * 400 + b"}",
    b'{"id":7,"op":"rewind","steps_back":18446744073709551616}',
    b'{"id":8,"op":"rewind","steps_back":1,"scale_lr":NaN}',
    b'{"id":9,"op":"rewind","steps_back":-3}',
    b'{"id":10,"op":"rewind","to_step":-1}',
    b'{"id":11,"op":"rewind","to_step":1000000000}',
    b'{"id":12,"op":"rewind","steps_back":1000000}',
    b'{"id":13,"op":"rewind","steps_back":1}',
    b'{"id":14,"op":"rewind","steps_back":1,"scale_lr":0.1,"mode":"bogus"}',
    b'{"id":15,"op":"rewind","steps_back":1,"scale_lr":1e9}',
    b'{"id":16,"op":"rewind","steps_back":1,"scale_lr":Infinity}',
    b'{"id":17,"op":"rewind","steps_back":1,"by":"' + b"a" * 33 + b'"}',
    b'{"id":18,"op":"rewind","steps_back":1,"by":"rm -rf /"}',
    b'{"id":19,"op":"rewind","steps_back":1,"reason":"' + b"x" * 301 + b'"}',
    b'{"id":20,"op":"rewind","steps_back":1,"finding":"a\\nb\\u0007"}',
    b'{"id":21,"op":"rewind","steps_back":1,"finding":17}',
    # schedule: wrong types, out of range
    b'{"id":30,"op":"schedule","horizon":"all"}',
    b'{"id":31,"op":"schedule","horizon":0}',
    b'{"id":32,"op":"schedule","horizon":' + b"9" * 50 + b"}",
    b'{"id":33,"op":"schedule","points":1}',
    b'{"id":34,"op":"schedule","points":NaN}',
    b'{"id":35,"op":"schedule","points":-4}',
    # note: missing, empty, long, control characters, wrong type, bad by
    b'{"id":40,"op":"note"}',
    b'{"id":41,"op":"note","text":"   "}',
    b'{"id":42,"op":"note","text":"' + b"n" * 1001 + b'"}',
    b'{"id":43,"op":"note","text":"bell\\u0007"}',
    b'{"id":44,"op":"note","text":["x"]}',
    b'{"id":45,"op":"note","text":"ok","by":"<script>"}',
]


def test_hostile_new_ops_leave_training_bitwise_identical(tmp_path: Path) -> None:
    # Snapshots on but never reached (every 100000 steps): a well-formed rewind is refused.
    flags = ("--snapshot-every", "100000", "--save-params")
    run = start_trainee(tmp_path, "run", 20, *flags, str(tmp_path / "run.pt"))
    try:
        sock = header(run.log)["control"].removeprefix("unix:")
        client = ControlClient(f"unix:{sock}")
        half = len(HOSTILE) // 2
        replies = [_ask(sock, line) for line in HOSTILE[:half]]  # while it trains
        wait_for(lambda: metric_steps(run.log) >= 20, what="20 steps")
        paused = client.request("pause", timeout=60)
        assert paused["ok"]
        replies += [_ask(sock, line) for line in HOSTILE[half:]]  # answered while paused
        steps = client.request("status")["step"]
        assert steps == paused["step"]
        run.stop_file.touch()  # it stops at the boundary it is paused at
        assert client.request("resume", timeout=60)["ok"]
        client.close()
        assert run.proc.wait(timeout=120) == 0
    finally:
        run.kill()
    for line, reply in zip(HOSTILE, replies, strict=True):
        assert reply["ok"] is False, (line[:80], reply)
        assert (
            reply["id"] == json.loads(line.replace(b"NaN", b"0").replace(b"Infinity", b"0"))["id"]
        )
    codes = {r["id"]: r["error"]["code"] for r in replies}
    assert codes[11] == codes[12] == "out_of_range"  # the future; before step 0
    assert codes[13] == "refused"  # no snapshot yet
    twin = start_trainee(tmp_path, "twin", steps, *flags, str(tmp_path / "twin.pt"), stopped=True)
    try:
        assert twin.proc.wait(timeout=120) == 0
    finally:
        twin.kill()
    ours, theirs = torch.load(tmp_path / "run.pt"), torch.load(tmp_path / "twin.pt")
    for key, value in theirs["model"].items():
        assert torch.equal(ours["model"][key], value), key
    momentum = [s["momentum_buffer"] for s in theirs["opt"]["state"].values()]
    assert all(
        torch.equal(s["momentum_buffer"], m)
        for s, m in zip(ours["opt"]["state"].values(), momentum, strict=True)
    )
    assert losses(run.log) == losses(twin.log)  # bitwise: repr of the same doubles
    kinds = {r.get("kind") for r in records(run.log)}
    assert not kinds & {"rewind", "lr_change", "note"}
