"""Pilot tests of the demo UI: the picker's keys, and the guidance the demo app adds."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.geometry import Offset

from lrwatch.demos.registry import SCENARIOS
from lrwatch.records import Event, Metrics
from lrwatch.rules.finding import Finding
from lrwatch.store import MetricStore
from lrwatch.tui.demo import AboutScreen, DemoApp, DemoPicker
from lrwatch.tui.messages import ChildExited, FindingsChanged

from .helpers import until
from .test_footer import screen_lines

NAMES = list(SCENARIOS)


async def _pick(*keys: str, initial: int = 0) -> str | None:
    app = DemoPicker(list(SCENARIOS.values()), initial)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(*keys)
        # Enter/q close the app through a message: wait for it, not for one pause.
        await until(pilot, lambda: app.return_value is not None or not app.is_running)
    return app.return_value


async def test_picker_arrows_and_enter_start_the_highlighted_demo() -> None:
    assert await _pick("enter") == NAMES[0]
    assert await _pick("down", "down", "enter") == NAMES[2]
    assert await _pick("down", "down", "up", "enter") == NAMES[1]
    assert await _pick("j", "j", "j", "k", "enter") == NAMES[2]
    # The picker comes back after a demo with the next one highlighted.
    assert await _pick("enter", initial=4) == NAMES[4]
    assert await _pick("up", "enter", initial=0) == NAMES[-1]  # the list wraps around


async def test_picker_q_and_escape_quit_without_a_demo() -> None:
    assert await _pick("q") is None
    assert await _pick("down", "escape") is None


async def test_picker_lists_every_demo_and_details_the_highlighted_one() -> None:
    app = DemoPicker(list(SCENARIOS.values()))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        listing = "\n".join(str(o.prompt) for o in app.query_one("#demos").options)  # type: ignore[attr-defined]
        for sc in SCENARIOS.values():
            assert sc.name in listing and sc.description in listing and sc.symptom in listing
        await pilot.press("down")
        too_high = SCENARIOS[NAMES[1]]

        def detail() -> str:
            return str(app.query_one("#detail").render()).replace("\n", " ")

        # The highlight reaches the detail panel through the list's message: wait for it.
        await until(pilot, lambda: too_high.symptom in detail())
        assert "try:" in detail()


def _divergence(step: int) -> Finding:
    return Finding(
        "divergence",
        "error",
        step,
        step,
        {},
        "Loss is diverging",
        "reduce LR 10×",
        {"op": "scale_lr", "factor": 0.1},
        0.9,
        id=f"div{step}",
    )


async def test_demo_app_about_key_and_hint_when_the_symptom_is_flagged() -> None:
    sc = SCENARIOS["too-high"]
    store = MetricStore()
    store.add(
        "lr-too-high",
        [Event("run", {"run": "lr-too-high", "t": 1.0, "lr": [0.11]}, None, 1.0)]
        + [Metrics(i, {"loss": 0.5 + i, "lr": 0.11}, 1.0 + i) for i in range(1, 50)],
    )
    app = DemoApp(sc, store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.hints)
        assert sc.try_this in app.hints[0] and "i[/b] about" in app.hints[0], app.hints
        assert app.findings_w.hint == app.hints[0]
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, AboutScreen))
        about = str(app.screen.query_one("#about").render())
        assert sc.symptom in about.replace("\n", " ") and "try:" in about
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, AboutScreen))
        # An older finding is selected when the demo's symptom is flagged: the hint selects
        # the flagged one, so that `a` applies its fix.
        spike = Finding("loss_spike", "warning", 6, 9, resolved=True, id="spike6")
        app.post_message(FindingsChanged("lr-too-high", [spike]))
        await until(pilot, lambda: app.findings_w.current is not None)
        assert app.findings_w.current.id == "spike6"

        def hints() -> list[str]:
            return [h for h in app.hints[1:] if "flagged" in h]  # [0]: the start hint

        app.post_message(FindingsChanged("lr-too-high", [spike, _divergence(74)]))
        # The selection moves after the panel's refresh (call_after_refresh): wait for it.
        await until(pilot, lambda: app.findings_w.current.id == "div74" and hints())
        assert "press [b]a[/b]" in hints()[0].lower(), hints()
        # Only once: a second finding does not repeat it. (The marker message is posted
        # after it and handled in order: once it is seen, the finding was handled too.)
        app.post_message(FindingsChanged("lr-too-high", [_divergence(74), _divergence(90)]))
        app.post_message(FindingsChanged("marker", []))
        await until(pilot, lambda: "marker" in app.findings)
        assert len(hints()) == 1


async def test_demo_app_starts_in_the_view_its_comparison_wants() -> None:
    quad = DemoApp(SCENARIOS["quadratic"], store=MetricStore())
    assert quad.view.overlay and quad.view.log_y and quad.focus_run == "lr=1.5"
    high = DemoApp(SCENARIOS["too-high"], store=MetricStore())
    assert not high.view.overlay and high.focus_run == "lr-too-high"


async def test_demo_app_shows_the_results_the_training_printed(tmp_path: Path) -> None:
    out = tmp_path / "logs.out"
    out.write_text(
        "lrwatch demo range-test: ...\n  range-test: note\nresults:\n"
        "  range-test: suggested LR (steepest): 0.0123\n"
        "  range-test: suggested LR (valley): 0.0456\n"
    )
    app = DemoApp(SCENARIOS["range-test"], out, store=MetricStore())
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.results == []
        app.post_message(ChildExited(0))

        def shown() -> list[str]:
            return [h for h in app.hints if "0.0123" in h]

        await until(pilot, shown)
        assert "0.0123" in shown()[0] and "0.0456" in shown()[0] and "note" not in shown()[0]
        await pilot.press("i")
        await until(pilot, lambda: isinstance(app.screen, AboutScreen))
        about = str(app.screen.query_one("#about").render())
        assert "results:" in about and "suggested LR (valley): 0.0456" in about


async def test_q_in_a_demo_quits_without_asking_and_stops_its_training() -> None:
    import subprocess
    import sys

    # The child would sleep for a day: it ends only if q interrupts it. The deadlines below
    # only stop a broken build from hanging the suite; on a loaded machine they are far off.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(86400)"], start_new_session=True
    )
    try:
        app = DemoApp(SCENARIOS["too-high"], store=MetricStore(), child=proc)
        async with app.run_test(size=(80, 24)) as pilot:
            await pilot.press("q")
            await until(pilot, lambda: not app.is_running, timeout=300)
        assert proc.wait(timeout=600) != 0  # interrupted (SIGINT), not finished
    finally:
        if proc.poll() is None:
            proc.kill()


async def test_the_finding_the_hint_selected_is_let_go_once_it_resolves() -> None:
    store = MetricStore()
    store.add("lr-too-high", [Metrics(i, {"loss": 0.5 + i, "lr": 0.11}) for i in range(50)])
    app = DemoApp(SCENARIOS["too-high"], store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        newer = Finding("grad_explosion", "error", 106, 106, id="grad106")
        app.post_message(FindingsChanged("lr-too-high", [_divergence(74), newer]))
        # The hint holds the flagged finding (its fix is what `a` should apply)...
        await until(pilot, lambda: getattr(app.findings_w.current, "id", "") == "div74")
        # ...until it resolves: then the selection follows the open finding again.
        done = _divergence(74)
        done.resolved = True
        app.post_message(FindingsChanged("lr-too-high", [done, newer]))
        await until(pilot, lambda: app.findings_w.current.id == "grad106")


def _cells(app: DemoApp, words: str) -> list[Offset]:
    """Where ``words`` are drawn on the screen now (one cell per row it is found on)."""
    return [
        Offset(line.index(words), y) for y, line in enumerate(screen_lines(app)) if words in line
    ]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_demo_hints_cover_no_chart_and_not_the_status_line(size: tuple[int, int]) -> None:
    store = MetricStore()
    recs = [Metrics(i, {"loss": 0.5 + i, "lr": 0.11, "grad_norm": 1.0 + i}) for i in range(50)]
    store.add("lr-too-high", recs)
    app = DemoApp(SCENARIOS["too-high"], store=store)
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.charts_w[2].display and app.charts_w[2].region.height)

        def covered(words: str) -> list[str]:
            hidden = [app.status_w.region, *(c.region for c in app.charts_w if c.display)]
            return [
                f"{at} in {r}" for at in _cells(app, words) for r in hidden if r.contains_point(at)
            ]

        # The start hint ("try: ..."), then the hint that the demo's symptom is flagged.
        await until(pilot, lambda: _cells(app, "try:"))
        assert not covered("try:"), covered("try:")
        app.post_message(FindingsChanged("lr-too-high", [_divergence(40)]))
        await until(pilot, lambda: _cells(app, "flagged:"))
        assert not covered("flagged:"), covered("flagged:")
        # The flagged card's fix line is still in view under the hint (advice: this store's
        # run has no control socket, so the card offers no [a]).
        await until(pilot, lambda: _cells(app, "advice:"))
        assert not _cells(app, "[a]"), "\n".join(screen_lines(app))
        assert app.status_w.region.height and "smooth" in screen_lines(app)[app.status_w.region.y]
