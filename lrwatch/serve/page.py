"""The page a browser loads: lrwatch's own HTML around textual-serve's terminal script.

Two changes from textual-serve's page, both so the page works where lrwatch is used:
- no font from Google (a GPU box or a CI runner often has no internet): the Roboto Mono that
  textual-serve ships is served with the page;
- xterm.js's screen-reader mode is on: the terminal's text is also in the page, as text, for
  screen readers, the browser's find (Ctrl+F), and tests that read what the page shows.
"""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files
from pathlib import Path
from string import Template

import textual_serve

#: Page colours per theme: behind the terminal before the first paint, and around it.
THEMES = {
    "dark": {"background": "#0c181f", "foreground": "#e0e0e0", "accent": "#5e0ba7"},
    "light": {"background": "#f5f5f5", "foreground": "#1e1e1e", "accent": "#5e0ba7"},
}

#: textual-serve's terminal options, as its minified script spells them; the patch appends
#: ``screenReaderMode``. Pinned by a test: a textual-serve that changes it fails loudly.
_OPTIONS = "allowProposedApi:!0,"


def statics() -> Path:
    """textual-serve's static files (xterm.css, the fonts)."""
    return Path(textual_serve.__file__).parent / "static"


@cache
def terminal_script() -> bytes:
    """textual-serve's ``textual.js`` with xterm's screen-reader mode turned on."""
    source = (statics() / "js" / "textual.js").read_text(encoding="utf-8")
    if source.count(_OPTIONS) != 1:
        raise RuntimeError(
            "lrwatch serve: this textual-serve's textual.js is not the one lrwatch knows "
            f"(no single {_OPTIONS!r}); install textual-serve>=1.1.3,<1.2"
        )
    return source.replace(_OPTIONS, _OPTIONS + "screenReaderMode:!0,").encode()


@cache
def _template() -> Template:
    return Template(files("lrwatch.serve").joinpath("index.html").read_text(encoding="utf-8"))


def index(title: str, theme: str, font_size: int = 16) -> str:
    """The page's HTML."""
    colours = THEMES.get(theme, THEMES["dark"])
    return _template().substitute(
        title=html.escape(title), font_size=max(6, min(font_size, 48)), **colours
    )
