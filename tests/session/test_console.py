"""The headless console buffer: a real file appended by a real separate process, tqdm-style
carriage returns collapsed, the tail kept, search and the traceback found; the rendezvous."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from lrwatch.rendezvous import parse_line
from lrwatch.session.console import (
    ConsoleBuffer,
    collapse,
    find,
    match_spans,
    traceback_line,
)
from lrwatch.session.consoles import Consoles
from lrwatch.session.rendezvous import RendezvousReader
from lrwatch.store import RunData

#: A program that draws a progress bar with carriage returns (as tqdm does), then crashes.
PROGRESS_THEN_CRASH = r"""
import sys
for i in range(0, 101, 10):
    sys.stderr.write(f"\rtraining: {i:3d}%|" + "#" * (i // 10))
    sys.stderr.flush()
sys.stderr.write("\n")
print("step 10 loss 2.3", flush=True)
raise RuntimeError("loss is NaN")
"""


def _poll_until(buf: ConsoleBuffer, cond: object, timeout: float = 30.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while True:
        buf.poll()
        lines = buf.snapshot().lines
        if callable(cond) and cond(lines):
            return lines
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached; lines: {lines}")
        time.sleep(0.02)  # a poll interval, not a synchronisation: the condition decides


def test_collapse_keeps_the_last_state_of_a_redrawn_line() -> None:
    assert collapse("  0%|\r 50%|#####\r100%|##########") == "100%|##########"
    assert collapse("done\r") == "done"  # a CRLF line, or a bar ended by \r
    assert collapse("plain") == "plain"
    assert collapse("\r\r") == ""


def test_a_real_process_output_is_tailed_collapsed_and_its_traceback_found(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.console.log"
    buf = ConsoleBuffer(str(out))
    assert buf.poll() is False and not buf.exists  # not there yet: nothing, no error
    with open(out, "ab") as fh:
        code = subprocess.call(
            [sys.executable, "-c", PROGRESS_THEN_CRASH], stdout=fh, stderr=subprocess.STDOUT
        )
    assert code == 1
    lines = _poll_until(buf, lambda ls: any("RuntimeError" in line for line in ls))
    progress = [line for line in lines if "training:" in line]
    assert progress == ["training: 100%|##########"]  # 11 redraws, one line
    tb = traceback_line(lines)
    assert tb is not None and lines[tb].startswith("Traceback")
    assert lines[-1] == "RuntimeError: loss is NaN"
    assert find(lines, "LOSS") == [1, len(lines) - 1]  # case-insensitive


def test_a_progress_bar_mid_redraw_shows_its_latest_state(tmp_path: Path) -> None:
    out = tmp_path / "bar.log"
    buf = ConsoleBuffer(str(out))
    out.write_bytes(b"epoch 1\n\r 10%|#\r 20%|##")
    buf.poll()
    assert buf.snapshot().lines == ["epoch 1", " 20%|##"]
    with open(out, "ab") as fh:
        fh.write(b"\r 30%|###\n")
    buf.poll()
    assert buf.snapshot().lines == ["epoch 1", " 30%|###"]


def test_the_last_lines_are_kept_and_a_big_file_is_read_from_its_tail(tmp_path: Path) -> None:
    out = tmp_path / "big.log"
    out.write_text("".join(f"line {i} " + "x" * 100 + "\n" for i in range(60_000)))  # ~6.5 MB
    buf = ConsoleBuffer(str(out), max_lines=2000)
    buf.poll()
    lines = buf.snapshot().lines
    while buf.poll():  # the tail is read a chunk per poll
        lines = buf.snapshot().lines
    assert len(lines) == 2000 and lines[-1].startswith("line 59999 ")
    assert all(line.startswith("line ") for line in lines)  # no torn first line


def test_colour_escapes_and_a_split_utf8_character(tmp_path: Path) -> None:
    out = tmp_path / "c.log"
    buf = ConsoleBuffer(str(out))
    data = "\x1b[31mred\x1b[0m é\n".encode()
    out.write_bytes(data[:-2])  # the é is cut between two reads
    buf.poll()
    with open(out, "ab") as fh:
        fh.write(data[-2:])
    buf.poll()
    assert buf.snapshot().lines == ["red é"]


def test_truncation_starts_over(tmp_path: Path) -> None:
    out = tmp_path / "t.log"
    out.write_text("old 1\nold 2\n")
    buf = ConsoleBuffer(str(out))
    buf.poll()
    out.write_text("new\n")
    buf.poll()
    assert buf.snapshot().lines == ["new"]


def test_match_spans() -> None:
    assert match_spans("Loss loss LOSS", "loss") == [(0, 4), (5, 9), (10, 14)]
    assert match_spans("abc", "") == []


def test_rendezvous_lines_are_read_once_and_bad_ones_skipped(tmp_path: Path) -> None:
    path = tmp_path / "exp.rendezvous"
    reader = RendezvousReader(str(path))
    assert reader.poll() == []
    good = {"log": "/x/exp1.jsonl", "run": "exp1", "pid": 7, "console": None}
    path.write_text("not json\n" + json.dumps(good) + "\n" + '{"log": "/x/half')
    news = reader.poll()
    assert [(a.log, a.run, a.pid, a.console) for a in news] == [("/x/exp1.jsonl", "exp1", 7, None)]
    with open(path, "a") as fh:
        fh.write('.jsonl"}\n')
    assert [a.log for a in reader.poll()] == ["/x/half.jsonl"]
    assert reader.poll() == []
    assert parse_line(b"[1, 2]") is None and parse_line(b'{"log": ""}') is None


def test_the_console_of_a_run(tmp_path: Path) -> None:
    child_out = str(tmp_path / "train.console.log")
    log = str(tmp_path / "elsewhere" / "exp1.jsonl")
    consoles = Consoles(child_out)
    console_run = RunData(name="train.console", path=child_out)
    monitor_run = RunData(name="exp1", path=log)
    assert consoles.of(console_run) == child_out and not consoles.hides(console_run)
    consoles.claim(log, None)  # announced under lrwatch run: its console is the child's output
    assert consoles.of(monitor_run) == child_out
    assert not consoles.hides(console_run)  # listed until the Monitor's run has records
    consoles.owner_ready(log)
    assert consoles.hides(console_run) and not consoles.hides(monitor_run)
    # watch of a Monitor log whose header names its console file
    watched = RunData(name="exp2", path=str(tmp_path / "exp2.jsonl"))
    watched.header = {"kind": "run", "console": "/elsewhere/exp2.console"}
    assert Consoles().of(watched) == "/elsewhere/exp2.console"
    assert Consoles().of(RunData(name="x", path=str(tmp_path / "x.log"))) is None
