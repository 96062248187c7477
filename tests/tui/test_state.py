"""Run state and control status: pure functions deciding what the header says about a run."""

from __future__ import annotations

from lrwatch.records import Event, Metrics
from lrwatch.store import MetricStore, RunData
from lrwatch.tui.summary import (
    STALL_AFTER,
    ControlInfo,
    RunSummary,
    control_status,
    fmt_age,
    render_header,
    run_state,
    short_name,
    stall_threshold,
    summarize,
)


def _run(n: int = 50, every: float = 1.0, **header: object) -> RunData:
    store = MetricStore()
    recs: list = [Event("run", {"run": "r", "t": 0.0, **header}, None, 0.0)]
    recs += [Metrics(i, {"loss": 1.0 / (i + 1), "lr": 1e-3}, i * every) for i in range(n)]
    store.add("r", recs)
    return store.runs["r"]


def test_a_quiet_log_is_idle_and_a_quiet_live_run_is_stalled() -> None:
    run = _run()
    assert run_state(run, now=60.0, last_write=49.0) == "live"
    # A CSV / console log of a finished run: no end record, nothing written for hours.
    assert run_state(run, now=3 * 3600.0, last_write=49.0) == "idle"
    # The same silence from a run whose socket answered (or whose child still runs).
    assert run_state(run, now=3 * 3600.0, last_write=49.0, alive=True) == "stalled"
    # Before any record, and without knowing when it last wrote.
    assert run_state(RunData("empty"), now=1e9, last_write=0.0) == "waiting"
    assert run_state(run, now=1e9, last_write=None) == "live"


def test_end_and_pause_records_decide_before_silence() -> None:
    run = _run()
    run.add([Event("pause", {}, 49, 49.0)])
    assert run_state(run, now=1e6, last_write=49.0, alive=True) == "paused"
    run.add([Event("resume", {}, 49, 50.0), Event("end", {"status": "finished"}, 49, 50.0)])
    assert run_state(run, now=1e6, last_write=50.0) == "finished"
    crashed = _run()
    crashed.add([Event("end", {"status": "crashed"}, 49, 50.0)])
    assert run_state(crashed, now=51.0, last_write=50.0) == "crashed"


def test_a_run_that_logs_rarely_is_not_called_idle_between_its_logs() -> None:
    assert stall_threshold(_run(every=1.0)) == STALL_AFTER
    slow = _run(every=120.0)  # one record every two minutes (big model, logging every N steps)
    assert stall_threshold(slow) == 600.0
    last = 49 * 120.0
    assert run_state(slow, last + 300.0, last, stall_after=stall_threshold(slow)) == "live"
    assert run_state(slow, last + 700.0, last, stall_after=stall_threshold(slow)) == "idle"


def test_summary_says_how_long_ago_an_idle_run_wrote() -> None:
    run = _run()
    s = summarize(run, now=49.0 + 3 * 3600, last_write=49.0, control=ControlInfo())
    assert s.state == "idle" and s.quiet_for == 3 * 3600
    assert s.elapsed == 49.0  # the run's own duration, not the hours since it stopped
    wide = render_header(s, width=200).plain
    assert "● idle last write 3h ago" in wide
    narrow = render_header(s, width=80).plain.splitlines()
    assert "● idle 3h ago" in narrow[0] and all(len(x) <= 80 for x in narrow)
    # A socket that answered once makes the same silence "stalled".
    seen = ControlInfo("unix:/x/r.sock", seen=True)
    assert summarize(run, 49.0 + 3600, 49.0, seen).state == "stalled"


def test_control_status_of_a_finished_run_is_calm() -> None:
    lost = ControlInfo("unix:/x/r.sock", False, "lost: [Errno 32] Broken pipe", seen=True)
    assert control_status(lost, "finished") == ("– run finished", "dim")
    assert control_status(lost, "crashed") == ("– run crashed", "dim")
    text, style = control_status(lost, "live")
    assert text.startswith("✗ lost: [Errno 32]") and "red" in style
    checking = ControlInfo("unix:/x/r.sock", checking=True, seen=True)
    assert control_status(checking, "live", compact=True)[1] == "dim"
    ok = ControlInfo("unix:/x/r.sock", True, seen=True)
    assert control_status(ok, "live", compact=True) == ("✓ r.sock", "bold green")
    # An old log's dead socket: not the UI's failure, and not alarming.
    old = ControlInfo("unix:/x/r.sock", False, "connection refused")
    assert control_status(old, "idle")[1] == "dim"
    assert control_status(old, "live")[1] == "bold red"
    assert control_status(ControlInfo(), "live") == ("read-only", "bold yellow")


def test_finished_header_has_no_error_text() -> None:
    s = RunSummary("lr-too-high", "finished", 120, 29.9, 4.0, 4.7, 0.02, [0.111])
    s.control = ControlInfo("unix:/tmp/d/lr-too-high.sock", False, "lost: Broken pipe", seen=True)
    for width in (80, 120, 200):
        line2 = render_header(s, width=width).plain.splitlines()[1]
        assert "control – run finished" in line2 and "✗" not in line2 and "lost" not in line2


def test_ages_and_short_names() -> None:
    assert [fmt_age(x) for x in (42, 125, 3 * 3600 + 5, 2 * 86400)] == ["42s", "2m", "3h", "2d"]
    assert short_name("lr-too-high") == "lr-too-high"
    long = short_name("lightning_sgd_lr8_nan_metrics")
    assert len(long) == 24 and long.startswith("lightning_") and long.endswith("_metrics")
