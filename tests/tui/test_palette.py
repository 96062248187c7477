"""The command palette holds every key action, derived from the bindings (Pilot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import OptionList, Static

from lrwatch.store import MetricStore
from lrwatch.tui import app as app_module
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.palette import action_name, key_text
from lrwatch.tui.widgets.metric_picker import MetricPicker

from .helpers import until


def _commands(app: LRWatchApp, screen: Any = None) -> dict[str, Any]:
    return {c.title: c for c in app.get_system_commands(screen or app.screen)}


async def test_every_binding_of_the_app_is_a_palette_command(store: MetricStore) -> None:
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(100, 30)):
        commands = _commands(app)
        for b in LRWatchApp.BINDINGS:
            assert isinstance(b, Binding)
            if b.action == "quit":
                continue  # Textual's own "Quit the application" is there
            assert hasattr(app, f"action_{action_name(b.action)}"), b.action
            found = [
                c
                for title, c in commands.items()
                if title.startswith(f"lrwatch: {b.description}")
                and c.help.endswith(f"[key {key_text(b)}]")
            ]
            assert found, f"{b.key} {b.action} is not in the palette"
        wanted: tuple[str, ...] = (
            "Set LR",
            "Apply fix",
            "×0.5",
            "×2",
            "÷10",
            "Pause",
            "Mode",
            "Log-y",
        )
        wanted += ("Smooth+", "Smooth-", "Window", "Follow", "Next run", "Prev run", "Overlay")
        wanted += ("Findings", "Metrics", "Help", "Auto log-y")
        assert all(f"lrwatch: {w}" in commands for w in wanted)
        # Two keys described alike (j / k "Select") are told apart by their keys.
        assert "lrwatch: Select" in commands and "lrwatch: Select (k or ↑)" in commands
        assert commands["lrwatch: Metrics"].help.startswith("Pick metric panels")


async def test_a_palette_command_runs_its_action(store: MetricStore) -> None:
    app = LRWatchApp(store, clock=lambda: 1650.0)
    async with app.run_test(size=(100, 30)) as pilot:
        _commands(app)["lrwatch: Overlay"].callback()
        await until(pilot, lambda: app.view.overlay)
        # Through the palette itself, as a user would: ctrl+p, type, enter.
        await pilot.press("ctrl+p")
        await pilot.press(*"Metrics")

        def offered() -> str:
            found = app.screen.query(OptionList)  # the palette's CommandList
            options = found.first() if found else None
            if options is None or not options.option_count:
                return ""
            return str(options.get_option_at_index(0).prompt)

        await until(pilot, lambda: "lrwatch: Metrics" in offered())
        assert offered().endswith("[key M]")  # shown, not taken for a markup tag
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, MetricPicker))


class _Bigger(LRWatchApp):
    """An app with a binding added later: it must reach the palette by itself."""

    CSS_PATH = str(Path(app_module.__file__).with_name("app.tcss"))

    BINDINGS: ClassVar[list[BindingType]] = [
        *LRWatchApp.BINDINGS,
        Binding("ctrl+t", "later_action", "Added later"),
    ]
    opened = False

    def action_later_action(self) -> None:
        """Do what a later binding does."""
        self.opened = True


class _Table(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("s", "sort", "Sort by column")]
    sorted = 0

    def compose(self) -> Any:
        yield Static("runs")

    def action_sort(self) -> None:
        """Sort the runs by the selected column."""
        self.sorted += 1


async def test_new_bindings_of_the_app_or_of_a_screen_reach_the_palette(
    store: MetricStore,
) -> None:
    app = _Bigger(store, clock=lambda: 1650.0)
    async with app.run_test(size=(100, 30)) as pilot:
        later = _commands(app)["lrwatch: Added later"]
        assert later.help.startswith("Do what a later") and later.help.endswith("[key ctrl+t]")
        later.callback()
        await until(pilot, lambda: app.opened)
        table = _Table()
        await app.push_screen(table)
        sort = _commands(app, table)["lrwatch: Sort by column"]
        assert sort.help.endswith("[key s]")
        sort.callback()
        await until(pilot, lambda: table.sorted == 1)
        assert "lrwatch: Sort by column" not in _commands(app, app.screen_stack[0])
