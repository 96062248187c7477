"""Pilot tests: keys in, what the app did out (fixed data, no control socket)."""

from __future__ import annotations

from lrwatch.rules.finding import Finding
from lrwatch.store import MetricStore
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.messages import FindingsChanged, SourceProblem
from lrwatch.tui.widgets.dialogs import HelpScreen

from .helpers import finding, until


def _text(app: LRWatchApp, selector: str) -> str:
    return app.query_one(selector).render().plain  # type: ignore[union-attr]


async def test_view_keys_change_the_charts(store: MetricStore) -> None:
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert "loss" in _text(app, "#loss") and "(log)" not in _text(app, "#loss").splitlines()[0]
        await pilot.press("l")
        assert app.view.log_y and "(log)" in _text(app, "#loss").splitlines()[0]
        await pilot.press("w")
        assert app.view.window == 100
        assert "last 100" in _text(app, "#status")
        await pilot.press("s")
        assert app.view.smoothing == 0.95 and "smoothed 0.95" in _text(app, "#loss")
        await pilot.press("f")
        assert not app.view.follow and app.view.frozen_hi == 599
        header = _text(app, "#header")
        assert "exp1" in header and "live" in header and "599" in header


async def test_lr_keys_on_a_read_only_run_say_how_to_fix_it(store: MetricStore) -> None:
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("minus")
        status = _text(app, "#status")
        assert "read-only" in status and "lrwatch.Monitor()" in status
        assert app.query_one("#status").has_class("error")
        assert "read-only" in _text(app, "#header")


async def test_findings_select_and_errors_are_visible(store: MetricStore) -> None:
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(FindingsChanged("exp1", [finding(100, "warning"), finding(200)]))
        await until(pilot, lambda: "findings (2)" in _text(app, "#findings"))
        panel = _text(app, "#findings")
        assert "findings (2)" in panel and panel.index("ERROR") < panel.index("WARNING")
        await pilot.press("j")
        assert app.query_one("#findings").current.id == "f100"  # type: ignore[attr-defined]
        app.post_message(SourceProblem("lost connection to unix:/x.sock"))
        await until(pilot, lambda: "lost connection" in _text(app, "#status"))


async def test_help_and_run_switching(store: MetricStore) -> None:
    store.add("exp2", [])
    store.runs["exp2"].metric("loss").extend(range(10), [1.0] * 10)
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("n")
        assert app.current_run is not None and app.current_run.name == "exp2"
        assert "2/2" in _text(app, "#header")
        await pilot.press("o")
        legend = _text(app, "#loss").splitlines()[0]
        assert "1 exp1" in legend and "2 exp2" in legend


async def test_the_lr_dialog_validates_and_stays_compact(store: MetricStore) -> None:
    from textual.widgets import Input

    from lrwatch.tui.widgets.dialogs import LRInputScreen

    results: list[float | None] = []
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(LRInputScreen("3e-3"), results.append)
        await pilot.pause()
        assert app.screen.query_one(Input).region.height == 3
        await pilot.press(*"abc", "enter")
        assert isinstance(app.screen, LRInputScreen)  # an invalid value does not close it
        assert "not a number" in str(app.screen.query_one("#why").render())
        await pilot.press("ctrl+a", "ctrl+k", *"1e-3", "enter")
        assert results == [1e-3]


async def test_every_key_action_is_in_the_command_palette(store: MetricStore) -> None:
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(100, 30)) as pilot:
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        assert "lrwatch: Log-y" in commands and "lrwatch: ÷10" in commands
        assert "[key ?]" in commands["lrwatch: Help"].help
        assert commands["lrwatch: ×2"].help.endswith("[key + or =]")
        commands["lrwatch: Log-y"].callback()
        await until(pilot, lambda: app.view.log_y)


def _resolved(step: int) -> Finding:
    f = finding(step, "warning")
    f.symptom, f.id, f.resolved = "loss_spike", f"r{step}", True
    return f


async def test_selection_follows_the_newest_worst_open_finding_unless_moved_by_hand(
    store: MetricStore,
) -> None:
    app = LRWatchApp(store, clock=lambda: 1650.0)
    now = [0.0]
    async with app.run_test(size=(120, 40)) as pilot:
        panel = app.findings_w
        panel.clock = lambda: now[0]
        app.post_message(FindingsChanged("exp1", [_resolved(50)]))
        await until(pilot, lambda: panel.current is not None)
        # New open findings arrive above the resolved card: the selection goes to the worst.
        app.post_message(FindingsChanged("exp1", [_resolved(50), finding(100, "warning")]))
        await until(pilot, lambda: len(panel.findings) == 2)
        assert panel.current.id == "f100"
        app.post_message(
            FindingsChanged("exp1", [_resolved(50), finding(100, "warning"), finding(200)])
        )
        await until(pilot, lambda: len(panel.findings) == 3)
        assert panel.current.id == "f200"  # error before warning
        # Chosen by hand: it stays while new findings come in...
        await pilot.press("j")
        assert panel.current.id == "f100"
        now[0] = 10.0
        app.post_message(
            FindingsChanged(
                "exp1", [_resolved(50), finding(100, "warning"), finding(200), finding(300)]
            )
        )
        await until(pilot, lambda: len(panel.findings) == 4)
        assert panel.current.id == "f100"
        # ...until the hold has passed: then the newest of the worst again.
        now[0] = 100.0
        app.post_message(
            FindingsChanged(
                "exp1", [_resolved(50), finding(100, "warning"), finding(200), finding(300)]
            )
        )
        await until(pilot, lambda: panel.current.id == "f300")


async def test_a_on_a_resolved_finding_is_refused_clearly(store: MetricStore) -> None:
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(FindingsChanged("exp1", [_resolved(50)]))
        await until(pilot, lambda: app.findings_w.current is not None)
        await pilot.press("a")
        status = _text(app, "#status")
        assert "loss_spike since 50 is resolved" in status and "not applied" in status
        assert app.screen is app.screen_stack[0]  # no confirmation was opened


async def test_a_without_findings_says_so_and_the_message_goes_when_findings_come(
    store: MetricStore,
) -> None:
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("a")
        assert _text(app, "#status") == "no findings to apply"
        app.post_message(FindingsChanged("exp1", [finding(100)]))
        await until(pilot, lambda: app.findings_w.current is not None)
        status = _text(app, "#status")
        assert "no findings" not in status and "one-key" not in status
        assert status == app.view.describe()
        assert not app.status_w.has_class("error")
