"""The footer at 80 columns: the LR keys the demo tells a new user to press, and help, are
on screen (read from the rendered screen, as a person sees it)."""

from __future__ import annotations

from typing import Any

from lrwatch.demos.registry import SCENARIOS
from lrwatch.store import MetricStore
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.demo import KEYS, DemoApp

from .helpers import until

#: The LR keys as the footer names them, and help: what the demo's text asks for.
LR_KEYS = ("a Apply fix", "e Set LR", "- ×0.5", "+ ×2", "/ ÷10", "? Help")


def screen_lines(app: Any) -> list[str]:
    """The screen as it is drawn now, one string per row (toasts and dialogs included)."""
    return [strip.text for strip in app.screen._compositor.render_strips()]


def _footer(app: Any) -> str:
    return screen_lines(app)[-1]


def test_the_demo_text_names_the_keys_the_footer_shows() -> None:
    # The footer test below is only worth something while the demo names these keys.
    for key in ("[b]a[/b]", "[b]e[/b]", "[b]-[/b]", "[b]+[/b]", "[b]/[/b]", "[b]?[/b]"):
        assert key in KEYS, key


async def test_footer_at_80_columns_shows_the_lr_keys_and_help(store: MetricStore) -> None:
    app = LRWatchApp(store=store)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "Help" in _footer(app))
        footer = _footer(app)
        for key in LR_KEYS:
            assert key in footer, footer
        # The LR keys come before the view keys: they are what the demo's hints point at.
        assert footer.index("a Apply fix") < footer.index("q Quit"), footer
        for view_key in ("l Log-y", "s Smooth+", "w Window", "f Follow", "n Next run"):
            assert view_key not in footer or footer.index(view_key) > footer.index("? Help")


async def test_demo_footer_at_80_columns_shows_the_keys_its_hints_name() -> None:
    app = DemoApp(SCENARIOS["too-high"], store=MetricStore())
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "Help" in _footer(app))
        footer = _footer(app)
        for key in LR_KEYS:
            assert key in footer, footer
