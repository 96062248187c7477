"""``lrwatch diagnose --follow``: findings printed while another process is still writing the
log, then the report once the run wrote ``end`` (real processes, a real growing file)."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from pathlib import Path

from tests.control.ctlhelp import env

#: Writes a healthy start, then NaN losses, waits for a release file, then writes ``end``.
WRITER = r"""
import json, math, os, sys, time
log, release = sys.argv[1], sys.argv[2]
with open(log, "a") as fh:
    fh.write(json.dumps({"kind": "run", "v": 1, "run": "live", "t": time.time()}) + "\n")
    for step in range(300):
        loss = 2.0 * math.exp(-step / 80) + 0.1 if step < 250 else float("nan")
        fh.write(json.dumps({"step": step, "loss": loss, "lr": 1e-3, "t": time.time()}) + "\n")
        fh.flush()
        if step % 50 == 0:
            time.sleep(0.05)  # a live run: the log grows in pieces
    while not os.path.exists(release):
        time.sleep(0.02)
    fh.write(json.dumps({"kind": "end", "status": "finished", "step": 299}) + "\n")
"""


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line)
        out.put("")  # EOF

    threading.Thread(target=pump, daemon=True).start()
    return out


def _until(out: queue.Queue[str], text: str, seen: list[str]) -> None:
    while True:
        line = out.get(timeout=120)
        assert line, f"EOF before {text!r}: {''.join(seen)}"
        seen.append(line)
        if text in line:
            return


def _start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], subprocess.Popen[bytes]]:
    log, release = tmp_path / "live.jsonl", tmp_path / "release"
    log.write_text("")
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(log), str(release)])
    cmd = [sys.executable, "-m", "lrwatch", "diagnose", "--follow", *extra, str(log)]
    diag = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, text=True)
    return diag, writer


def test_findings_are_printed_while_the_run_writes_and_the_report_once_it_ends(
    tmp_path: Path,
) -> None:
    diag, writer = _start(tmp_path)
    try:
        out, seen = _lines(diag), []
        _until(out, "nan_inf", seen)
        assert writer.poll() is None  # said while the run is still going
        assert "error" in seen[-1] and "since step 250" in seen[-1]
        (tmp_path / "release").touch()
        assert diag.wait(timeout=120) == 1  # an error was found: --fail-on's exit code
        rest = "".join(seen) + "".join(iter(lambda: out.get(timeout=30), ""))
        assert "verdict: error: nan_inf from step 250" in rest
    finally:
        for p in (diag, writer):
            if p.poll() is None:
                p.kill()


def test_follow_json_prints_one_line_per_change_then_the_report(tmp_path: Path) -> None:
    diag, writer = _start(tmp_path, "--json")
    try:
        out, seen = _lines(diag), []
        _until(out, '"nan_inf"', seen)
        change = json.loads(seen[-1])
        assert change["run"] == "live" and change["finding"]["severity"] == "error"
        (tmp_path / "release").touch()
        assert diag.wait(timeout=120) == 1
        last = [ln for ln in iter(lambda: out.get(timeout=30), "") if ln.strip()][-1]
        report = json.loads(last)
        assert [r["name"] for r in report["runs"]] == ["live"]
        assert report["runs"][0]["verdict"].startswith("error: nan_inf")
    finally:
        for p in (diag, writer):
            if p.poll() is None:
                p.kill()
