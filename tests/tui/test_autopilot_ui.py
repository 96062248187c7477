"""Key ``A`` (the autopilot) and ``x`` (cancel its countdown) against a real diverging run.

The trainee (``scripts/train_snap.py`` at LR 1.02) is a real separate training process whose
loss grows ~8% a step: the rules call it a divergence (error, fix ÷10). The autopilot's
countdown runs on an injected clock, so the tests decide when it runs out (no sleeps); the
app's own one-second tick does the rest, as it does for a user. During the countdown the bar
shows the run's schedule as it is and as the change makes it (asked of the run itself), or
for a rewind (``scripts/train_blowup.py``, which diverges when the test says so) the snapshot
and the LR it restores.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lrwatch.records import Event, Metrics
from lrwatch.session.autopilot import Autopilot, Bounds
from lrwatch.session.commands import Command
from lrwatch.session.control import RunControl
from lrwatch.session.preview import Forecast, ask_schedule
from lrwatch.store import MetricStore
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.autopilot_view import ALL, lr_at, rewind_preview
from lrwatch.tui.schedule_plot import ASKING

from .helpers import records, until

SCRIPT = Path(__file__).parent / "scripts" / "train_snap.py"
BLOWUP = Path(__file__).parent / "scripts" / "train_blowup.py"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Gate:
    """The real schedule request, held until the test opens the gate; counts the asks."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.asked = 0

    def __call__(self, rc: RunControl) -> Forecast | str:
        self.asked += 1
        self.opened.wait(30)  # bounded: a failing test must not leave the worker hanging
        return ask_schedule(rc)


def _start(log: Path, *args: str) -> subprocess.Popen[bytes]:
    """A trainee script, once its log and control socket exist."""
    proc = subprocess.Popen([sys.executable, *args])
    deadline = time.monotonic() + 60
    while not (log.exists() and log.with_suffix(".sock").exists()):
        assert proc.poll() is None, "trainer died"
        assert time.monotonic() < deadline, "trainer did not start"
        time.sleep(0.05)
    return proc


@pytest.fixture
def diverging(tmp_path: Path) -> Iterator[Path]:
    """A live run at LR 1.02 (diverging slowly); stops at teardown."""
    log, stop = tmp_path / "snap.jsonl", tmp_path / "stop"
    proc = _start(log, str(SCRIPT), str(log), str(stop), "1.02")
    yield log
    stop.touch()
    proc.wait(30)


