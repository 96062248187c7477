"""``lrwatch guard``: real training processes (tests/commands/guardee.py), guard as its own
process, alerts through every path: the line, ``--exec`` and a webhook to a real HTTP server
on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.control.ctlhelp import env

GUARDEE = Path(__file__).with_name("guardee.py")
#: Appends one JSON line per call: the LRWATCH_* environment and the alert read on stdin.
HOOK = r"""
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("LRWATCH_")}
with open(sys.argv[1], "a") as fh:
    fh.write(json.dumps({"env": env, "stdin": json.loads(sys.stdin.read())}) + "\n")
"""
DEADLINE = 120.0


def _trainee(tmp: Path, mode: str, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(GUARDEE), str(tmp / f"{mode}.jsonl"), mode, *extra]
    return subprocess.Popen(cmd, env=env(), stderr=subprocess.DEVNULL)


def _guard(*args: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "lrwatch", "guard", *args]
    return subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, text=True)


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line)
        out.put("")  # EOF

    threading.Thread(target=pump, daemon=True).start()
    return out


def _until(out: queue.Queue[str], seen: list[dict[str, Any]], want: Any) -> None:
    """Read JSON alerts into ``seen`` until one satisfies ``want``."""
    while True:
        line = out.get(timeout=DEADLINE)
        assert line, f"guard ended before the alert we wait for: {seen}"
        seen.append(json.loads(line))
        if want(seen[-1]):
            return


def _rest(out: queue.Queue[str]) -> list[str]:
    return list(iter(lambda: out.get(timeout=DEADLINE), ""))


def _kill(*procs: subprocess.Popen[Any] | None) -> None:
    """Test cleanup: kill what still runs."""
    for p in procs:
        if p is not None and p.poll() is None:
            p.kill()


def _wait_for(path: Path) -> None:
    deadline = time.monotonic() + DEADLINE
    while not (path.exists() and path.stat().st_size):
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


class _Hook(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.bodies.append(json.loads(body))  # type: ignore[attr-defined]
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A real HTTP server on 127.0.0.1 that keeps every POSTed JSON body."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    server.bodies = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", server.bodies  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def _diagnosed(logs: Path) -> dict[str, dict[str, Any]]:
    """Every finding ``lrwatch diagnose --json`` gives for the finished logs, by id."""
    cmd = [sys.executable, "-m", "lrwatch", "diagnose", "--json", str(logs)]
    done = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=DEADLINE)
    runs = json.loads(done.stdout)["runs"]
    return {f["id"]: f for r in runs for f in r["findings"]}


def test_every_path_alerts_once_per_finding_and_once_per_resolution(
    tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = webhook
    hook, calls = tmp_path / "hook.py", tmp_path / "calls.jsonl"
    hook.write_text(HOOK)
    logs = tmp_path / "runs"
    logs.mkdir()
    stop = tmp_path / "stop"
    runs = [_trainee(logs, "diverge"), _trainee(logs, "recover", "--stop-file", str(stop))]
    guard: subprocess.Popen[str] | None = None
    try:
        for mode in ("diverge", "recover"):
            _wait_for(logs / f"{mode}.jsonl")
        exec_cmd = f"{sys.executable} {hook} {calls}"
        guard = _guard("--json", "--exec", exec_cmd, "--webhook", url, str(logs))
        out, seen = _lines(guard), list[dict[str, Any]]()
        # The recovering run is still going when its divergence resolves: a live alert.
        _until(out, seen, lambda a: a["event"] == "resolved" and a["run"] == "recover")
        assert runs[1].poll() is None
        stop.touch()
        assert guard.wait(timeout=DEADLINE) == 1  # errors were found: diagnose's exit code
        alerts = seen + [json.loads(line) for line in _rest(out)]
    finally:
        _kill(*runs, guard)

    # The line: once per finding that reached --on (error), once per resolution.
    errors = {fid: f for fid, f in _diagnosed(logs).items() if f["severity"] == "error"}
    opened = Counter(a["finding_id"] for a in alerts if a["event"] == "opened")
    resolved = Counter(a["finding_id"] for a in alerts if a["event"] == "resolved")
    assert opened == Counter(list(errors))
    assert resolved == Counter(fid for fid, f in errors.items() if f["resolved"])
    assert any(f["symptom"] == "divergence" for f in errors.values()) and resolved
    ends = {a["run"]: (a["symptom"], a["severity"]) for a in alerts if a["event"] == "ended"}
    assert ends == {"diverge": ("crashed", "error"), "recover": ("finished", "info")}

    # --exec and the webhook got every alert at or above --on (not the finished run's end).
    notified = Counter(
        (a["event"], a["finding_id"], a["run"]) for a in alerts if a["severity"] == "error"
    )
    got = [json.loads(line) for line in calls.read_text().splitlines()]
    assert (
        Counter((c["stdin"]["event"], c["stdin"]["finding_id"], c["stdin"]["run"]) for c in got)
        == notified
    )
    for c in got:
        env_, alert = c["env"], c["stdin"]
        assert env_["LRWATCH_EVENT"] == alert["event"]
        assert env_["LRWATCH_RUN"] == alert["run"]
        assert env_["LRWATCH_SYMPTOM"] == alert["symptom"]
        assert env_["LRWATCH_SEVERITY"] == alert["severity"] == "error"
        assert env_["LRWATCH_STEP"] == str(alert["step"])
        assert env_["LRWATCH_MESSAGE"] == alert["message"]
        assert env_["LRWATCH_FIX"] == alert["fix"]
        assert env_["LRWATCH_FINDING_ID"] == alert["finding_id"]
    assert Counter((b["event"], b["finding_id"], b["run"]) for b in bodies) == notified


def test_slack_body_and_text_lines(
    tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
) -> None:
    url, bodies = webhook
    logs = tmp_path / "runs"
    logs.mkdir()
    for proc in (_trainee(logs, "recover"), _trainee(logs, "healthy")):
        assert proc.wait(timeout=DEADLINE) == 0
    guard = _guard("--webhook", url, "--webhook-format", "slack", "--on", "warning", str(logs))
    text, _ = guard.communicate(timeout=DEADLINE)
    assert guard.returncode == 1
    lines = text.splitlines()
    # warnings too now: the loss spike of the hot stretch, opened and resolved
    said = [ln for ln in lines if "  recover  " in ln and ("opened" in ln or "resolved" in ln)]
    assert any("✗ error divergence opened" in ln and "fix: " in ln for ln in said)
    assert any("✓ resolved divergence" in ln for ln in said)
    assert any("! warning loss_spike opened" in ln for ln in said)
    assert any(ln.endswith("healthy  step 150  ■ run finished") for ln in lines)
    # slack: {"text": the line}, for every alert at or above --on (not the info-level ends)
    assert sorted(b["text"] for b in bodies) == sorted(ln for ln in lines if "■ run" not in ln)
    assert all(set(b) == {"text"} for b in bodies)
    # The healthy run alone: nothing to say but its end, exit 0.
    guard = _guard(str(logs / "healthy.jsonl"))
    text, _ = guard.communicate(timeout=DEADLINE)
    assert guard.returncode == 0, text
    assert text.strip().endswith("healthy  step 150  ■ run finished")


def test_a_finding_that_keeps_coming_back_alerts_once_per_window(tmp_path: Path) -> None:
    logs = tmp_path / "runs"
    logs.mkdir()
    stop = tmp_path / "stop"
    flaky = _trainee(logs, "flaky", "--stop-file", str(stop))
    window = 1.0
    guard = None
    try:
        _wait_for(logs / "flaky.jsonl")
        started = time.monotonic()
        guard = _guard("--json", "--repeat", str(window), str(logs))
        out, seen = _lines(guard), list[dict[str, Any]]()
        # NaN every 12 steps (~25 a second): the window, not the rules, sets the pace.
        _until(out, seen, lambda a: a["event"] == "repeated")
        _until(out, seen, lambda a: a["event"] == "repeated")
        stop.touch()
        assert guard.wait(timeout=DEADLINE) == 1
        elapsed = time.monotonic() - started
        alerts = seen + [json.loads(line) for line in _rest(out)]
    finally:
        _kill(flaky, guard)
    nan = [a for a in alerts if a["symptom"] == "nan_inf"]
    assert len({a["finding_id"] for a in nan}) == 1  # one finding, reopened over and over
    said = [a for a in nan if a["event"] in ("opened", "repeated")]
    assert 1 <= len(said) <= elapsed / window + 1
    assert [a["event"] for a in said][:1] == ["opened"]
    # Each resolution follows one "it is open" alert, never two in a row.
    events = [a["event"] for a in nan]
    assert all(not (a == b == "resolved") for a, b in itertools.pairwise(events))
    assert events.count("resolved") <= len(said)


def test_exit_codes_without_a_finding(tmp_path: Path) -> None:
    no_loss = tmp_path / "acc.jsonl"
    no_loss.write_text('{"step": 1, "acc": 0.5}\n{"kind": "end", "status": "finished"}\n')
    assert _guard(str(no_loss)).wait(timeout=DEADLINE) == 3
    # Usage: a format that does not exist (a missing log is waited for, as by watch).
    assert _guard("--format", "nosuch", str(no_loss)).wait(timeout=DEADLINE) == 2


def test_an_endpoint_followed_until_sigterm_ends_it_with_the_exit_code_so_far(
    tmp_path: Path,
) -> None:
    stop = tmp_path / "stop"
    flaky = _trainee(tmp_path, "flaky", "--stop-file", str(stop))
    guard = None
    try:
        _wait_for(tmp_path / "flaky.jsonl")
        # Followed through its control socket's subscribe stream, not the file.
        header = json.loads((tmp_path / "flaky.jsonl").read_text().splitlines()[0])
        guard = _guard("--json", header["control"])
        out, seen = _lines(guard), list[dict[str, Any]]()
        _until(out, seen, lambda a: a["event"] == "opened")
        guard.terminate()
        assert guard.wait(timeout=DEADLINE) == 1  # the NaN error was seen: exit 1, not a kill
        assert flaky.poll() is None  # the run goes on: guard only watched it
    finally:
        stop.touch()
        _kill(flaky, guard)
