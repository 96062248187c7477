"""Command-palette entries for every key action, with what it does and its key.

The list is derived from the bindings themselves (the app's, and the active screen's when it
has its own), so a binding added anywhere shows up in the palette by itself: its title is the
binding's description, its help the action's docstring and the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.widget import Widget

#: How the command palette spells key names.
KEY_NAMES = {
    "question_mark": "?",
    "minus": "-",
    "plus": "+",
    "equals_sign": "=",
    "slash": "/",
    "down": "↓",
    "up": "↑",
    "space": "space",
    "escape": "esc",
    "enter": "enter",
}

#: Actions Textual's own palette entries cover already.
SKIPPED = ("quit",)


def action_name(action: str) -> str:
    """``scale(0.5)`` -> ``scale``; ``app.pop_screen`` -> ``pop_screen``."""
    return action.split("(")[0].rsplit(".", 1)[-1]


def key_text(binding: Binding) -> str:
    """The binding's keys as the palette shows them: ``+ or =`` (every key, where the footer's
    ``key_display`` shows one)."""
    return " or ".join(KEY_NAMES.get(k.strip(), k.strip()) for k in binding.key.split(","))


def palette_commands(
    app: App[Any], bindings: Iterable[BindingType], screen: Widget | None = None
) -> Iterator[SystemCommand]:
    """One ``lrwatch: …`` entry per binding of the app (except quit), then per binding of
    ``screen`` (a screen of its own, such as a runs table) whose action it implements."""
    seen: set[str] = set()
    yield from _entries(app, bindings, seen)
    if screen is not None and screen is not app.screen_stack[0]:
        yield from _entries(screen, getattr(screen, "BINDINGS", []), seen)


def _entries(
    target: App[Any] | Widget, bindings: Iterable[BindingType], seen: set[str]
) -> Iterator[SystemCommand]:
    for b in bindings:
        if not isinstance(b, Binding) or action_name(b.action) in SKIPPED:
            continue
        method = getattr(target, f"action_{action_name(b.action)}", None)
        if method is None and "." not in b.action:
            continue  # an action the target does not have would do nothing
        doc = ((method.__doc__ if method else "") or "").strip().splitlines()
        title = f"lrwatch: {b.description or action_name(b.action)}"
        if title in seen:  # two keys, one description (j / k "Select"): tell them apart
            title = f"{title} ({key_text(b)})"
        seen.add(title)
        # Escaped: the palette reads help as markup, where "[key M]" would be a tag (unseen).
        help_text = f"{doc[0] if doc else ''}  \\[key {key_text(b)}]"
        yield SystemCommand(title, help_text, _callback(target, b.action))


def _callback(target: App[Any] | Widget, action: str) -> Callable[[], Any]:
    def run() -> None:
        # run_action is a coroutine: schedule it (calling it alone would do nothing).
        target.call_later(target.run_action, action)

    return run
