"""`lrwatch ctl` end to end: a real torch training subprocess, ctl from another process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))

from ctlhelp import ctl, env, header, metric_steps, records, start_trainee, wait_for


@pytest.fixture
def live(tmp_path: Path):
    t = start_trainee(tmp_path, "exp1", 20)
    header(t.log)
    wait_for(lambda: metric_steps(t.log) >= 3, what="first steps")
    yield t
    t.kill()


def test_set_lr_applies_from_reported_step(live) -> None:
    res = ctl(str(live.log), "set-lr", "0.02", "--json")
    assert res.returncode == 0, res.stderr
    reply = json.loads(res.stdout)
    assert reply["ok"] and reply["old"] == [0.05] and reply["new"] == [pytest.approx(0.02)]
    step = reply["step"]
    wait_for(lambda: metric_steps(live.log) >= step + 3, what="steps after the change")
    assert live.stop() == 0
    recs = records(live.log)
    change = [r for r in recs if r.get("kind") == "lr_change"]
    assert len(change) == 1 and change[0]["step"] == step
    metrics = [r for r in recs if "kind" not in r]
    before = [r["lr"] for r in metrics if r["step"] < step]
    after = [r["lr"] for r in metrics if r["step"] >= step]
    assert before and set(before) == {0.05}
    assert after and all(lr == pytest.approx(0.02) for lr in after)
    assert recs[-1] == {**recs[-1], "kind": "end", "status": "finished"}


def test_human_output_status_history_and_refusal(live) -> None:
    res = ctl(str(live.log), "scale-lr", "0.5")
    assert res.returncode == 0, res.stderr
    assert "scale_lr applied from step" in res.stdout and "[0.05] -> [0.025]" in res.stdout
    res = ctl(str(live.log), "status")
    assert res.returncode == 0 and "lr per group: [0.025]" in res.stdout
    res = ctl(str(live.log), "history")
    assert res.returncode == 0 and " scale " in res.stdout
    res = ctl(str(live.log), "set-lr", "-1")  # argparse accepts it; the run refuses it
    assert res.returncode == 1 and "bad_value" in res.stderr
    res = ctl(str(live.log), "set-lr", "1e9")
    assert res.returncode == 1 and "ceiling" in res.stderr
    res = ctl(str(live.log), "set-lr", "0.1", "--group", "3")
    assert res.returncode == 1 and "out_of_range" in res.stderr
    res = ctl(str(live.log), "set-lr", "0.01", "--pin")
    assert res.returncode == 0 and "(pin)" in res.stdout and "-> [0.01]" in res.stdout
    res = ctl(str(live.log), "unpin", "--json")  # back to the (rescaled) schedule
    assert res.returncode == 0 and json.loads(res.stdout)["new"] == [0.025]
    # Nothing refused changed anything: only the three accepted changes were recorded.
    assert live.stop() == 0
    news = [r["new"] for r in records(live.log) if r.get("kind") == "lr_change"]
    assert news == [[0.025], [0.01], [0.025]]


def test_socket_target_pause_resume(live) -> None:
    sock = header(live.log)["control"].removeprefix("unix:")
    res = ctl(sock, "pause", "--json")
    assert res.returncode == 0, res.stderr
    paused_at = json.loads(res.stdout)["step"]
    status = json.loads(ctl(f"unix:{sock}", "status", "--json").stdout)
    assert status["paused"] is True and status["step"] == paused_at
    assert metric_steps(live.log) == paused_at  # blocked: no step after the pause
    res = ctl(sock, "resume")
    assert res.returncode == 0 and "running" in res.stdout
    wait_for(lambda: metric_steps(live.log) > paused_at + 2, what="steps after resume")
    kinds = [r.get("kind") for r in records(live.log)]
    assert kinds.index("pause") < kinds.index("resume")
    # The same run through the command file (what a login node without the socket uses).
    res = ctl(f"file:{live.log}", "status", "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["paused"] is False
    assert any(r.get("kind") == "reply" for r in records(live.log))


def test_unreachable_and_usage_exit_2(tmp_path: Path) -> None:
    res = ctl(str(tmp_path / "nope.jsonl"), "status")
    assert res.returncode == 2 and "no such log or socket" in res.stderr
    res = ctl("tcp://127.0.0.1:9", "status")
    assert res.returncode == 2 and "token" in res.stderr
    dead = tmp_path / "dead.jsonl"
    dead.write_text(json.dumps({"kind": "run", "control": f"unix:{tmp_path}/d.sock"}) + "\n")
    res = ctl(str(dead), "status")
    assert res.returncode == 2 and "still running" in res.stderr
    res = ctl(str(dead), "frobnicate")
    assert res.returncode == 2


def test_tcp_with_token_file_and_tail(tmp_path: Path) -> None:
    t = start_trainee(tmp_path, "tcp", 20, "--control", "tcp://127.0.0.1:0")
    try:
        endpoint = header(t.log)["control"]
        assert endpoint.startswith("tcp://127.0.0.1:")
        token_file = tmp_path / "tcp.token"
        assert token_file.stat().st_mode & 0o777 == 0o600
        res = ctl(endpoint, "status")  # no token: refused before connecting
        assert res.returncode == 2 and "token" in res.stderr
        res = ctl(endpoint, "--token", "wrong", "status")
        assert res.returncode == 2 and "refused" in res.stderr
        token = token_file.read_text().strip()
        res = ctl(endpoint, "--token", token, "status", "--json")
        assert res.returncode == 0 and json.loads(res.stdout)["ok"]
        res = ctl(str(t.log), "scale-lr", "2")  # the log finds endpoint and token itself
        assert res.returncode == 0, res.stderr
        tail = subprocess.Popen(
            [sys.executable, "-m", "lrwatch", "ctl", str(t.log), "tail", "-n", "5", "--json"],
            env=env(),
            stdout=subprocess.PIPE,
            text=True,
        )
        assert tail.stdout is not None
        first = tail.stdout.readline()  # the backlog arrives: subscribed while still running
        t.stop()
        out = tail.stdout.read()  # not communicate(): it would skip readline's buffer
        tail.wait(timeout=60)
        streamed = [json.loads(line) for line in (first + out).splitlines()]
        assert tail.returncode == 0 and len(streamed) > 5
        assert streamed[-1]["kind"] == "end"  # backlog, then live until the run ended
        logged = records(t.log)
        assert streamed == logged[-len(streamed) :]
        res = ctl(str(t.log), "status")
        assert res.returncode == 2 and "has ended (finished" in res.stderr
    finally:
        t.kill()
