"""Snapshots of the main screen on fixed data (pytest-textual-snapshot)."""

from __future__ import annotations

from typing import Any

from .snapshot_app import fixed_app


def test_main_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(fixed_app(), terminal_size=(80, 24))


def test_main_screen_160x48(snap_compare: Any) -> None:
    assert snap_compare(fixed_app(), terminal_size=(160, 48))


def test_help_screen_80x24(snap_compare: Any) -> None:
    assert snap_compare(fixed_app(), press=["question_mark"], terminal_size=(80, 24))
