"""The schedule preview of an LR-change confirmation: the pure renderer, and the dialog against
a real training process that forecasts its own schedule over its socket."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lrwatch.session.commands import plan_scale
from lrwatch.session.control import RunControl
from lrwatch.session.preview import NO_CONTROL, Forecast, ask_schedule
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.messages import ControlReply
from lrwatch.tui.schedule_plot import ASKING, WILL_BE_STYLE, preview_lines
from lrwatch.tui.widgets.dialogs import ConfirmScreen
from lrwatch.tui.widgets.schedule import SchedulePreview

from .helpers import start_script, until

TRAINEE = Path(__file__).resolve().parents[1] / "train" / "schedule_trainee.py"

DECAY = Forecast(100, list(range(101, 301)), [[1e-3 * 0.99 ** (i) for i in range(200)]])


def _plain(lines: list) -> str:  # type: ignore[type-arg]
    return "\n".join(line.plain for line in lines)


# -- the renderer ---------------------------------------------------------------------------


def test_asking_and_notes_are_shown_instead_of_a_chart() -> None:
    cmd = plan_scale(0.5, [1e-3], "rescale")
    assert _plain(preview_lines(None, cmd)) == ASKING
    assert _plain(preview_lines("no preview: read-only", cmd)) == "no preview: read-only"


def test_both_curves_are_drawn_with_the_steps_and_a_log_axis_past_10x() -> None:
    lines = preview_lines(DECAY, plan_scale(0.5, [1e-3], "rescale"), width=60, height=10)
    text = _plain(lines)
    assert len(lines) == 10 and all(line.cell_len <= 60 for line in lines)
    assert "LR schedule (log)" in lines[0].plain  # 1e-3 → 1.3e-4 × 0.5: more than 10×
    assert "as is" in lines[0].plain and "rescale ÷2" in lines[0].plain
    assert any(ch in text for ch in "⠁⠂⠄⡀⢀⣀") and "200" in lines[-1].plain
    bright = [s for line in lines[1:-1] for s in line.spans if s.style == WILL_BE_STYLE]
    dim = [s for line in lines[1:-1] for s in line.spans if s.style == "dim"]
    assert bright and dim


def test_pin_draws_a_flat_will_be_line_and_a_narrow_range_stays_linear() -> None:
    flat = Forecast(0, [1, 2, 3, 4], [[1e-3, 9e-4, 8e-4, 7e-4]])
    lines = preview_lines(flat, plan_scale(0.5, [1e-3], "pin"), width=40, height=8)
    assert "(log)" not in lines[0].plain and "pin ÷2" in lines[0].plain
    rescale = preview_lines(flat, plan_scale(0.5, [1e-3], "rescale"), width=40, height=8)
    assert _plain(lines) != _plain(rescale)


def test_a_forecast_that_is_not_exact_says_why_under_the_chart() -> None:
    f = Forecast(0, [1, 2], [[1e-3, 1e-3]], exact=False, why="no scheduler: flat")
    lines = preview_lines(f, plan_scale(0.1, [1e-3], "rescale"), height=8)
    assert len(lines) == 8 and lines[-1].plain == "⚠ no scheduler: flat"


def test_a_read_only_run_is_not_asked() -> None:
    assert ask_schedule(RunControl("r", None)) == NO_CONTROL


async def test_the_widget_shows_what_the_ask_returns() -> None:
    from textual.app import App, ComposeResult

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield SchedulePreview(None, plan_scale(0.5, [1e-3], "pin"), ask=lambda: DECAY)

    app = One()
    async with app.run_test(size=(70, 20)) as pilot:
        w = app.query_one(SchedulePreview)
        await until(pilot, lambda: "pin ÷2" in w.render().plain)


# -- the dialog against a real run ----------------------------------------------------------


def _start(tmp: Path, *extra: str) -> Iterator[Path]:
    log, stop = tmp / "sched.jsonl", tmp / "sched.stop"
    proc = start_script(
        TRAINEE, log, stop, *extra, ready=lambda: log.exists() and log.stat().st_size
    )
    yield log
    stop.touch()
    proc.wait(60)


@pytest.fixture
def scheduled(tmp_path: Path) -> Iterator[Path]:
    yield from _start(tmp_path)


@pytest.fixture
def loop_owned(tmp_path: Path) -> Iterator[Path]:
    yield from _start(tmp_path, "--loop-sets-lr")


def _dialog_text(app: LRWatchApp) -> str:
    return app.screen.query_one(SchedulePreview).render().plain


async def test_the_confirmation_previews_the_schedule_and_m_switches_to_pin(
    scheduled: Path,
) -> None:
    replies: list[ControlReply] = []
    hook = lambda m: replies.append(m) if isinstance(m, ControlReply) else None  # noqa: E731
    app = LRWatchApp(paths=[str(scheduled)])
    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await until(pilot, lambda: app.control_info("sched").connected)
        await until(pilot, lambda: bool(app.store.runs["sched"].last_step))
        await pilot.press("minus")
        assert isinstance(app.screen, ConfirmScreen)
        await until(pilot, lambda: "LR schedule" in _dialog_text(app))
        text = _dialog_text(app)
        assert "as is" in text and "rescale ÷2" in text and "⚠" not in text
        await pilot.press("m")
        await until(pilot, lambda: "pin ÷2" in _dialog_text(app))
        assert "(mode pin)" in app.screen.query_one("#question").render().plain  # type: ignore[attr-defined]
        await pilot.press("y")
        await until(pilot, lambda: bool(replies))
    assert replies[0].ok and replies[0].reply["mode"] == "pin"


async def test_a_loop_owned_lr_gets_a_note_instead_of_a_chart(loop_owned: Path) -> None:
    app = LRWatchApp(paths=[str(loop_owned)])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.control_info("sched").connected)
        await pilot.press("minus")
        assert isinstance(app.screen, ConfirmScreen)
        await until(pilot, lambda: "the loop sets the LR itself" in _dialog_text(app))
        assert "LR schedule" not in _dialog_text(app)
        await pilot.press("n")
