"""Command-palette entries for every key action, with what it does and its key."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType

#: How the command palette spells key names.
KEY_NAMES = {
    "question_mark": "?",
    "minus": "-",
    "plus": "+",
    "equals_sign": "=",
    "slash": "/",
    "down": "↓",
    "up": "↑",
}


def palette_commands(app: App[Any], bindings: Iterable[BindingType]) -> Iterator[SystemCommand]:
    """One ``lrwatch: …`` entry per binding (except quit), its help the action's docstring."""
    for b in bindings:
        if isinstance(b, Binding) and b.action not in ("quit",):
            method = getattr(app, f"action_{b.action.split('(')[0]}", None)
            doc = ((method.__doc__ if method else "") or "").strip().splitlines()
            keys = " or ".join(KEY_NAMES.get(k, k) for k in b.key.split(","))
            help_text = f"{doc[0] if doc else ''}  [key {keys}]"
            yield SystemCommand(f"lrwatch: {b.description}", help_text, _callback(app, b.action))


def _callback(app: App[Any], action: str) -> Callable[[], Any]:
    def run() -> None:
        # run_action is a coroutine: schedule it (calling it alone would do nothing).
        app.call_later(app.run_action, action)

    return run
