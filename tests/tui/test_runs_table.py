"""The runs table over a real sweep: members written by separate processes, some crashing,
one diverging, one live with a control socket; sorted, filtered, marked and opened."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.runs_view import TABLE_AT
from lrwatch.tui.widgets.runs_table import RunsScreen
from tests.control.ctlhelp import env
from tests.tui.helpers import until

MEMBER = Path(__file__).parent / "scripts" / "sweep_member.py"


def _member(log: Path, *args: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, str(MEMBER), str(log), *args]
    return subprocess.Popen(cmd, env=env(), stderr=subprocess.DEVNULL)


@pytest.fixture
def sweep(tmp_path: Path) -> Iterator[Path]:
    """A sweep directory: 9 finished members, 2 crashed, 1 diverging, 1 live (held)."""
    root = tmp_path / "sweep"
    root.mkdir()
    procs = [
        _member(root / f"lr{i}.jsonl", "--steps", "120", "--lr", f"{i + 1}e-3") for i in range(9)
    ]
    procs += [
        _member(root / f"crash{i}.jsonl", "--steps", "120", "--crash-at", "60") for i in range(2)
    ]
    procs.append(_member(root / "diverge.jsonl", "--steps", "60", "--diverge-at", "30"))
    for p in procs:
        p.wait(timeout=120)
    hold = tmp_path / "hold"
    live = _member(root / "live.jsonl", "--steps", "50", "--hold", str(hold), "--control", "unix")
    try:
        yield root
    finally:
        hold.touch()
        try:
            live.wait(timeout=60)
        except subprocess.TimeoutExpired:
            live.kill()


def _table(app: LRWatchApp) -> RunsScreen:
    screen = app.runs_view.screen
    assert screen is not None
    return screen


def _names(app: LRWatchApp) -> list[str]:
    return [r.name for r in _table(app).table.rows]


async def test_a_sweep_opens_on_the_table_which_sorts_filters_marks_and_opens(sweep: Path) -> None:
    assert len(list(sweep.glob("*.jsonl"))) >= TABLE_AT
    app = LRWatchApp(paths=[str(sweep)])
    async with app.run_test(size=(130, 40)) as pilot:
        await until(pilot, lambda: app.runs_view.shown and len(_table(app).table.all_rows) == 13)
        rows = lambda: _table(app).table.all_rows  # noqa: E731
        # States from the logs; the live run's socket answers; the rules judge the diverging one.
        await until(pilot, lambda: rows()["live"].controllable and rows()["live"].state == "live")
        await until(pilot, lambda: rows()["diverge"].severity == 2)
        assert {n for n, r in rows().items() if r.state == "crashed"} == {"crash0", "crash1"}
        assert rows()["lr3"].state == "finished" and rows()["lr3"].step == 119
        assert not rows()["lr3"].controllable  # its run is over
        text = app.screen.query_one("#runs-header").render()
        assert "loss~" in str(text) and "worst finding" in str(text)

        # Sort: s steps through the columns (name, state, step, loss…), S reverses.
        for _ in range(3):
            await pilot.press("s")
        assert _table(app).state.sort_key == "loss"
        losses = [r.loss for r in _table(app).table.rows if r.loss is not None and r.loss == r.loss]
        assert losses == sorted(losses)
        await pilot.press("S")
        losses = [r.loss for r in _table(app).table.rows if r.loss is not None and r.loss == r.loss]
        assert losses == sorted(losses, reverse=True)

        # Filter on a state, then on a symptom; Escape clears it.
        await pilot.press("slash", *"crashed", "enter")
        assert sorted(_names(app)) == ["crash0", "crash1"]
        await pilot.press("escape")
        assert len(_names(app)) == 13
        symptom = rows()["diverge"].finding  # the worst open finding of the blow-up
        await pilot.press("slash", *symptom, "enter")
        assert "diverge" in _names(app)
        assert all(rows()[n].finding == symptom for n in _names(app))
        await pilot.press("escape")

        # Mark two runs, open: the charts overlay them; Escape comes back to the table.
        table = _table(app).table
        table.move_to(_names(app).index("lr0"))
        await pilot.press("space")  # marks, and moves down: the next run is not marked
        table.move_to(_names(app).index("lr8"))
        await pilot.press("space", "enter")
        await until(pilot, lambda: not app.runs_view.shown)
        assert app.view.overlay and [r.name for r in app.shown_runs()] == ["lr0", "lr8"]
        assert app.current_run is not None and app.current_run.name == "lr0"
        await pilot.press("escape")
        await until(pilot, lambda: app.runs_view.shown)
        assert _table(app).state.marked == {"lr0", "lr8"}  # the table kept its marks

        # Enter on one unmarked run, with no marks: that run alone.
        await pilot.press("u")
        table.move_to(_names(app).index("crash1"))
        await pilot.press("enter")
        await until(pilot, lambda: not app.runs_view.shown)
        assert not app.view.overlay and app.current_run is not None
        assert app.current_run.name == "crash1"


async def test_new_runs_appear_in_the_table_as_they_are_created(sweep: Path) -> None:
    app = LRWatchApp(paths=[str(sweep)])
    async with app.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: app.runs_view.shown and len(_table(app).table.all_rows) == 13)
        _member(sweep / "late.jsonl", "--steps", "30").wait(timeout=60)
        await until(pilot, lambda: "late" in _table(app).table.all_rows)
        await until(pilot, lambda: _table(app).table.all_rows["late"].step == 29)
        assert "14 runs" in str(app.screen.query_one("#runs-title").render())


async def test_r_opens_the_table_over_a_few_runs_and_enter_comes_back(tmp_path: Path) -> None:
    for i in range(2):
        _member(tmp_path / f"r{i}.jsonl", "--steps", "20").wait(timeout=60)
    app = LRWatchApp(paths=[str(tmp_path)])
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: len(app.run_names) == 2 and app.current_run is not None)
        assert not app.runs_view.shown  # two runs: the charts first
        await pilot.press("r")
        await until(pilot, lambda: app.runs_view.shown and len(_table(app).table.rows) == 2)
        _table(app).table.move_to(_names(app).index("r1"))
        await pilot.press("enter")
        await until(pilot, lambda: not app.runs_view.shown)
        assert app.current_run is not None and app.current_run.name == "r1"


async def test_a_hung_run_whose_sampler_writes_on_is_not_live(tmp_path: Path) -> None:
    """System records keep the file's mtime fresh; the run's training records stopped long
    ago: the header and the table call it idle, not live."""
    import json
    import time

    now = time.time()
    log = tmp_path / "hung.jsonl"
    lines = [{"kind": "run", "v": 1, "run": "hung", "t": now - 900}]
    lines += [{"step": i, "t": now - 900 + i, "loss": 1.0, "lr": 1e-3} for i in range(50)]
    lines += [
        {"kind": "system", "step": 49, "t": now - 600 + 60 * k, "cpu_percent": 3.0}
        for k in range(11)
    ]
    log.write_text("".join(json.dumps(x) + "\n" for x in lines))
    app = LRWatchApp(paths=[str(log)])
    async with app.run_test(size=(100, 30)) as pilot:
        await until(
            pilot, lambda: "hung" in app.store.runs and app.store.runs["hung"].records >= 60
        )
        run = app.store.runs["hung"]
        assert "sys/cpu_percent" in run.series  # the system records were read
        assert app.last_write(run) == pytest.approx(now - 900 + 49, abs=1e-3)
        assert app.run_row("hung").state == "idle"


async def test_an_lr_change_made_from_a_row_is_acknowledged_on_the_table(tmp_path: Path) -> None:
    """`-` on a live row scales that run's LR (a real torch trainee over its socket); the
    table's own status line shows the run's acknowledgement, and the row shows the new LR."""
    from tests.control.ctlhelp import start_trainee

    for i in range(TABLE_AT - 1):
        _member(tmp_path / f"done{i}.jsonl", "--steps", "40").wait(timeout=60)
    trainee = start_trainee(tmp_path, "live", 100_000, "--sleep", "0.02")
    try:
        app = LRWatchApp(paths=[str(tmp_path)])
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda: app.runs_view.shown and "live" in _table(app).table.all_rows)
            await until(pilot, lambda: _table(app).table.all_rows["live"].controllable, 60)
            _table(app).table.move_to(_names(app).index("live"))
            await pilot.press("minus")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("y")
            status = _table(app).status_w
            await until(pilot, lambda: "scale_lr applied" in str(status.render()), 60)
            assert "0.05 → 0.025" in str(status.render()) or "5e-2 → 2.5e-2" in str(status.render())
            await until(pilot, lambda: _table(app).table.all_rows["live"].lr == 0.025, 60)
    finally:
        trainee.kill()
