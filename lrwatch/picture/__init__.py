"""Static pictures of runs (``lrwatch plot``): a scene of drawing primitives, written as SVG
(pure) or PNG (Pillow, the ``png`` extra), and a self-contained HTML report.

No Textual and no Rich: ``scene`` turns :class:`~lrwatch.store.RunData` and finding dicts into
a :class:`~lrwatch.picture.primitives.Scene`; ``svg``, ``png`` and ``report`` write it.
"""

from __future__ import annotations

from lrwatch.picture.primitives import Scene
from lrwatch.picture.scene import Options, build_scene
from lrwatch.picture.svg import to_svg

__all__ = ["Options", "Scene", "build_scene", "to_svg"]
