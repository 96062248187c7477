"""What a picture is made of: drawing primitives in pixel space, and the panels' mappings.

A :class:`Scene` is plain data: the SVG and PNG writers only walk :attr:`Scene.items`, and
tests read a panel's :meth:`Panel.x` / :meth:`Panel.y` to know where a value must be drawn.
Colours are roles (``loss``, ``nan``, ``run2`` ...) resolved by a :mod:`~lrwatch.picture.theme`
palette at writing time, so one scene renders in every theme.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from lrwatch.picture.axes import to_drawn

#: Text alignment at the anchor point (SVG's ``text-anchor``).
Anchor = Literal["start", "middle", "end"]
#: Mark shapes: ``x`` (NaN/Inf), ``dot`` (an evaluation), ``up`` (clipped above the range).
Shape = Literal["x", "dot", "up"]


@dataclass(frozen=True, slots=True)
class Path:
    """A polyline; a NaN in ``xs``/``ys`` breaks it (a stretch without finite values)."""

    xs: np.ndarray
    ys: np.ndarray
    colour: str
    width: float = 1.5
    opacity: float = 1.0
    dash: str = ""  #: SVG ``stroke-dasharray`` (``""``: solid)
    role: str = ""  #: ``loss``, ``loss-raw``, ``val``, ``lr``, ``grad``, ``abandoned``
    run: str = ""

    def pieces(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The unbroken stretches, each with at least one point."""
        ok = np.isfinite(self.xs) & np.isfinite(self.ys)
        if ok.all():
            return [(self.xs, self.ys)] if len(self.xs) else []
        edges = np.flatnonzero(np.diff(np.r_[False, ok, False].astype(np.int8)))
        return [(self.xs[a:b], self.ys[a:b]) for a, b in zip(edges[::2], edges[1::2], strict=True)]


@dataclass(frozen=True, slots=True)
class Mark:
    """A small symbol centred on (x, y)."""

    x: float
    y: float
    shape: Shape
    colour: str
    size: float = 4.0
    role: str = ""
    run: str = ""


@dataclass(frozen=True, slots=True)
class Rect:
    """A filled rectangle (a panel's plot area, the NaN band)."""

    x: float
    y: float
    w: float
    h: float
    fill: str
    opacity: float = 1.0
    role: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    """A straight segment (grid lines, axes, LR-change, rewind and finding markers)."""

    x1: float
    y1: float
    x2: float
    y2: float
    colour: str
    width: float = 1.0
    dash: str = ""
    opacity: float = 1.0
    role: str = ""


@dataclass(frozen=True, slots=True)
class Label:
    """One line of text; (x, y) is its baseline at the anchor."""

    x: float
    y: float
    text: str
    colour: str = "text"
    size: float = 12.0
    anchor: Anchor = "start"
    bold: bool = False
    role: str = ""


Item = Path | Mark | Rect | Line | Label


@dataclass
class Panel:
    """One chart: its plot rectangle in pixels and the data range it maps onto it.

    ``ylo``/``yhi`` are in drawn space: log10 of the value when ``log``.
    """

    name: str
    left: float
    top: float
    right: float
    bottom: float
    lo: int
    hi: int
    ylo: float = 0.0
    yhi: float = 1.0
    log: bool = False

    @property
    def width(self) -> float:
        return self.right - self.left

    def x(self, step: npt.ArrayLike) -> np.ndarray:
        """Pixel x of ``step`` (vectorised)."""
        span = max(self.hi - self.lo, 1)
        return self.left + (np.asarray(step, dtype=np.float64) - self.lo) / span * self.width

    def y(self, value: npt.ArrayLike) -> np.ndarray:
        """Pixel y of ``value`` (NaN where it cannot be drawn: non-finite, or ≤ 0 on log)."""
        v = to_drawn(np.asarray(value, dtype=np.float64), self.log)
        span = self.yhi - self.ylo or 1.0
        with np.errstate(invalid="ignore"):
            return self.bottom - (v - self.ylo) / span * (self.bottom - self.top)


@dataclass
class Scene:
    """A whole picture: its size, its panels and what to draw, back to front."""

    width: int
    height: int
    mono: bool = False
    title: str = ""
    panels: list[Panel] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)

    def panel(self, name: str) -> Panel | None:
        """The panel ``name`` (``loss``, ``lr``, ``grad``), None when not drawn."""
        return next((p for p in self.panels if p.name == name), None)
