"""Directories, globs and pipes as run sets, and the follow loop filling a store."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from srchelp import DEADLINE, lines, make_source, poll_until, step_detect, step_factory, steps_of

from lrwatch.records import Record
from lrwatch.sources import SourceError, follow, open_runs, read_runs
from lrwatch.store import MetricStore

OPTS = {"parser_factory": step_factory, "detector": step_detect}


def _wait(cond, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def _counts(store: MetricStore) -> dict[str, int]:
    return {name: run.records for name, run in store.runs.items()}


def test_directory_follow_picks_up_new_files(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_bytes(lines(0, 100))
    (tmp_path / "model.pt").write_bytes(b"\x80\x02junk")  # not a log: never a run
    runs = open_runs([str(tmp_path)], **OPTS)
    store = MetricStore()
    batches: list[dict[str, int]] = []
    stop = threading.Event()
    worker = threading.Thread(target=follow, args=(runs, store, batches.append, stop))
    worker.start()
    try:
        _wait(lambda: _counts(store).get("a") == 100, "a.log")
        sub = tmp_path / "lightning_logs" / "version_1"
        sub.mkdir(parents=True)
        (sub / "hparams.yaml").write_text("lr: 0.1\n")
        with open(sub / "metrics.csv", "ab", buffering=0) as f:
            for i in range(0, 200, 20):
                f.write(lines(i, i + 20))
        with open(tmp_path / "a.log", "ab") as f:
            f.write(lines(100, 150))
        _wait(lambda: _counts(store) == {"a": 150, "version_1": 200}, "both runs")
    finally:
        stop.set()
        worker.join()
        runs.close()
    assert sorted(runs.sources) == ["a", "version_1"]
    assert store.runs["version_1"].path.endswith("metrics.csv")
    assert steps_of_store(store, "version_1") == list(range(200))
    total: dict[str, int] = {}
    for b in batches:
        for k, v in b.items():
            total[k] = total.get(k, 0) + v
    assert total == {"a": 150, "version_1": 200}  # every record reported once


def steps_of_store(store: MetricStore, name: str) -> list[int]:
    return [int(s) for s in store.runs[name].series["loss"].steps]


def test_glob_and_read_runs_once(tmp_path: Path) -> None:
    for i in range(3):
        (tmp_path / f"r{i}.txt").write_bytes(lines(0, 10 * (i + 1)) + b"not a line\n")
    (tmp_path / "skip.npy").write_bytes(b"\0" * 10)
    store = read_runs([str(tmp_path / "*")], **OPTS)
    assert _counts(store) == {"r0": 10, "r1": 20, "r2": 30}
    assert {r.skipped for r in store.runs.values()} == {1}
    assert all(r.format == "steps" for r in store.runs.values())


def test_missing_paths_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="no such file"):
        read_runs([str(tmp_path / "nope.log")], **OPTS)
    with pytest.raises(SourceError, match="no log files"):
        read_runs([str(tmp_path / "*.log")], **OPTS)
    # Following, a missing file is waited for instead.
    runs = open_runs([str(tmp_path / "later.log")], **OPTS)
    assert runs.poll() == {"later": []}
    runs.close()


_PIPE_WRITER = """
import os, sys, time
gate = sys.argv[1]
out = sys.stdout.buffer
for i in range(1000):
    if i == 500:
        out.flush()
        while not os.path.exists(gate):
            time.sleep(0.005)
    out.write(b"%d %d.5\\n" % (i, i))
    if i % 7 == 0:
        out.flush()
"""


def test_pipe_is_read_without_blocking(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    proc = subprocess.Popen([sys.executable, "-c", _PIPE_WRITER, str(gate)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    src = make_source("-", fd=proc.stdout.fileno())
    out: list[Record] = []
    poll_until(src, out, lambda: len(out) >= 500)
    # The writer is silent now: polling returns at once with nothing (the UI stays live).
    assert src.poll() == []
    assert not src.done
    gate.touch()
    poll_until(src, out, lambda: src.done)
    proc.wait()
    assert steps_of(out) == list(range(1000))
    assert src.format == "steps"


def test_read_runs_from_a_pipe_to_eof(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    gate.touch()
    proc = subprocess.Popen([sys.executable, "-c", _PIPE_WRITER, str(gate)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    store = read_runs(["-"], stdin_fd=proc.stdout.fileno(), **OPTS)
    proc.wait()
    assert _counts(store) == {"stdin": 1000}
    assert steps_of_store(store, "stdin") == list(range(1000))


def test_a_wandb_folder_is_its_run_files_only(tmp_path: Path) -> None:
    """W&B's debug logs, requirements.txt and console copy are not runs of their own."""
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "wandb_crashing.wandb"
    run = tmp_path / "wandb" / "run-20261206_052900-aoh50wcl"
    (run / "files").mkdir(parents=True)
    (run / "logs").mkdir()
    (run / "run-aoh50wcl.wandb").write_bytes(fixture.read_bytes())
    (run / "files" / "output.log").write_text("step 1 | loss: 2.0\n")
    (run / "files" / "requirements.txt").write_text("torch==2.13.0\n")
    (run / "logs" / "debug.log").write_text("{'lr': 0.001, 'bs': 32, 'epoch': 3}\n")
    (tmp_path / "wandb" / "debug.log").write_text("{'lr': 0.001, 'bs': 32}\n")
    (tmp_path / "train.log").write_text("step 1 | loss: 2.0\n")  # beside it: still a run
    runs = open_runs([str(tmp_path)], follow=False)
    assert sorted(s.path for s in runs.sources.values()) == [
        str(tmp_path / "train.log"),
        str(run / "run-aoh50wcl.wandb"),
    ]
