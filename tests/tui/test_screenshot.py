"""Key ``P`` and the palette's "Save a screenshot (SVG)": ``<run>-step<N>.svg``, never
overwritten, in ``$LRWATCH_SCREENSHOTS`` (Pilot, real files)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import OptionList

from lrwatch.store import MetricStore
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.palette import KEY_NAMES
from lrwatch.tui.screenshot import SCREENSHOTS_ENV, base_name, free_name, safe_name, shot_folder
from lrwatch.tui.widgets.dialogs import HELP_SECTIONS

from .helpers import until


def _status(app: LRWatchApp) -> str:
    return str(app.status_w.render())


def test_names_are_safe_and_carry_the_step(tmp_path: Path) -> None:
    assert safe_name("lr=1.5") == "lr=1.5"
    assert safe_name("../runs/a b:c") == "runs_a_b_c"  # no folder, no hidden file
    assert safe_name("-rf") == "rf" and safe_name("///") == "run"
    assert base_name("exp1", 1200) == "exp1-step1200"
    assert base_name(None, None) == "lrwatch" and base_name("exp1", None) == "exp1"
    assert free_name(tmp_path, "exp1-step5") == "exp1-step5.svg"
    (tmp_path / "exp1-step5.svg").write_text("x")
    assert free_name(tmp_path, "exp1-step5") == "exp1-step5-2.svg"
    assert free_name(tmp_path, "exp1-step5", {"exp1-step5-2.svg"}) == "exp1-step5-3.svg"
    assert shot_folder({}) == Path(".")
    assert shot_folder({SCREENSHOTS_ENV: str(tmp_path)}) == tmp_path


async def test_p_saves_the_run_and_step_and_never_overwrites(
    store: MetricStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SCREENSHOTS_ENV, str(tmp_path))
    app = LRWatchApp(store, clock=lambda: 1650.0)
    first, second = tmp_path / "exp1-step599.svg", tmp_path / "exp1-step599-2.svg"
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("P")
        await until(pilot, lambda: f"screenshot saved: {first}" in _status(app))
        svg = first.read_text()
        assert svg.startswith("<svg") and "exp1" in svg and "findings" in svg
        await pilot.press("P")  # the same step: a second file, the first one kept
        await until(pilot, lambda: f"screenshot saved: {second}" in _status(app))
        assert first.read_text() == svg and second.read_text().startswith("<svg")
    assert {p.name for p in tmp_path.iterdir()} == {first.name, second.name}


async def test_the_palette_entry_saves_one_without_the_palette_in_it(
    store: MetricStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no $LRWATCH_SCREENSHOTS: the current directory
    monkeypatch.delenv(SCREENSHOTS_ENV, raising=False)
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(100, 30)) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "lrwatch: Save a screenshot (SVG)" in titles
        assert "Screenshot" not in titles  # Textual's own (dated name, ~/Downloads) is replaced
        await pilot.press("ctrl+p")
        await pilot.press(*"screenshot")

        def offered() -> str:
            found = app.screen.query(OptionList)
            options = found.first() if found else None
            ok = options is not None and options.option_count
            return str(options.get_option_at_index(0).prompt) if ok else ""  # type: ignore[union-attr]

        await until(pilot, lambda: "Save a screenshot" in offered())
        await pilot.press("enter")
        shot = Path("exp1-step599.svg")
        await until(pilot, lambda: "screenshot saved: exp1-step599.svg" in _status(app))
    svg = (tmp_path / shot).read_text()
    assert "findings" in svg and "Search for commands" not in svg


def test_the_help_lists_every_key_of_the_app() -> None:
    keys: set[str] = set()
    for _, _, rows in HELP_SECTIONS:
        for text, _ in rows:
            keys.update(text.replace(",", " ").split())
    for b in LRWatchApp.BINDINGS:
        for key in b.key.split(","):  # type: ignore[union-attr]
            shown = KEY_NAMES.get(key.strip(), key.strip())
            assert shown in keys, f"{b.key} ({b.action}) is not in the help"  # type: ignore[union-attr]
