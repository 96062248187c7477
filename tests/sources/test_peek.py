"""A first look at a run from its file's head and tail, and the follower that peeks at many."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from lrwatch.records import AnyRecord
from lrwatch.sources.follow import PEEK_FROM, AddChunk, Follower, FollowSink
from lrwatch.sources.peek import TAIL_BYTES, Peek, peek

FIXTURES = Path(__file__).parents[1] / "fixtures"


def _jsonl(path: Path, steps: int, end: str | None = None, lr: float = 1e-3) -> None:
    lines = [json.dumps({"kind": "run", "v": 1, "run": path.stem, "t": 1.7e9})]
    for i in range(steps):
        lines.append(json.dumps({"step": i, "t": 1.7e9 + i / 4, "loss": 3.0 - i * 1e-4, "lr": lr}))
    if end:
        lines.append(json.dumps({"kind": "end", "status": end}))
    path.write_text("\n".join(lines) + "\n")


def test_a_big_log_is_peeked_from_its_tail_even_when_the_tail_starts_mid_line(
    tmp_path: Path,
) -> None:
    log = tmp_path / "big.jsonl"
    _jsonl(log, 20_000, end="crashed", lr=3e-4)
    assert log.stat().st_size > 20 * TAIL_BYTES
    p = peek(str(log))
    assert p is not None and p.size == log.stat().st_size
    assert (p.last_step, p.lr, p.status) == (19_999, 3e-4, "crashed")
    # The mean of the last 25 losses, and the pace from the timed steps (4 steps a second).
    assert abs((p.loss or 0) - (3.0 - 19_987 * 1e-4)) < 1e-9
    assert p.steps_per_s is not None and abs(p.steps_per_s - 4.0) < 1e-6


def test_text_and_csv_logs_are_peeked_through_their_own_readers() -> None:
    nano = peek(str(FIXTURES / "nanogpt_healthy.log"))
    assert nano is not None and nano.last_step is not None and nano.loss is not None
    assert nano.status is None  # a text log has no end record
    csv = peek(str(FIXTURES / "lightning_healthy_metrics.csv"))
    assert csv is not None and csv.last_step is not None and csv.lr is not None


def test_binary_logs_and_missing_files_are_not_peeked(tmp_path: Path) -> None:
    assert peek(str(FIXTURES / "lightning_healthy.tfevents")) is None
    assert peek(str(tmp_path / "nope.jsonl")) is None


class _Recorder(FollowSink):
    def __init__(self, stop: threading.Event) -> None:
        self.order: list[tuple[str, str]] = []
        self.peeks: dict[str, Peek] = {}
        self.stop = stop

    def peeked(self, name: str, path: str, peek: Peek) -> None:
        self.order.append(("peek", name))
        self.peeks[name] = peek

    def records(self, name: str, records: list[AnyRecord], add: AddChunk) -> None:
        if records:
            self.order.append(("records", name))
        add(records)

    def progress(self, read: int, total: int, done: bool) -> None:
        if done:
            self.stop.set()


def test_a_follower_of_many_runs_peeks_at_every_one_before_reading_any(tmp_path: Path) -> None:
    for i in range(PEEK_FROM + 2):
        _jsonl(tmp_path / f"run{i:02d}.jsonl", 50 + i, end="finished" if i % 2 else None)
    stop = threading.Event()
    sink = _Recorder(stop)
    Follower([str(tmp_path)]).run(None, stop, sink)
    kinds = [k for k, _ in sink.order]
    assert kinds.count("peek") == PEEK_FROM + 2
    assert kinds.index("records") == PEEK_FROM + 2  # every peek first
    assert sink.peeks["run03"].status == "finished" and sink.peeks["run03"].last_step == 52
    assert sink.peeks["run04"].status is None


def test_a_follower_of_a_few_runs_does_not_peek(tmp_path: Path) -> None:
    for i in range(3):
        _jsonl(tmp_path / f"run{i}.jsonl", 10)
    stop = threading.Event()
    sink = _Recorder(stop)
    Follower([str(tmp_path)]).run(None, stop, sink)
    assert sink.peeks == {} and ("records", "run0") in sink.order
