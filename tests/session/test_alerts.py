"""The alert policy (pure: the clock is passed in) and the exec/webhook sinks (a real shell,
a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from lrwatch.records import Event
from lrwatch.rules import Finding
from lrwatch.session.alerts import Alert, AlertPolicy, ExecSink, LineSink, WebhookSink


def _finding(severity: str = "error", **kw: Any) -> Finding:
    f = Finding("nan_inf", severity, 10, 10, message="Train loss became nan.", id="r/nan_inf@10")
    f.suggestion = "reduce LR 10×"
    for k, v in kw.items():
        setattr(f, k, v)
    return f


def _events(alerts: list[Alert]) -> list[str]:
    return [a.event for a in alerts]


def test_open_escalate_resolve_each_said_once() -> None:
    policy = AlertPolicy("warning", repeat=60)
    f = _finding("warning")
    assert _events(policy.findings("r", [f], 0.0)) == ["opened"]
    assert policy.findings("r", [f], 1.0) == []  # the same state again: nothing new
    f.severity = "error"
    assert _events(policy.findings("r", [f], 2.0)) == ["escalated"]  # never rate-limited
    f.resolved, f.resolved_step = True, 20
    [done] = policy.findings("r", [f], 3.0)
    assert (done.event, done.step, done.fix) == ("resolved", 20, "")
    assert policy.findings("r", [f], 4.0) == []


def test_below_the_threshold_is_not_said_until_it_reaches_it() -> None:
    policy = AlertPolicy("error")
    f = _finding("warning")
    assert policy.findings("r", [f], 0.0) == []
    f.severity = "error"
    assert _events(policy.findings("r", [f], 1.0)) == ["escalated"]


def test_a_comeback_inside_the_window_is_held_and_said_when_it_ends() -> None:
    policy = AlertPolicy("error", repeat=10)
    f = _finding()
    policy.findings("r", [f], 0.0)
    f.resolved = True
    assert _events(policy.findings("r", [f], 1.0)) == ["resolved"]
    f.resolved, f.evidence = False, {"reopened": 1}
    assert policy.findings("r", [f], 2.0) == []  # held: 2 s after the last alert
    assert policy.tick(9.9) == []
    assert _events(policy.tick(10.0)) == ["repeated"]  # still open when the window ends
    assert policy.tick(30.0) == []
    # It flickers (came back and resolved between two looks) after the window: said once,
    # with its resolution.
    f.resolved, f.evidence = True, {"reopened": 2}
    assert _events(policy.findings("r", [f], 25.0)) == ["repeated", "resolved"]


def test_a_held_comeback_that_resolved_before_the_window_ended() -> None:
    policy = AlertPolicy("error", repeat=10)
    f = _finding()
    policy.findings("r", [f], 0.0)
    f.resolved = True
    policy.findings("r", [f], 1.0)
    f.resolved, f.evidence = True, {"reopened": 1}  # came back and went within the window
    assert policy.findings("r", [f], 2.0) == []
    # The window ends: it came back, and it is over; each said once.
    assert _events(policy.tick(10.0)) == ["repeated", "resolved"]
    assert policy.tick(20.0) == []


def test_many_comebacks_give_one_alert_per_window() -> None:
    policy = AlertPolicy("error", repeat=5)
    f = _finding()
    said = []
    for i in range(100):  # a comeback every 0.5 s for 50 s
        now = i * 0.5
        f.evidence = {"reopened": i}
        f.resolved = i % 2 == 1
        said += policy.findings("r", [f], now) + policy.tick(now)
    opens = [a for a in said if a.event in ("opened", "repeated")]
    assert 1 <= len(opens) <= 50 / 5 + 1


def test_run_ends_once_crash_is_an_error() -> None:
    policy = AlertPolicy("error")
    crash = Event("end", step=58, data={"status": "crashed"})
    [alert] = policy.ended("r", crash, 0.0, 57)
    assert (alert.severity, alert.symptom, alert.step, alert.notify) == (
        "error",
        "crashed",
        58,
        True,
    )
    assert policy.ended("r", crash, 1.0, 57) == []
    [fine] = policy.ended("s", Event("end", data={"status": "finished"}), 0.0, 9)
    assert (fine.severity, fine.step, fine.notify) == ("info", 9, False)  # said, not sent


def test_stalled_is_said_at_any_level_but_sent_only_at_it() -> None:
    policy = AlertPolicy("error")
    f = Finding("stalled", "warning", 5, 5, message="No new records for 130 s.", id="r/stalled@5")
    [alert] = policy.findings("r", [f], 0.0)
    assert alert.notify is False and "stalled opened" in alert.line()


def test_line_and_json(tmp_path: Path) -> None:
    alert = AlertPolicy("error").findings("run1", [_finding()], 0.0)[0]
    assert alert.line().endswith(
        "  run1  step 10  ✗ error nan_inf opened: Train loss became nan.  fix: reduce LR 10×"
    )
    path = tmp_path / "out.txt"
    with path.open("w") as fh:
        LineSink(fh, as_json=True).send(alert)
    obj = json.loads(path.read_text())
    assert obj["finding"]["id"] == obj["finding_id"] == "r/nan_inf@10"


def test_exec_gets_the_alert_in_env_and_stdin_never_in_its_command_line(tmp_path: Path) -> None:
    out = tmp_path / "out"
    problems: list[str] = []
    sink = ExecSink(f'printf "%s|" "$LRWATCH_MESSAGE" >> {out}; cat >> {out}', problems.append)
    hostile = _finding(message='$(touch pwned); `touch pwned2` "; rm -rf /')
    sink.send(AlertPolicy().findings("r", [hostile], 0.0)[0])
    sink.close()
    message, _, body = out.read_text().partition("|")
    assert message == hostile.message and json.loads(body)["message"] == hostile.message
    assert not list(tmp_path.glob("pwned*")) and not Path("pwned").exists()
    assert problems == []


def test_exec_failures_are_reported_once_per_kind() -> None:
    problems: list[str] = []
    sink = ExecSink("exit 3", problems.append)
    alerts = AlertPolicy().findings("r", [_finding()], 0.0)
    for _ in range(3):
        sink.send(alerts[0])
    sink.close()
    assert len(problems) == 1 and "exited 3" in problems[0]
    slow = ExecSink(f"{sys.executable} -c 'import time; time.sleep(30)'", problems.append, 0.2)
    slow.send(alerts[0])
    slow.close()
    assert len(problems) == 2 and "killed" in problems[1]


class _Flaky(BaseHTTPRequestHandler):
    """500 for the first ``fail`` POSTs, then 204."""

    def do_POST(self) -> None:
        server: Any = self.server
        server.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(500 if len(server.bodies) <= server.fail else 204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Any]:
    srv: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    srv.bodies, srv.fail = [], 0
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_webhook_retries_then_delivers(server: Any) -> None:
    server.fail = 2
    problems: list[str] = []
    url = f"http://127.0.0.1:{server.server_port}/"
    sink = WebhookSink(url, problems.append, fmt="slack", backoff=0.01)
    alert = AlertPolicy().findings("r", [_finding()], 0.0)[0]
    sink.send(alert)
    sink.close()
    assert server.bodies == [{"text": alert.line()}] * 3 and problems == []


def test_webhook_failure_reported_once(server: Any) -> None:
    server.fail = 100
    problems: list[str] = []
    sink = WebhookSink(f"http://127.0.0.1:{server.server_port}/", problems.append, backoff=0.01)
    alert = AlertPolicy().findings("r", [_finding()], 0.0)[0]
    sink.send(alert)
    sink.send(alert)
    sink.close()
    assert len(server.bodies) == 6  # two alerts, each tried 3 times
    assert server.bodies[0]["finding_id"] == "r/nan_inf@10"
    assert len(problems) == 1 and "HTTP 500" in problems[0]
