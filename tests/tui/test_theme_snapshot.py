"""The main screen on the light theme (pytest-textual-snapshot), on the snapshots' fixed data."""

from __future__ import annotations

from typing import Any

from .snapshot_app import fixed_app


def test_main_screen_light_120x36(snap_compare: Any) -> None:
    app = fixed_app()
    app.theme = "textual-light"
    assert snap_compare(app, terminal_size=(120, 36))
