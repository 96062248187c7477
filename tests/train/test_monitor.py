"""lrwatch.Monitor: the JSONL it writes, crash/signal endings, state, pause, env defaults."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import lrwatch
from lrwatch.control.client import ControlClient
from lrwatch.control.endpoint import private_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))
from ctlhelp import env, header, metric_steps, records, start_trainee, wait_for


def make_opt(groups: int = 1) -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Sequential(*[torch.nn.Linear(4, 4) for _ in range(groups)])
    params = [{"params": m.parameters(), "lr": 0.1 * (i + 1)} for i, m in enumerate(model)]
    return model, torch.optim.SGD(params, lr=0.1)


def train_step(model: torch.nn.Module, opt: torch.optim.Optimizer) -> torch.Tensor:
    loss = model(torch.randn(8, 4)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    return loss


def test_records_written(tmp_path: Path) -> None:
    model, opt = make_opt(groups=2)
    log = tmp_path / "exp.jsonl"
    with lrwatch.Monitor(opt, log=log, run="exp") as mon:
        assert mon.endpoint == f"unix:{tmp_path / 'exp.sock'}"
        for _ in range(3):
            loss = train_step(model, opt)
            mon.step(loss=loss, grad_norm=torch.tensor(2.5), note="not a number")
        mon.log(val_loss=torch.tensor(0.75))
    recs = records(log)
    head = recs[0]
    assert {k: head[k] for k in ("kind", "v", "run", "control", "optimizer", "lr")} == {
        "kind": "run",
        "v": 1,
        "run": "exp",
        "control": mon.endpoint,
        "optimizer": "SGD",
        "lr": [0.1, 0.2],
    }
    assert head["pid"] == os.getpid() and head["world_size"] == 1 and head["host"]
    steps = [r for r in recs[1:-1]]
    assert [r["step"] for r in steps] == [1, 2, 3, 3]
    assert set(steps[0]) == {"step", "t", "loss", "grad_norm", "lr", "lr/pg1"}
    assert steps[0]["grad_norm"] == 2.5 and steps[0]["lr"] == 0.1 and steps[0]["lr/pg1"] == 0.2
    assert steps[3] == {"step": 3, "t": steps[3]["t"], "val_loss": 0.75}  # log(): no lr added
    assert recs[-1]["kind"] == "end" and recs[-1]["status"] == "finished"
    assert not (tmp_path / "exp.sock").exists()  # removed on close: no stale socket left


def test_reader_sees_records_without_further_calls(tmp_path: Path) -> None:
    model, opt = make_opt()
    log = tmp_path / "r.jsonl"
    mon = lrwatch.Monitor(opt, log=log, control="none")
    mon.step(loss=train_step(model, opt))
    # Training now "blocks": no more Monitor calls. The background flush delivers the record.
    wait_for(lambda: metric_steps(log) == 1, timeout=10, what="the background flush")
    mon.close()


def test_exception_in_context_records_crash(tmp_path: Path) -> None:
    model, opt = make_opt()
    log = tmp_path / "c.jsonl"
    with pytest.raises(ValueError), lrwatch.Monitor(opt, log=log, control="none") as mon:
        mon.step(loss=train_step(model, opt))
        raise ValueError("boom")
    assert records(log)[-1]["status"] == "crashed"


def test_crash_and_signals_in_a_real_process(tmp_path: Path) -> None:
    crash = start_trainee(tmp_path, "crash", 100, "--crash-at", "30", stopped=True)
    term = start_trainee(tmp_path, "term", 10, "--sleep", "0.01")
    kill = start_trainee(tmp_path, "kill", 10, "--sleep", "0.0")
    try:
        assert crash.proc.wait(timeout=120) != 0
        for t in (term, kill):
            header(t.log)
            wait_for(lambda t=t: metric_steps(t.log) >= 5, what="steps")
        term.proc.send_signal(signal.SIGTERM)
        kill.proc.kill()
        assert term.proc.wait(timeout=60) == -signal.SIGTERM  # the default action still runs
        kill.proc.wait(timeout=60)
    finally:
        for t in (crash, term, kill):
            t.kill()
    crashed = records(crash.log)
    assert crashed[-1]["kind"] == "end" and crashed[-1]["status"] == "crashed"
    assert crashed[-2]["step"] == 29
    assert records(term.log)[-1]["status"] == "crashed"
    # SIGKILL: no end record, but every line is whole JSON (records() parses each line).
    text = kill.log.read_text()
    assert text.endswith("\n") and all(json.loads(line) for line in text.splitlines())


def test_state_dict_round_trip_keeps_changes(tmp_path: Path) -> None:
    model, opt = make_opt()
    mon = lrwatch.Monitor(opt, log=tmp_path / "a.jsonl")
    results: list[dict] = []
    client = ControlClient(mon.endpoint, timeout=30)
    asker = threading.Thread(target=lambda: results.append(client.request("scale_lr", factor=0.5)))
    asker.start()
    while asker.is_alive():
        mon.step(loss=train_step(model, opt))
        time.sleep(0.001)
    client.close()
    state = mon.state_dict()
    assert json.loads(json.dumps(state)) == state  # plain data, checkpoint-friendly
    mon.close()
    assert results[0]["ok"] and state["history"][0]["new"] == [0.05]

    model2, opt2 = make_opt()
    opt2.load_state_dict(opt.state_dict())
    mon2 = lrwatch.Monitor(opt2, log=tmp_path / "b.jsonl")
    mon2.load_state_dict(state)
    assert mon2.state_dict()["step"] == state["step"] and mon2.history() == state["history"]
    mon2.step(loss=train_step(model2, opt2))
    mon2.close()
    assert records(tmp_path / "b.jsonl")[1]["step"] == state["step"] + 1
    assert opt2.param_groups[0]["lr"] == pytest.approx(0.05)


def test_pause_blocks_at_boundary_and_answers_meanwhile(tmp_path: Path) -> None:
    model, opt = make_opt()
    mon = lrwatch.Monitor(opt, log=tmp_path / "p.jsonl")
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            mon.step(loss=train_step(model, opt))
            time.sleep(0.001)

    trainer = threading.Thread(target=loop)
    trainer.start()
    try:
        client = ControlClient(mon.endpoint, timeout=30)
        reply = client.request("pause")
        assert reply["ok"] and reply["paused"] and mon.paused
        at = reply["step"]
        time.sleep(0.2)
        status = client.request("status")
        assert status["paused"] and status["step"] == at  # blocked at the boundary
        change = client.request("set_lr", value=0.02)  # applied while paused
        assert change["ok"] and change["step"] == at + 1 and change["new"] == [0.02]
        assert client.request("resume")["was_paused"] is True
        wait_for(lambda: client.request("status")["step"] > at + 2, what="training resumed")
        client.close()
    finally:
        stop.set()
        mon._paused = False  # unblock the trainer even if an assertion failed
        trainer.join(timeout=30)
        mon.close()
    kinds = [r.get("kind") for r in records(tmp_path / "p.jsonl")]
    assert kinds.index("pause") < kinds.index("lr_change") < kinds.index("resume")


def test_env_defaults(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LRWATCH_LOG", raising=False)
    monkeypatch.setenv("LRWATCH_CONTROL", "none")
    mon = lrwatch.Monitor(run="default-run")
    mon.step(loss=1.0)
    mon.close()
    assert mon.log_path == Path("runs/default-run.jsonl") and mon.endpoint is None
    assert records(tmp_path / "runs" / "default-run.jsonl")[1]["loss"] == 1.0
    monkeypatch.setenv("LRWATCH_LOG", str(tmp_path / "env.jsonl"))
    monkeypatch.setenv("LRWATCH_CONTROL", "tcp://127.0.0.1:0")
    mon = lrwatch.Monitor()
    mon.step(loss=2.0)
    assert (tmp_path / "env.token").stat().st_mode & 0o777 == 0o600
    mon.close()
    head = records(tmp_path / "env.jsonl")[0]
    assert head["run"] == "env" and head["control"].startswith("tcp://127.0.0.1:")
    assert head["token"] == str(tmp_path / "env.token")
    assert not (tmp_path / "env.token").exists()  # a token outliving its run is a leftover


def test_attach_late(tmp_path: Path) -> None:
    mon = lrwatch.Monitor(log=tmp_path / "late.jsonl", control="none")
    model, opt = make_opt()
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    mon.attach(opt)
    mon.attach(opt, sched)  # HF creates the scheduler after the optimizer
    mon.step(loss=train_step(model, opt))
    mon.close()
    head = records(tmp_path / "late.jsonl")[0]
    assert head["optimizer"] == "SGD" and head["lr"] == [0.1]


def test_subprocess_env_for_lrwatch_run(tmp_path: Path) -> None:
    code = "import lrwatch; m = lrwatch.Monitor(); m.step(loss=3.0); m.close(); print(m.log_path)"
    e = env() | {"LRWATCH_LOG": str(tmp_path / "x.jsonl"), "LRWATCH_CONTROL": "file"}
    out = subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    head = records(tmp_path / "x.jsonl")[0]
    assert head["control"] == f"file:{tmp_path / 'x.jsonl'}" and head["cmd"].endswith("x.cmd")


def dist_worker(rank: int, init: str, log: str, stop: str, out: str) -> None:
    """One gloo rank of a DDP run with a Monitor (the test below runs two)."""
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=2)
    torch.manual_seed(0)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.99**s)
    mon = lrwatch.Monitor(opt, sched, log=log)
    lrs: list[float] = []
    while True:
        # Stopping is collective too: rank 0 decides and tells the other rank.
        flag = torch.tensor([float(rank == 0 and os.path.exists(stop) and len(lrs) >= 10)])
        dist.broadcast(flag, 0)
        if flag.item():
            break
        model(torch.randn(8, 4)).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
        sched.step()
        mon.step()
        lrs.append(opt.param_groups[0]["lr"])
        time.sleep(0.005)
    mon.close()
    Path(out).write_text(json.dumps({"lrs": lrs, "endpoint": mon.endpoint}))
    # Leave together: a rank tearing its gloo group down while the other still talks to it
    # can abort that process (SIGABRT, "terminate called without an active exception").
    dist.barrier()
    dist.destroy_process_group()


def test_two_gloo_ranks_change_at_the_same_step(tmp_path: Path) -> None:
    e = env() | {"GLOO_SOCKET_IFNAME": "lo"}
    log, stop = tmp_path / "ddp.jsonl", tmp_path / "stop"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                str(r),
                *map(str, (tmp_path / "init", log, stop)),
                str(tmp_path / f"r{r}.json"),
            ],
            env=e,
        )
        for r in (0, 1)
    ]
    try:
        endpoint = header(log)["control"]
        wait_for(lambda: metric_steps(log) >= 5, what="ddp steps")
        reply = ControlClient(endpoint, timeout=60).request("scale_lr", factor=2.0)
        assert reply["ok"], reply
        wait_for(lambda: metric_steps(log) > reply["step"] + 2, what="steps after the change")
        stop.touch()
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    r0, r1 = (json.loads((tmp_path / f"r{r}.json").read_text()) for r in (0, 1))
    assert r0["lrs"] == r1["lrs"]  # the same LR on both ranks at every step
    assert r0["endpoint"] == endpoint and r1["endpoint"] is None  # rank 1 opened no socket
    assert sorted(p.name for p in tmp_path.glob("ddp*")) == ["ddp.cmd", "ddp.jsonl"]
    at = reply["step"]
    metrics = [r for r in records(log) if "kind" not in r]
    for r in metrics:  # re-anchored: the LambdaLR schedule continues, doubled, from `at` on
        expected = 0.1 * 0.99 ** (r["step"] - 1) * (2.0 if r["step"] >= at else 1.0)
        assert r["lr"] == pytest.approx(expected, rel=1e-9)
    assert metrics[-1]["step"] > at


if __name__ == "__main__":
    dist_worker(int(sys.argv[1]), *sys.argv[2:6])


def test_a_file_in_the_sockets_place_moves_the_socket_to_the_private_dir(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "busy.sock").write_text("a regular file where the socket would go")
    mon = lrwatch.Monitor(log=tmp_path / "busy.jsonl", control="unix")
    mon.step(loss=1.0)  # without an optimizer the Monitor starts at its first record
    assert mon.endpoint.startswith(f"unix:{private_dir()}")
    assert ControlClient.from_log(tmp_path / "busy.jsonl").request("status")["ok"]
    mon.close()
    assert "not a socket" in capfd.readouterr().err
    assert (tmp_path / "busy.sock").read_text().startswith("a regular file")
    warning = next(r for r in records(tmp_path / "busy.jsonl") if r.get("kind") == "warning")
    assert warning["code"] == "socket_moved"


def test_loop_that_assigns_lr_each_step(tmp_path: Path) -> None:
    # nanoGPT style: the loop writes get_lr(it) into every group before each step. A change
    # becomes a multiplier on top, and the logged LR is the one the step really used.
    model, opt = make_opt()
    mon = lrwatch.Monitor(opt, log=tmp_path / "nano.jsonl")

    def get_lr(it: int) -> float:
        return 0.1 * (it + 1) / 50

    client = ControlClient(mon.endpoint, timeout=30)
    replies: list[dict] = []
    for it in range(40):
        for g in opt.param_groups:
            g["lr"] = get_lr(it)
        train_step(model, opt)
        mon.step(step=it)
        if it == 15:
            asker = threading.Thread(
                target=lambda: replies.append(client.request("scale_lr", factor=0.5))
            )
            asker.start()
            while not mon._boundary.cmds:
                time.sleep(0.001)
    asker.join()
    client.close()
    mon.close()
    at = replies[0]["step"]
    assert at == 17  # queued after boundary 15, applied at boundary 16: from step 17 on
    for r in (r for r in records(tmp_path / "nano.jsonl") if "kind" not in r):
        assert r["lr"] == pytest.approx(get_lr(r["step"]) * (0.5 if r["step"] >= at else 1.0))
