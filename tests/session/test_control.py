"""RunControl against a real training process: the same path a key, guard or the autopilot
takes (jobs that only return events, state changed where the events are handed back)."""

from __future__ import annotations

from pathlib import Path

from lrwatch.records import Event
from lrwatch.session.commands import plan_scale
from lrwatch.session.control import Job, Link, Notice, RunControl
from lrwatch.session.events import ControlReply, ControlState
from tests.control.ctlhelp import header, records, start_trainee, wait_for


def _run(rc: RunControl, job: Job | None) -> list[Notice]:
    """Run a job as a worker thread would, and hand its events back as the owner does."""
    assert job is not None
    notices: list[Notice] = []
    for ev in job():
        if isinstance(ev, ControlState):
            notices += rc.handle_state(ev, None, over=False)
        elif isinstance(ev, ControlReply):
            notices += rc.handle_reply(ev)
    return notices


def test_connect_send_ack_and_our_change_is_not_news(tmp_path: Path) -> None:
    t = start_trainee(tmp_path, "exp", 10_000)
    try:
        head = header(t.log)
        rc = RunControl("exp", head["control"], log_path=str(t.log))
        assert rc.state is Link.IDLE and rc.refusal() == "not connected yet"
        job = rc.connect_job()
        assert rc.state is Link.CONNECTING and rc.connect_job() is None  # one at a time
        _run(rc, job)
        assert rc.connected and rc.info().connected and rc.info().seen
        cmd = plan_scale(0.5, [0.05], rc.toggle_mode())
        assert cmd.args == {"factor": 0.5, "mode": "pin"}
        notices = _run(rc, rc.send_job(cmd))
        assert rc.awaiting is None
        text = notices[0].text
        assert text.startswith("✓ exp: scale_lr applied at step") and "0.05 → 0.025" in text
        change = wait_for(
            lambda: next((r for r in records(t.log) if r.get("kind") == "lr_change"), None)
        )
        ev = Event("lr_change", change, change["step"], change["t"])
        assert rc.news([ev], now=change["t"]) == []  # ours: its ack said it already
        other = Event(
            "lr_change", {**change, "step": change["step"] + 7}, change["step"] + 7, change["t"]
        )
        news = rc.news([other], now=change["t"] + 1)
        assert (
            len(news) == 1
            and "changed at step" in news[0].text
            and "from elsewhere" in news[0].text
        )
        assert rc.news([other], now=change["t"] + 61) == []  # an old change is not news
    finally:
        t.kill()
        rc.close()


def test_a_killed_run_is_lost_after_the_grace_and_an_ended_one_is_not(tmp_path: Path) -> None:
    t = start_trainee(tmp_path, "exp", 10_000)
    head = header(t.log)
    rc = RunControl("exp", head["control"])
    try:
        _run(rc, rc.connect_job())
        assert rc.connected
        t.kill()
        ping = rc.ping_job()
        assert ping is not None
        events = ping()
        assert len(events) == 1 and isinstance(events[0], ControlState)
        assert not events[0].connected and events[0].error.startswith("lost")
        assert rc.handle_state(events[0], None, over=False) == []  # not yet: the end may come
        assert rc.state is Link.CHECKING and rc.info().checking
        notices = rc.settle(None, over=False)
        assert rc.state is Link.FAILED and rc.error.startswith("lost")
        assert "(the run wrote no end record)" in notices[0].text and notices[0].toast
        assert rc.connect_job() is None  # retried only after a pause
    finally:
        t.kill()
    ended = RunControl("exp", head["control"])
    ended.seen = True
    end = Event("end", {"status": "finished"}, 120, None)
    said = ended.run_ended(end)
    assert [n.text for n in said] == ["■ run exp finished at step 120; its control socket closed"]
    assert ended.run_ended(end) == [] and ended.state is Link.ENDED  # said once
    assert ended.connect_job() is None and ended.ping_job() is None


def test_a_read_only_run_says_so_and_connects_once_its_header_names_a_socket() -> None:
    rc = RunControl("exp")
    assert rc.state is Link.READ_ONLY and rc.refusal() == "read-only"
    assert rc.connect_job() is None
    rc.set_endpoint("unix:/nonexistent/exp.sock")
    assert rc.state is Link.IDLE
    job = rc.connect_job()
    assert job is not None
    notices = _run(rc, job)
    assert rc.state is Link.FAILED and rc.error
    assert notices and notices[0].error and "control of exp" in notices[0].text


def test_news_says_who_made_a_change_and_why_and_reports_rewinds_from_elsewhere() -> None:
    """A change the autopilot (in guard, another UI) made says so; a person's does not."""
    rc = RunControl("exp", "unix:/nonexistent.sock")
    by_pilot = {
        "old": [0.1],
        "new": [0.01],
        "op": "scale",
        "mode": "rescale",
        "by": "autopilot",
        "via": "unix",
        "reason": "divergence at step 120: ÷10",
    }
    news = rc.news([Event("lr_change", by_pilot, 130, 100.0)], now=101.0)
    assert len(news) == 1 and news[0].text.endswith(
        "0.1 → 0.01 (scale · rescale) by autopilot: divergence at step 120: ÷10"
    )
    by_person = {"old": [0.1], "new": [0.05], "op": "scale", "by": "unix"}
    assert "by" not in rc.news([Event("lr_change", by_person, 140, 100.0)], now=101.0)[0].text
    rewind = {
        "to_step": 100,
        "old": [0.1],
        "new": [0.01],
        "by": "autopilot",
        "via": "unix",
        "id": 7,
    }
    [notice] = rc.news([Event("rewind", rewind, 173, 100.0)], now=101.0)
    assert notice.text.startswith("⟲ exp rewound 173 → 100 from elsewhere: LR 0.1 → 0.01")
    assert notice.text.endswith("by autopilot")
    rc.ours_rewinds.add(7)  # a rewind of ours: its ack said it already
    assert rc.news([Event("rewind", rewind, 173, 100.0)], now=101.0) == []