@pytest.fixture
def blowup(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A stable live run that keeps snapshots and diverges once its GO file exists:
    (log, go); stops at teardown."""
    log, stop, go = tmp_path / "snap.jsonl", tmp_path / "stop", tmp_path / "go"
    proc = _start(log, str(BLOWUP), str(log), str(stop), str(go))
    yield log, go
    stop.touch()
    proc.wait(30)


def _bar(app: LRWatchApp) -> str:
    return app.autopilot.bar.text


def _preview(app: LRWatchApp) -> str:
    """What the bar shows under its line ("" when nothing)."""
    widget = app.autopilot.bar.preview
    return "" if widget is None else str(widget.render())


async def _one_line_again(pilot: object, app: LRWatchApp) -> None:
    """The preview is gone and the bar is one line again."""
    await until(pilot, lambda: app.autopilot.bar.preview is None)
    await until(pilot, lambda: app.autopilot.bar.size.height == 1)


async def _announced(pilot: object, app: LRWatchApp, log: Path) -> None:
    """Connect, switch the autopilot on for the run, wait for its countdown."""
    await until(pilot, lambda: app.control_info("snap").connected, 60)
    await pilot.press("A")  # type: ignore[attr-defined]
    assert app.autopilot.scope == "snap"
    # The status line says so; the bar too, unless a countdown already took it over.
    assert "autopilot on · run snap" in str(app.status_w.render()) and app.autopilot.bar.display
    await until(pilot, lambda: bool(app.autopilot.countdowns), 60)


async def test_a_change_is_announced_then_sent_when_the_countdown_runs_out(
    diverging: Path,
) -> None:
    log, clock, gate = diverging, Clock(), Gate()
    app = LRWatchApp(paths=[str(log)])
    app.autopilot.clock, app.autopilot.ask = clock, gate
    async with app.run_test(size=(120, 40)) as pilot:
        await _announced(pilot, app, log)
        d = app.autopilot.countdowns[0]
        bar = _bar(app)
        assert f"autopilot: ÷10 on run snap ({d.what}) in 5 s — x cancels" in bar
        assert d.what.startswith("divergence since step")
        # Under the line: asking the run (a worker), then its schedule as is and as ÷10.
        await until(pilot, lambda: ASKING in _preview(app))
        # The bar grows to hold it once the layout has run (a refresh after the content).
        await until(pilot, lambda: app.autopilot.bar.size.height > 1)
        gate.opened.set()
        await until(pilot, lambda: "LR schedule" in _preview(app))
        shown = _preview(app)
        assert "as is" in shown and "rescale ÷10" in shown and "no scheduler: flat" in shown
        clock.now += 2
        await until(pilot, lambda: "in 3 s" in _bar(app))  # the app's tick redraws it
        assert "rescale ÷10" in _preview(app) and gate.asked == 1  # asked once, not per tick
        assert not records(log, "lr_change")  # nothing sent during the countdown
        clock.now += 3
        await until(pilot, lambda: "✓ snap: scale_lr applied" in str(app.status_w.render()))
        await until(pilot, lambda: bool(records(log, "lr_change")))  # flushed ≤100 ms later
        [rec] = records(log, "lr_change")
        assert rec["by"] == "autopilot" and rec["finding"] == d.finding
        assert rec["reason"].startswith("divergence at step")
        assert rec["new"] == [pytest.approx(0.102)]
        assert not app.autopilot.countdowns and "x cancels" not in _bar(app)
        await _one_line_again(pilot, app)
        # The ordinary chart marker: the run's own record, read back from its log.
        run = app.store.runs["snap"]
        await until(pilot, lambda: any(e.kind == "lr_change" for e in run.events))
        await until(pilot, lambda: not app.autopilot.sent)  # the policy got the ack


async def test_x_cancels_the_countdown_and_notes_it_in_the_log(diverging: Path) -> None:
    log, clock = diverging, Clock()
    app = LRWatchApp(paths=[str(log)])
    app.autopilot.clock = clock
    async with app.run_test(size=(120, 40)) as pilot:
        await _announced(pilot, app, log)
        d = app.autopilot.countdowns[0]
        await until(pilot, lambda: "rescale ÷10" in _preview(app))
        await pilot.press("x")
        assert not app.autopilot.countdowns
        assert "cancelled" in str(app.status_w.render())
        await _one_line_again(pilot, app)
        await until(pilot, lambda: bool(records(log, "note")), 30)
        [note] = records(log, "note")
        assert note["by"] == "autopilot" and note["finding"] == d.finding
        assert note["reason"] == "cancelled by a person"
        clock.now += 60  # long past the countdown: the cancelled change is never sent
        app.autopilot.tick()
        assert not app.autopilot.sent and not app.autopilot.countdowns
        assert not records(log, "lr_change")


async def test_a_rewind_countdown_shows_the_snapshot_and_the_lr_it_restores(
    blowup: tuple[Path, Path],
) -> None:
    (log, go), clock = blowup, Clock()
    app = LRWatchApp(paths=[str(log)])
    app.autopilot.clock = clock
    app.autopilot.pilot = Autopilot(Bounds(actions=frozenset({"decrease", "rewind"})))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.control_info("snap").connected, 60)
        await pilot.press("A")
        # The autopilot asks the run for its snapshots; then the trouble starts.
        await until(pilot, lambda: app.autopilot.statuses.get("snap", {}).get("snapshots"), 30)
        go.touch()
        await until(pilot, lambda: bool(app.autopilot.countdowns), 60)
        d = app.autopilot.countdowns[0]
        assert d.kind == "rewind" and d.command is not None
        to = d.command.extra["to_step"]
        assert f"rewind to step {to}, ÷10" in _bar(app)
        await until(pilot, lambda: "restores the snapshot" in _preview(app))
        shown = _preview(app)
        # The LR the run logged at the snapshot (before the ×25), scaled as it will be.
        assert f"restores the snapshot of step {to:,}" in shown
        assert f"LR at step {to:,}: 0.05 → 5e-3 (÷10, rescale)" in shown
        assert "LR schedule" not in shown  # no schedule chart for a rewind
        clock.now += 5
        await until(pilot, lambda: bool(records(log, "rewind")), 30)
        await until(pilot, lambda: "rewound" in str(app.status_w.render()))
        await _one_line_again(pilot, app)
        [rec] = records(log, "rewind")
        assert rec["to_step"] == to and rec["by"] == "autopilot"
        assert rec["new"] == [pytest.approx(0.005)]


async def test_a_cycles_off_this_run_every_run() -> None:
    store = MetricStore()
    store.add("plain", [Event("run", {"run": "plain", "lr": [0.1]}, None, 1.0)])
    store.add("plain", [Metrics(i, {"loss": 1.0 / i, "lr": 0.1}, 1.0 + i) for i in range(1, 50)])
    app = LRWatchApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        assert not app.autopilot.bar.display
        await pilot.press("A")
        assert app.autopilot.scope == "plain" and "run plain" in _bar(app)
        assert app.autopilot.runs() == []  # read-only: nothing it could steer
        await pilot.press("A")
        assert app.autopilot.scope == ALL and "every run" in _bar(app)
        await pilot.press("A")
        assert app.autopilot.scope is None and not app.autopilot.bar.display
        await pilot.press("x")
        assert "no automatic change to cancel" in str(app.status_w.render())


async def test_the_autopilot_flag_starts_it_on_for_every_run_with_its_bounds() -> None:
    """``lrwatch watch|run|attach|demo --autopilot --allow …``: the same flags as guard's,
    with the UI's countdown; the app starts with the autopilot on for every run."""
    from lrwatch.cli import build_parser
    from lrwatch.commands._autopilot_args import UI_COUNTDOWN, ui_bounds

    for argv in (
        ["watch", "runs/", "--autopilot", "--allow", "decrease,rewind", "--max-changes", "1"],
        ["demo", "too-high", "--autopilot", "--allow", "decrease,rewind", "--max-changes", "1"],
        [
            "attach",
            "unix:x.sock",
            "--autopilot",
            "--allow",
            "decrease,rewind",
            "--max-changes",
            "1",
        ],
        ["run", "--autopilot", "--allow", "decrease,rewind", "--max-changes", "1", "--", "true"],
    ):
        bounds = ui_bounds(build_parser().parse_args(argv), argv[0])
        assert bounds is not None, argv
        assert bounds.actions == {"decrease", "rewind"} and bounds.max_changes == 1
        assert bounds.countdown == UI_COUNTDOWN > 0  # a person is there to cancel
    assert ui_bounds(build_parser().parse_args(["watch", "runs/"]), "watch") is None
    with pytest.raises(SystemExit) as exc:
        ui_bounds(build_parser().parse_args(["watch", "runs/", "--max-changes", "2"]), "watch")
    assert exc.value.code == 2
    store = MetricStore()
    store.add("plain", [Metrics(i, {"loss": 1.0 / i, "lr": 0.1}, 1.0 + i) for i in range(1, 9)])
    app = LRWatchApp(store, autopilot=Bounds(actions=frozenset({"decrease", "rewind"})))
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "every run" in _bar(app))
        assert app.autopilot.scope == ALL and "decrease, rewind" in _bar(app)
        await pilot.press("A")  # from every run, A switches it off
        assert app.autopilot.scope is None


