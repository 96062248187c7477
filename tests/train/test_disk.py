"""A disk that fails under a real training process: full, read-only, a log deleted mid-run.

The run must start, keep training and stay controllable whatever the disk does; its log holds
only whole lines, says how many records were lost, and resumes when the disk allows.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "control"))
from ctlhelp import (
    fill,
    header,
    metric_steps,
    ordinary_user,
    records,
    small_filesystem,
    start_trainee,
    wait_for,
)

from lrwatch.control import endpoint as E
from lrwatch.control.client import ControlClient


def _kinds(log: Path, kind: str) -> list[dict]:
    return [r for r in records(log) if r.get("kind") == kind]


def _stepped(client: ControlClient, beyond: int) -> bool:
    return client.request("status", timeout=30)["step"] > beyond


def test_a_disk_that_fills_mid_run_loses_whole_records_and_resumes(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk", "4m") as disk:
        run = start_trainee(tmp_path, "full", 20, log=disk / "full.jsonl")
        try:
            client = ControlClient(header(run.log)["control"], timeout=30)
            wait_for(lambda: metric_steps(run.log) >= 20, what="20 steps on disk")
            filler = fill(disk)
            full_at = client.request("status")["step"]
            # Training goes on with nothing written, and the socket still answers.
            wait_for(lambda: _stepped(client, full_at + 100), what="steps on a full disk")
            assert client.request("scale_lr", factor=0.5)["ok"]
            filler.unlink()
            gap = wait_for(lambda: _kinds(run.log, "dropped"), what="the 'dropped' record")
            written = metric_steps(run.log)
            wait_for(lambda: metric_steps(run.log) > written + 20, what="records after the gap")
            client.close()
            assert run.stop() == 0
        finally:
            run.kill()
        err = run.proc.stderr.read().decode()
        recs = records(run.log)  # json.loads of every line: no half line anywhere
    assert len(gap) == 1 and gap[0]["records"] > 0 and "No space left" in gap[0]["reason"]
    assert err.count("No space left on device") == 1  # reported once, not per batch
    steps = [r["step"] for r in recs if "kind" not in r]
    missing = steps[-1] - len(steps)
    assert steps == sorted(steps) and 0 < missing <= gap[0]["records"]
    assert recs[-1]["kind"] == "end" and recs[-1]["status"] == "finished"
    assert recs[-1]["dropped"] == gap[0]["records"]
    assert steps[-1] > full_at + 100


def test_a_disk_full_at_start_still_trains_and_writes_the_header_later(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk", "2m") as disk:
        filler = fill(disk)
        run = start_trainee(tmp_path, "start", 20, log=disk / "start.jsonl")
        try:
            sock = disk / "start.sock"
            wait_for(sock.exists, what="the control socket")
            client = ControlClient(f"unix:{sock}", timeout=30)
            wait_for(lambda: _stepped(client, 50), what="50 steps with the log unwritable")
            assert metric_steps(run.log) == 0
            filler.unlink()
            head = header(run.log)  # written first once there is room
            assert records(run.log)[0]["kind"] == "run" and head["control"] == f"unix:{sock}"
            assert ControlClient.from_log(run.log).request("status")["ok"]
            client.close()
            assert run.stop() == 0
        finally:
            run.kill()
        recs = records(run.log)
    assert [r["kind"] for r in recs[:2]] == ["run", "dropped"] and recs[1]["records"] > 50
    assert recs[-1]["kind"] == "end"


def test_a_read_only_log_directory_at_start_still_trains_and_is_controllable(
    tmp_path: Path,
) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    log = ro / "x.jsonl"
    run = start_trainee(tmp_path, "ro", 20, log=log, prefix=ordinary_user())
    try:
        # The socket cannot live next to the log: it goes to the private directory.
        sock = E.private_socket_path(log)
        wait_for(sock.exists, what=f"the control socket {sock}")
        client = ControlClient(f"unix:{sock}", timeout=30)
        wait_for(lambda: _stepped(client, 20), what="20 steps with a read-only log directory")
        reply = client.request("set_lr", value=0.01)
        assert reply["ok"] and reply["new"] == [0.01]
        client.close()
        assert run.stop() == 0
    finally:
        run.kill()
    err = run.proc.stderr.read().decode()
    assert f"cannot open {log}" in err and "training goes on" in err
    assert not log.exists()


def test_a_directory_made_read_only_mid_run_reports_what_it_leaves(tmp_path: Path) -> None:
    rw = tmp_path / "rw"
    rw.mkdir()
    run = start_trainee(tmp_path, "mid", 20, log=rw / "mid.jsonl", prefix=ordinary_user())
    try:
        header(run.log)
        wait_for(lambda: metric_steps(run.log) >= 20, what="20 steps")
        rw.chmod(0o555)
        assert run.stop() == 0
    finally:
        run.kill()
        rw.chmod(0o755)
    err = run.proc.stderr.read().decode()
    assert f"cannot remove {rw / 'mid.sock'}" in err and "stale" in err
    assert records(run.log)[-1]["kind"] in ("end", "warning")
    assert _kinds(run.log, "end")[0]["status"] == "finished"


def test_a_deleted_log_is_re_created_with_its_header(tmp_path: Path) -> None:
    run = start_trainee(tmp_path, "del", 20)
    try:
        header(run.log)
        wait_for(lambda: metric_steps(run.log) >= 20, what="20 steps")
        run.log.unlink()
        head = header(run.log)  # a new file, starting with the run header again
        assert records(run.log)[0] == head
        warning = wait_for(lambda: _kinds(run.log, "warning"), what="the warning record")
        assert warning[0]["code"] == "log_recreated"
        wait_for(lambda: metric_steps(run.log) >= 5, what="steps in the new log")
        assert ControlClient.from_log(run.log).request("status")["ok"]
        assert run.stop() == 0
    finally:
        run.kill()
    assert records(run.log)[-1]["kind"] == "end"
    assert "was deleted or replaced: re-created it" in run.proc.stderr.read().decode()


def test_the_token_and_socket_go_when_the_run_ends(tmp_path: Path) -> None:
    run = start_trainee(tmp_path, "left", 20, "--control", "unix,tcp://127.0.0.1:0")
    try:
        head = header(run.log)
        assert Path(head["token"]).exists() and (tmp_path / "left.sock").exists()
        assert run.stop() == 0
    finally:
        run.kill()
    assert sorted(p.name for p in tmp_path.glob("left.*")) == [
        "left.cmd",
        "left.jsonl",
        "left.stop",
    ]
