"""Key ``R``: rewind a live run to a snapshot, from the UI, over its real control socket.

The end-to-end test runs a real training process (``scripts/train_snap.py``: a Monitor with
``snapshot_every``); the dialog must list the snapshots the run reports, the run's log must
get the ``rewind`` record, and the status line must say what was rewound.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import Input, Label

from lrwatch.records import Event, Metrics
from lrwatch.session.control import Notice
from lrwatch.session.events import ControlReply
from lrwatch.store import MetricStore
from lrwatch.tui.app import READ_ONLY_HINT, LRWatchApp
from lrwatch.tui.rewind import (
    RunStatus,
    default_steps_back,
    plan_rewind,
    rewind_ack,
    reword,
)
from lrwatch.tui.widgets.rewind_dialog import (
    RewindScreen,
    outcome_text,
    parse_factor,
    parse_steps,
)

from .helpers import records, start_script, until

SCRIPT = Path(__file__).parent / "scripts" / "train_snap.py"


@pytest.fixture
def snap_run(tmp_path: Path) -> Iterator[Path]:
    """A live run that keeps a snapshot every 50 steps (the newest 10); stops at teardown."""
    log, stop = tmp_path / "snap.jsonl", tmp_path / "stop"
    sock = log.with_suffix(".sock")
    proc = start_script(SCRIPT, log, stop, ready=lambda: log.exists() and sock.exists())
    yield log
    stop.touch()
    proc.wait(30)


async def test_rewind_key_restores_a_snapshot_of_the_live_run(snap_run: Path) -> None:
    log = snap_run
    app = LRWatchApp(paths=[str(log)])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.control_info("snap").connected)
        # Three snapshots at least: the default goes ≥100 steps back to one of them.
        await until(pilot, lambda: (app.store.runs["snap"].last_step or 0) > 170, 60)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RewindScreen))
        screen = app.screen
        assert isinstance(screen, RewindScreen)
        snaps = screen.snapshots
        assert snaps and all(s % 50 == 0 for s in snaps)
        listed = str(screen.query_one("#snapshots", Label).render())
        assert f"{snaps[-1]:,}" in listed
        back = int(screen.query_one("#steps-back", Input).value)
        target = screen.step - back
        assert target in snaps and screen.step - target >= 100  # to a snapshot, ≥100 back
        assert screen.query_one("#factor", Input).value == "0.1"
        outcome = str(screen.query_one("#outcome", Label).render())
        assert f"restores the snapshot of step {target:,}" in outcome
        assert "0.05 → 5e-3" in outcome
        await pilot.press("enter")
        status = app.status_w
        await until(pilot, lambda: "rewound" in str(status.render()))
        await until(pilot, lambda: bool(records(log, "rewind")))  # flushed ≤100 ms later
        [rec] = records(log, "rewind")
        assert rec["to_step"] == target and rec["source"] == "snapshot"
        assert rec["new"] == [pytest.approx(0.005)] and rec["factor"] == pytest.approx(0.1)
        shown = str(status.render())
        assert f"rewound {rec['step']:,} → {target:,}, LR 0.05 → 5e-3" in shown
        # The UI reads the record back from the log, as it does an lr_change.
        run = app.store.runs["snap"]
        await until(pilot, lambda: any(e.kind == "rewind" for e in run.events))


async def test_escape_cancels_and_sends_nothing(snap_run: Path) -> None:
    log = snap_run
    app = LRWatchApp(paths=[str(log)])
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: app.control_info("snap").connected)
        await pilot.press("R")
        await until(pilot, lambda: isinstance(app.screen, RewindScreen))
        await pilot.press("escape")
        await until(pilot, lambda: "cancelled" in str(app.status_w.render()))
    assert not records(log, "rewind")


async def test_a_read_only_run_gets_the_control_keys_refusal() -> None:
    store = MetricStore()
    store.add("plain", [Event("run", {"run": "plain", "lr": [0.1]}, None, 1.0)])
    store.add("plain", [Metrics(i, {"loss": 1.0 / i, "lr": 0.1}, 1.0 + i) for i in range(1, 50)])
    app = LRWatchApp(store)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("R")
        expected = READ_ONLY_HINT.format(run="plain")
        await until(pilot, lambda: expected in str(app.status_w.render()))
        assert not isinstance(app.screen, RewindScreen)


# -- the plan, without an app ------------------------------------------------------------------


def test_default_goes_back_to_the_newest_snapshot_before_the_onset() -> None:
    snaps = [100, 200, 300, 400]
    assert default_steps_back(450, snaps, onset=320) == 150  # to 300: before the onset
    assert default_steps_back(450, snaps, onset=220) == 250  # to 200
    assert default_steps_back(450, snaps, onset=None) == 150  # to 300: ≥100 back
    assert default_steps_back(450, snaps, onset=50) == 350  # none before: the oldest, 100
    assert default_steps_back(450, [], onset=None) == 100  # no snapshots reported
    assert default_steps_back(30, [], onset=None) == 30  # never before step 0


def test_plan_names_the_target_step_and_the_snapshot_it_restores() -> None:
    cmd = plan_rewind(450, 150, 0.1, [0.03], [100, 200, 300], "pin")
    assert cmd.op == "rewind" and cmd.snapshot == 300
    assert cmd.args == {"to_step": 300, "scale_lr": 0.1, "mode": "pin"}
    assert cmd.new == [pytest.approx(0.003)]
    assert "restores the snapshot of step 300" in outcome_text(cmd)
    assert cmd.prompt("a") == "Rewind run a from step 450 to 300, LR 0.03 → 3e-3?"
    bare = plan_rewind(450, 400, None, [0.03], [100, 200, 300])
    assert "scale_lr" not in bare.args and bare.snapshot is None
    assert "the run will refuse" in outcome_text(bare)


def test_fields_are_checked_as_typed() -> None:
    assert parse_steps("1,000", 5000) == 1000
    assert parse_factor("") is None and parse_factor("none") is None
    assert parse_factor("1/10") == pytest.approx(0.1)
    for bad in ("0", "-3", "abc", "6000"):
        with pytest.raises(ValueError):
            parse_steps(bad, 5000)
    for bad in ("0", "nan", "x", "1/0", "1e9"):
        with pytest.raises(ValueError):
            parse_factor(bad)


def test_the_ack_says_what_was_rewound() -> None:
    reply = {"ok": True, "step": 1200, "to_step": 1100, "old": [0.03], "new": [0.003]}
    assert rewind_ack(reply) == "rewound 1,200 → 1,100, LR 0.03 → 3e-3"
    same = {"ok": True, "step": 1200, "to_step": 1100, "old": [0.03], "new": [0.03]}
    assert rewind_ack(same) == "rewound 1,200 → 1,100, LR 0.03"
    notices = [Notice("✓ a: rewind applied at step 1,200: 0.03 → 3e-3", toast="x")]
    [n] = reword(ControlReply("a", "rewind", True, reply), notices)
    assert n.text == "✓ a: rewound 1,200 → 1,100, LR 0.03 → 3e-3" and n.toast == n.text[5:]
    refused = [Notice("✗ a refused rewind: refused: no snapshot", error=True)]
    assert reword(ControlReply("a", "rewind", False, {}, "refused"), refused) == refused


def test_status_reply_is_read_defensively() -> None:
    s = RunStatus.of({"ok": True, "step": 7, "lr": [0.1], "snapshots": [5, "x", 2]})
    assert (s.step, s.lrs, s.snapshots) == (7, [0.1], [2, 5])
    bad = RunStatus.of({"ok": False, "error": {"code": "closed", "message": "run ended"}})
    assert bad.error == "run ended"
