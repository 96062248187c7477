"""A pure SVG writer for a :class:`~lrwatch.picture.primitives.Scene`.

Colours are written either as the palette's values (a standalone ``.svg``) or as CSS
variables (``var(--lw-loss)``) with the palettes in a ``<style>``: then the picture follows
``prefers-color-scheme`` in a browser, inline in the HTML report or opened alone. No fonts,
scripts or images are fetched: the text uses the system's sans-serif.
"""

from __future__ import annotations

from collections.abc import Callable
from xml.sax.saxutils import escape, quoteattr

from lrwatch.picture.primitives import Item, Label, Line, Mark, Path, Rect, Scene
from lrwatch.picture.theme import Palette, css_var, palette

#: Role -> the colour text written in an attribute.
Colour = Callable[[str], str]
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def to_svg(
    scene: Scene, theme: str = "dark", *, standalone: bool = True, style: bool = True
) -> str:
    """The scene as SVG text. ``theme``: ``dark``, ``light`` or ``auto`` (CSS variables that
    follow ``prefers-color-scheme``). ``standalone``: with the XML declaration (a file);
    ``style``: with ``auto``, the palettes' ``<style>`` (an HTML page defines them itself)."""
    auto = theme == "auto"
    pal = palette("dark" if auto else theme, scene.mono)
    colour: Colour = _var_colour if auto else pal.__getitem__
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>\n' if standalone else "",
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{scene.width}" '
        f'height="{scene.height}" viewBox="0 0 {scene.width} {scene.height}" '
        f'font-family="{FONT}" class="lrwatch-plot" data-theme="{escape(theme)}">\n',
        f"<title>{escape(scene.title)}</title>\n",
    ]
    if auto and style:
        out.append(f"<style>{css_palettes(scene.mono, 'svg.lrwatch-plot')}</style>\n")
    out += [_item(item, colour) for item in scene.items]
    out.append("</svg>\n")
    return "".join(out)


def css_palettes(mono: bool, selector: str = ":root", theme: str = "auto") -> str:
    """CSS that defines the palette variables for ``selector``: with ``auto``, dark by
    default and light when the browser prefers it; else the ``dark`` or ``light`` one."""
    if theme != "auto":
        return f"{selector}{{{_vars(palette(theme, mono))}}}"
    dark, light = palette("dark", mono), palette("light", mono)
    return (
        f"{selector}{{{_vars(dark)}}}"
        f"@media (prefers-color-scheme: light){{{selector}{{{_vars(light)}}}}}"
    )


def _vars(pal: Palette) -> str:
    return "".join(f"{css_var(role)}:{pal[role]};" for role in pal.roles())


def _var_colour(role: str) -> str:
    return f"var({css_var(role)})"


def _f(v: float) -> str:
    """A coordinate with one decimal, no trailing zeros (``12``, ``12.5``)."""
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _common(role: str, opacity: float = 1.0) -> str:
    parts = [f'class="{escape(role)}"'] if role else []
    if opacity < 1:
        parts.append(f'opacity="{opacity:g}"')
    return " ".join(parts)


def _item(item: Item, c: Colour) -> str:
    if isinstance(item, Path):
        return _path(item, c)
    if isinstance(item, Line):
        dash = f' stroke-dasharray="{item.dash}"' if item.dash else ""
        return (
            f'<line x1="{_f(item.x1)}" y1="{_f(item.y1)}" x2="{_f(item.x2)}" y2="{_f(item.y2)}" '
            f'stroke="{c(item.colour)}" stroke-width="{item.width:g}"{dash} '
            f"{_common(item.role, item.opacity)}/>\n"
        )
    if isinstance(item, Rect):
        return (
            f'<rect x="{_f(item.x)}" y="{_f(item.y)}" width="{_f(item.w)}" height="{_f(item.h)}" '
            f'fill="{c(item.fill)}" {_common(item.role, item.opacity)}/>\n'
        )
    if isinstance(item, Mark):
        return _mark(item, c)
    assert isinstance(item, Label)
    weight = ' font-weight="bold"' if item.bold else ""
    return (
        f'<text x="{_f(item.x)}" y="{_f(item.y)}" font-size="{item.size:g}" '
        f'fill="{c(item.colour)}" text-anchor="{item.anchor}"{weight} '
        f"{_common(item.role)}>{escape(item.text)}</text>\n"
    )


def _path(item: Path, c: Colour) -> str:
    d = []
    for xs, ys in item.pieces():
        pts = " ".join(f"{_f(x)},{_f(y)}" for x, y in zip(xs.tolist(), ys.tolist(), strict=True))
        d.append(f"M{pts}" if len(xs) > 1 else f"M{pts} l0.01,0")
    if not d:
        return ""
    dash = f' stroke-dasharray="{item.dash}"' if item.dash else ""
    run = f" data-run={quoteattr(item.run)}" if item.run else ""
    return (
        f'<path d="{" ".join(d)}" fill="none" stroke="{c(item.colour)}" '
        f'stroke-width="{item.width:g}" stroke-linejoin="round" stroke-linecap="round"{dash}'
        f"{run} {_common(item.role, item.opacity)}/>\n"
    )


def _mark(item: Mark, c: Colour) -> str:
    x, y, s = item.x, item.y, item.size
    tail = _common(item.role)
    if item.shape == "dot":
        return f'<circle cx="{_f(x)}" cy="{_f(y)}" r="{s:g}" fill="{c(item.colour)}" {tail}/>\n'
    if item.shape == "up":
        pts = f"{_f(x - s)},{_f(y + s)} {_f(x + s)},{_f(y + s)} {_f(x)},{_f(y - s)}"
        return f'<polygon points="{pts}" fill="{c(item.colour)}" {tail}/>\n'
    a, b = (
        f"{_f(x - s)},{_f(y - s)} L{_f(x + s)},{_f(y + s)}",
        f"{_f(x - s)},{_f(y + s)} L{_f(x + s)},{_f(y - s)}",
    )
    d = f"M{a} M{b}"
    return (
        f'<path d="{d}" stroke="{c(item.colour)}" stroke-width="2.2" '
        f'stroke-linecap="round" fill="none" {tail}/>\n'
    )
