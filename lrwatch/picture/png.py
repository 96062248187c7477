"""A PNG of a :class:`~lrwatch.picture.primitives.Scene`, drawn with Pillow (the ``png`` extra).

Why Pillow: a PNG needs a rasteriser, and a pure-Python one would cost seconds for a picture
Pillow draws in milliseconds; Pillow is small, ships wheels everywhere, and rasterises the
scene's own primitives (no SVG library, no browser). It is optional: the SVG and the HTML need
nothing. The scene is drawn at twice the size and scaled down, which smooths the lines.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Any

from lrwatch.picture.primitives import Item, Label, Line, Mark, Path, Rect, Scene
from lrwatch.picture.theme import Palette, palette

if TYPE_CHECKING:
    from PIL.ImageDraw import ImageDraw

#: Drawn at this many times the size, then scaled down (anti-aliasing).
SUPERSAMPLE = 2
#: Fonts tried first (DejaVu has the arrows and signs of the labels); else Pillow's own font.
FONTS = ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
BOLD_FONTS = ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
#: Stand-ins for the labels' signs when only Pillow's own font (Latin only) is there.
ASCII = str.maketrans({"→": ">", "⟲": "<<", "×": "x", "✗": "x", "·": "-"})


class PngUnavailable(RuntimeError):
    """Pillow is not installed (the ``png`` extra)."""


def to_png(scene: Scene, theme: str = "dark") -> bytes:
    """The scene as PNG bytes in the ``dark`` or ``light`` palette (``auto`` draws dark)."""
    try:
        from PIL import Image, ImageDraw
    except ImportError as exc:
        raise PngUnavailable(
            "PNG output needs Pillow: pip install 'lrwatch[png]' (or write .svg or .html)"
        ) from exc
    pal = palette("light" if theme == "light" else "dark", scene.mono)
    s = SUPERSAMPLE
    img = Image.new("RGB", (scene.width * s, scene.height * s), pal["bg"])
    draw = ImageDraw.Draw(img)
    for item in scene.items:
        _draw(draw, item, pal, s)
    img = img.resize((scene.width, scene.height), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16)


def _colour(pal: Palette, role: str, opacity: float = 1.0) -> tuple[int, int, int]:
    """The role's colour, mixed with the panel's background by ``opacity`` (Pillow's RGB
    drawing has no alpha: a faded line is a paler colour)."""
    fg = _rgb(pal[role])
    if opacity >= 1:
        return fg
    bg = _rgb(pal["panel"])
    return (
        round(fg[0] * opacity + bg[0] * (1 - opacity)),
        round(fg[1] * opacity + bg[1] * (1 - opacity)),
        round(fg[2] * opacity + bg[2] * (1 - opacity)),
    )


def _draw(draw: ImageDraw, item: Item, pal: Palette, s: int) -> None:
    if isinstance(item, Path):
        fill = _colour(pal, item.colour, item.opacity)
        width = max(1, round(item.width * s))
        for xs, ys in item.pieces():
            pts = list(zip((xs * s).tolist(), (ys * s).tolist(), strict=True))
            for part in _dashed(pts, item.dash, s):
                _polyline(draw, part, fill, width)
    elif isinstance(item, Line):
        fill = _colour(pal, item.colour, item.opacity)
        pts = [(item.x1 * s, item.y1 * s), (item.x2 * s, item.y2 * s)]
        for part in _dashed(pts, item.dash, s):
            draw.line(part, fill=fill, width=max(1, round(item.width * s)))
    elif isinstance(item, Rect):
        box = (item.x * s, item.y * s, (item.x + item.w) * s, (item.y + item.h) * s)
        draw.rectangle(box, fill=_colour(pal, item.fill, item.opacity))
    elif isinstance(item, Mark):
        _mark(draw, item, _colour(pal, item.colour), s)
    else:
        _text(draw, item, _colour(pal, item.colour), s)


def _polyline(draw: ImageDraw, pts: list[tuple[float, float]], fill: Any, width: int) -> None:
    if len(pts) == 1:
        x, y = pts[0]
        r = width / 2
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    else:
        draw.line(pts, fill=fill, width=width, joint="curve")


def _dashed(pts: list[tuple[float, float]], dash: str, s: int) -> list[list[tuple[float, float]]]:
    """The polyline cut into its dashes (``dash``: SVG ``stroke-dasharray``, in pixels)."""
    pattern = [float(v) * s for v in dash.split()] if dash else []
    if not pattern or len(pts) < 2:
        return [pts]
    if len(pattern) % 2:
        pattern *= 2
    out: list[list[tuple[float, float]]] = []
    k, left, on = 0, pattern[0], True
    current: list[tuple[float, float]] = [pts[0]]
    for (x0, y0), (x1, y1) in pairwise(pts):
        seg = math.hypot(x1 - x0, y1 - y0)
        done = 0.0
        while seg - done > left:
            done += left
            t = done / seg
            p = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t)
            if on:
                current.append(p)
                out.append(current)
            current = [p]
            k = (k + 1) % len(pattern)
            left, on = pattern[k], not on
        left -= seg - done
        if on:
            current.append((x1, y1))
        else:
            current = [(x1, y1)]
    if on and len(current) > 1:
        out.append(current)
    return out


def _mark(draw: ImageDraw, item: Mark, fill: Any, s: int) -> None:
    x, y, r = item.x * s, item.y * s, item.size * s
    if item.shape == "dot":
        draw.ellipse((x - r, y - r, x + r, y + r), fill=fill)
    elif item.shape == "up":
        draw.polygon([(x - r, y + r), (x + r, y + r), (x, y - r)], fill=fill)
    else:
        w = round(2.2 * s)
        draw.line([(x - r, y - r), (x + r, y + r)], fill=fill, width=w)
        draw.line([(x - r, y + r), (x + r, y - r)], fill=fill, width=w)


_ANCHORS = {"start": "ls", "middle": "ms", "end": "rs"}


def _text(draw: ImageDraw, item: Label, fill: Any, s: int) -> None:
    font, unicode_ok = _font(round(item.size * s), item.bold)
    text = item.text if unicode_ok else item.text.translate(ASCII)
    draw.text((item.x * s, item.y * s), text, fill=fill, font=font, anchor=_ANCHORS[item.anchor])


@lru_cache(maxsize=32)
def _font(size: int, bold: bool) -> tuple[Any, bool]:
    """A TrueType font at ``size`` px and whether it has the labels' signs (DejaVu does)."""
    from PIL import ImageFont

    for name in BOLD_FONTS if bold else FONTS:
        try:
            return ImageFont.truetype(name, size), True
        except OSError:
            continue
    return ImageFont.load_default(size), False