def test_a_rewind_preview_says_the_snapshot_and_the_lr_before_and_after() -> None:
    cmd = Command("rewind", extra={"to_step": 1200, "scale_lr": 0.1, "mode": "pin"})
    assert str(rewind_preview(cmd, [0.03])).splitlines() == [
        "rewind: restores the snapshot of step 1,200",
        "LR at step 1,200: 0.03 → 3e-3 (÷10, pin)",
    ]
    keep = Command("rewind", extra={"to_step": 5})
    assert str(rewind_preview(keep, [0.03, 0.01])).endswith("LR at step 5: 0.03 0.01, kept")
    assert str(rewind_preview(cmd, None)).endswith("LR: the snapshot's, then ÷10, pin")


def test_the_lr_at_a_step_is_the_last_logged_at_or_before_it_on_the_newest_branch() -> None:
    store = MetricStore()
    rows = [(s, 0.1 if s <= 20 else 1.0) for s in range(1, 31)]
    rows += [(s, 0.01) for s in range(11, 16)]  # rewound to 10, on with ÷10
    store.add("r", [Metrics(s, {"loss": 1.0, "lr": lr, "lr/pg1": lr / 2}) for s, lr in rows])
    run = store.runs["r"]
    assert lr_at(run, 12) == [0.01, 0.005]  # the newest branch's
    assert lr_at(run, 25) == [1.0, 0.5]  # only the old branch logged it
    assert lr_at(run, 40) == [0.01, 0.005]  # none logged: the last one before it
    assert lr_at(run, 0) is None
