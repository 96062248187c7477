"""``RunControl.request``: one request on a run's own connection, against a real training
process (the schedule preview asks through it, in turn with pings and commands)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lrwatch.session.control import RunControl
from lrwatch.session.events import ControlState
from lrwatch.session.pilot_driver import ask_status
from lrwatch.session.preview import Forecast, ask_schedule
from tests.control.ctlhelp import header, start_trainee


def test_a_request_before_the_connection_is_up_raises_and_says_why() -> None:
    rc = RunControl("r", "unix:/nonexistent/r.sock")
    with pytest.raises(ConnectionError, match="not connected yet"):
        rc.request("status")
    assert ask_schedule(rc) == "no preview: not connected yet"


def test_requests_share_the_connection_with_pings(tmp_path: Path) -> None:
    t = start_trainee(tmp_path, "exp", 10_000)
    rc = RunControl("exp", None)
    try:
        rc.set_endpoint(header(t.log)["control"], str(t.log))
        job = rc.connect_job()
        assert job is not None
        [ev] = job()
        assert isinstance(ev, ControlState) and ev.connected
        rc.handle_state(ev, None, over=False)
        status = rc.request("status", timeout=10)
        assert status["ok"] and isinstance(status["step"], int)
        ping = rc.ping_job()
        assert ping is not None and ping() == []  # the same socket, one request at a time
        forecast = ask_schedule(rc, horizon=20, points=5)
        assert isinstance(forecast, Forecast) and forecast.step >= status["step"]
        assert len(forecast.steps) == 5 and forecast.lrs[0][0] == pytest.approx(0.05)
    finally:
        t.kill()
        rc.close()


def test_a_request_aside_takes_a_connection_of_its_own(tmp_path: Path) -> None:
    """Status polls and notes (both autopilot drivers) need no connected RunControl, and a
    read-only run says so."""
    assert ask_status(RunControl("r", None)) is None
    with pytest.raises(ConnectionError, match="read-only"):
        RunControl("r", None).request_aside("status")
    t = start_trainee(tmp_path, "exp", 10_000)
    rc = RunControl("exp", None)
    try:
        rc.set_endpoint(header(t.log)["control"], str(t.log))
        assert not rc.connected and rc.client is None
        reply = rc.request_aside("status")
        assert reply["ok"] and isinstance(reply["step"], int)
        status = ask_status(rc)
        assert status is not None and status["step"] >= reply["step"]
        assert rc.client is None  # the run's own connection was never opened
    finally:
        t.kill()
        rc.close()
