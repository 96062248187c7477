"""``NO_COLOR``: drop hues from our styled text, keep bold/dim/reverse and greys.

Textual honours ``NO_COLOR`` by mapping every colour to a grey of the same luminance, which
turns a magenta LR value or a blue state into dark grey on a dark background — unreadable.
Our texts carry their meaning in glyphs and weight as well, so without colour they drop the
hue and keep the terminal's own foreground; explicit greys (the raw loss trace) stay faint.
"""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style
from rich.text import Span, Text


@lru_cache(maxsize=256)
def _mono(style: Style) -> Style:
    color = style.color
    keep = None
    if color is not None:
        r, g, b = color.get_truecolor()
        keep = color if r == g == b else None  # a grey is a weight, not a hue
    return style.without_color + Style(color=keep)


def monochrome(text: Text) -> Text:
    """A copy of ``text`` with every span's and the base style's hue removed."""

    def conv(style: str | Style) -> Style:
        return _mono(Style.parse(style) if isinstance(style, str) else style)

    out = text.copy()
    out.style = conv(text.style) if text.style else ""
    out.spans = [Span(s.start, s.end, conv(s.style)) for s in text.spans]
    return out
