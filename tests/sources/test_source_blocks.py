"""Block mode through the sources: read_runs and a live follow store exactly what records do."""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from srchelp import DEADLINE

from lrwatch.records import MetricBlock, encode_metrics
from lrwatch.sources import RunSource, follow, open_runs, read_runs
from lrwatch.store import MetricStore, RunData

T0 = 1732890000.0


def _log(n: int, start: int = 0) -> bytes:
    """A Monitor-style log: header, metric rows with NaN, an lr_change, eval rows, the end."""
    out = [] if start else [json.dumps({"kind": "run", "v": 1, "run": "r", "t": T0, "lr": [0.1]})]
    for i in range(start, start + n):
        loss = math.nan if i % 101 == 0 else 2.0 / (i + 1)
        out.append(encode_metrics(i, {"loss": loss, "lr": 0.1, "grad_norm": 0.5}, T0 + i))
        if i % 1000 == 999:
            out.append(json.dumps({"kind": "lr_change", "step": i, "old": [0.1], "new": [0.05]}))
        if i % 2500 == 0:
            out.append(encode_metrics(i, {"val_loss": 1.5}, T0 + i))
    return ("\n".join(out) + "\n").encode()


def _same_run(a: RunData, b: RunData) -> None:
    for attr in ("records", "skipped", "first_step", "last_step", "last_time", "steps_inferred"):
        assert getattr(a, attr) == getattr(b, attr), attr
    assert [(e.kind, e.step) for e in a.events] == [(e.kind, e.step) for e in b.events]
    assert set(a.series) == set(b.series)
    for name, s in a.series.items():
        o = b.series[name]
        assert np.array_equal(s.steps, o.steps), name
        assert np.array_equal(s.values, o.values, equal_nan=True), name
        assert np.array_equal(s.times, o.times, equal_nan=True), name


def test_read_runs_blocks_equal_records(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(_log(12_000))
    fast = next(iter(read_runs([str(path)]).runs.values()))
    slow = next(iter(read_runs([str(path)], blocks=False).runs.values()))
    _same_run(fast, slow)
    assert fast.records == 12_000 + 1 + 12 + 5 and len(fast.series["loss"]) == 12_000
    assert fast.series["loss"].nonfinite == len(range(0, 12_000, 101))


def test_source_in_block_mode_yields_blocks(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    path.write_bytes(_log(5000))
    src = RunSource(str(path), "run", follow=False, blocks=True)
    recs = src.poll(budget=64 << 10)  # small reads: the rows are learned, then blocks come
    while not src.done:
        recs += src.poll(budget=64 << 10)
    assert any(isinstance(r, MetricBlock) for r in recs)
    plain = RunSource(str(path), "run", follow=False)
    assert not any(isinstance(r, MetricBlock) for r in plain.poll())


def test_live_follow_in_block_mode_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "live.jsonl"
    path.touch()
    data = _log(6000) + _log(4000, start=6000)
    rng = random.Random(3)

    def write() -> None:
        with open(path, "ab", buffering=0) as f:
            i = 0
            while i < len(data):
                n = rng.randint(1, 9000)
                f.write(data[i : i + n])
                i += n
                time.sleep(0.001)

    store, stop = MetricStore(), threading.Event()
    runset = open_runs([str(path)], follow=True, blocks=True)
    reader = threading.Thread(target=follow, args=(runset, store, lambda b: None, stop, 0.01))
    reader.start()
    writer = threading.Thread(target=write)
    writer.start()
    writer.join()
    deadline = time.monotonic() + DEADLINE
    try:
        while len(store.runs.get("live", RunData("x")).series.get("loss", [])) < 10_000:
            if time.monotonic() > deadline:
                pytest.fail("timed out")
            time.sleep(0.02)
    finally:
        stop.set()
        reader.join()
        runset.close()
    ref = next(iter(read_runs([str(path)], blocks=False).runs.values()))
    _same_run(store.runs["live"], ref)
    assert store.runs["live"].series["loss"].steps.tolist() == list(range(10_000))


def test_monitor_t_is_wall_time_not_a_metric(tmp_path: Path) -> None:
    """A ``t`` key written by lrwatch.Monitor becomes the record time in ``inspect``."""
    log = tmp_path / "mon.jsonl"
    script = (
        "import lrwatch\n"
        f"mon = lrwatch.Monitor(log={str(log)!r}, control='none', file_commands=False,"
        " handle_signals=False)\n"
        "for i in range(300):\n"
        "    mon.step(loss=1.0 / (i + 1), grad_norm=0.5)\n"
        "mon.close()\n"
    )
    before = time.time()
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert b'"t": 17' in log.read_bytes() or b'"t": ' in log.read_bytes()
    out = subprocess.run(
        [sys.executable, "-m", "lrwatch", "inspect", "--json", str(log)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (run,) = json.loads(out.stdout)["runs"]
    assert "t" not in run["metrics"] and run["metrics"]["loss"]["count"] == 300
    assert run["steps"] == [1, 300]
    data = next(iter(read_runs([str(log)]).runs.values()))
    times = data.series["loss"].times
    assert before - 1 <= times[0] <= times[-1] <= time.time() + 1
