"""Palettes of the pictures: dark, light, and their monochrome versions (``NO_COLOR``).

A scene names its colours by role (``loss``, ``nan``, ``run3`` ...), never by value, so the
same scene renders in any palette: the SVG writes either the colours themselves or CSS
variables that an HTML page switches with ``prefers-color-scheme``. Without colour, runs and
series differ by dash pattern and weight (:data:`MONO_DASHES`), not by hue.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

#: A theme the user can ask for; ``auto`` follows the browser's ``prefers-color-scheme``.
ThemeName = Literal["dark", "light", "auto"]

#: Overlaid runs' colours, in order (the UI's ten, as hex for a dark and a light background).
_RUNS_DARK = (
    "#22d3ee", "#e879f9", "#4ade80", "#facc15", "#3b82f6",
    "#f87171", "#fb923c", "#a78bfa", "#f9a8d4", "#f5deb3",
)  # fmt: skip
_RUNS_LIGHT = (
    "#0e7490", "#a21caf", "#15803d", "#a16207", "#1d4ed8",
    "#b91c1c", "#c2410c", "#6d28d9", "#be185d", "#78716c",
)  # fmt: skip

_DARK: dict[str, str] = {
    "bg": "#0f1117",
    "panel": "#161a23",
    "grid": "#262b36",
    "axis": "#4b5263",
    "text": "#e5e7eb",
    "muted": "#9ca3af",
    "loss": "#22d3ee",
    "raw": "#22d3ee",
    "val": "#facc15",
    "lr": "#e879f9",
    "grad": "#4ade80",
    "lr_marker": "#facc15",
    "rewind": "#e879f9",
    "nan": "#ff3b30",
    "error": "#f87171",
    "warning": "#fbbf24",
    "info": "#60a5fa",
}
_LIGHT: dict[str, str] = {
    "bg": "#ffffff",
    "panel": "#f8fafc",
    "grid": "#e2e8f0",
    "axis": "#94a3b8",
    "text": "#111827",
    "muted": "#4b5563",
    "loss": "#0e7490",
    "raw": "#0e7490",
    "val": "#b45309",
    "lr": "#a21caf",
    "grad": "#15803d",
    "lr_marker": "#b45309",
    "rewind": "#a21caf",
    "nan": "#dc2626",
    "error": "#b91c1c",
    "warning": "#b45309",
    "info": "#1d4ed8",
}
#: Greys: the structural roles keep their contrast, every data role is the foreground.
_MONO_FG = {"dark": "#f3f4f6", "light": "#111111"}
_STRUCTURE = ("bg", "panel", "grid", "axis", "text", "muted")

#: Dash patterns (SVG ``stroke-dasharray``) that tell runs apart without colour.
MONO_DASHES = ("", "8 4", "2 3", "10 3 2 3", "4 4", "1 2", "14 4", "6 2 2 2 2 2")


@dataclass(frozen=True)
class Palette:
    """Colour per role for one theme (``colours``: role -> ``#rrggbb``)."""

    name: str  #: ``dark`` or ``light``
    mono: bool
    colours: Mapping[str, str]

    def __getitem__(self, role: str) -> str:
        """The colour of ``role``; ``runN`` cycles through the run colours."""
        if role in self.colours:
            return self.colours[role]
        if role.startswith("run") and role[3:].isdigit():
            runs = self.colours.get("run0")
            if runs is not None:
                n = sum(1 for k in self.colours if k.startswith("run"))
                return self.colours[f"run{int(role[3:]) % n}"]
        return self.colours["text"]

    def roles(self) -> list[str]:
        """Every role this palette names (the CSS variables of an HTML page)."""
        return list(self.colours)


def palette(name: str, mono: bool = False) -> Palette:
    """The palette ``dark`` or ``light`` (``auto`` draws as dark), monochrome if ``mono``."""
    light = name == "light"
    base = dict(_LIGHT if light else _DARK)
    runs = _RUNS_LIGHT if light else _RUNS_DARK
    base.update({f"run{i}": c for i, c in enumerate(runs)})
    if mono:
        fg = _MONO_FG["light" if light else "dark"]
        base = {k: (v if k in _STRUCTURE else fg) for k, v in base.items()}
    return Palette("light" if light else "dark", mono, base)


def no_color(env: Mapping[str, str] | None = None) -> bool:
    """``NO_COLOR`` is set and not empty (https://no-color.org)."""
    env = os.environ if env is None else env
    return bool(env.get("NO_COLOR", ""))


def css_var(role: str) -> str:
    """The CSS custom property an HTML page defines for ``role``."""
    return f"--lw-{role.replace('_', '-')}"
