"""The app's Textual theme (``$LRWATCH_THEME``) and colours that stay legible on a light one.

The widgets draw with ANSI colour names (``red``, ``yellow``, ``cyan``...). Textual turns them
into truecolour through the app's ANSI theme, one for dark themes and one for light ones;
Textual's light one (Alabaster) draws yellow, green and cyan too pale for braille dots on a
light grey background, so :data:`LIGHT_ANSI` darkens them. The few colours that are not ANSI
names (the overlaid runs' palette) have a light variant in :mod:`lrwatch.tui.view`.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Mapping

from rich.terminal_theme import TerminalTheme

#: The environment variable that names the theme (``lrwatch serve --theme`` sets it).
THEME_ENV = "LRWATCH_THEME"
#: Short names for Textual's own two themes.
ALIASES = {"dark": "textual-dark", "light": "textual-light"}
#: The theme when none is named: Textual's default, as before themes could be chosen.
DEFAULT_THEME = "textual-dark"

#: ANSI colours for light themes, dark enough that every hue reads at 3:1 or more on
#: textual-light's #E0E0E0, dimmed copies included (abandoned branches, resolved cards;
#: Textual blends a dim colour a third of the way to the background); tests/tui/test_theme.py
#: measures it. Yellow becomes an amber brown, cyan a teal. ``white`` is a dark grey: on a
#: light background the "bright" text colour is a dark one.
LIGHT_ANSI = TerminalTheme(
    (247, 247, 247),
    (0, 0, 0),
    [
        (0, 0, 0),  # black
        (175, 30, 30),  # red
        (23, 91, 15),  # green
        (103, 70, 0),  # yellow
        (27, 73, 174),  # blue
        (137, 39, 147),  # magenta
        (0, 86, 114),  # cyan
        (70, 70, 70),  # white
        (90, 90, 90),  # bright black
    ],
    [
        (184, 27, 27),
        (28, 89, 14),
        (101, 71, 0),
        (0, 77, 180),
        (144, 36, 144),
        (0, 87, 113),
        (30, 30, 30),
    ],
)


class ThemeError(ValueError):
    """A theme name that is neither Textual's nor one of :data:`ALIASES`."""


def resolve_theme(name: str, known: Collection[str]) -> str:
    """The Textual theme called ``name`` (``dark``/``light`` are short for Textual's own).

    Raises :class:`ThemeError`, naming the choices, when ``known`` has no such theme.
    """
    wanted = name.strip().lower()
    full = ALIASES.get(wanted, wanted)
    if full not in known:
        choices = ", ".join([*ALIASES, *sorted(known)])
        raise ThemeError(f"unknown theme {name!r}; choose one of: {choices}")
    return full


def theme_from_env(known: Collection[str], environ: Mapping[str, str] | None = None) -> str:
    """The theme ``$LRWATCH_THEME`` names (:data:`DEFAULT_THEME` when it is unset or empty);
    :class:`ThemeError` says which variable named an unknown one."""
    env = os.environ if environ is None else environ
    name = env.get(THEME_ENV, "").strip()
    if not name:
        return DEFAULT_THEME
    try:
        return resolve_theme(name, known)
    except ThemeError as exc:
        raise ThemeError(f"{THEME_ENV}={name}: {exc}") from None
