"""The PNG rasteriser (Pillow): the same scene's pixels, and the error without Pillow."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
from PIL import Image

from lrwatch.picture.png import to_png
from lrwatch.picture.primitives import Path
from lrwatch.picture.theme import palette
from tests.picture.helpers import NAN_RUN, WARMUP, near, scene_of


def _pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def test_png_pixels_the_loss_line_and_the_nan_marks() -> None:
    for theme in ("dark", "light"):
        pal = palette(theme)
        scene = scene_of(NAN_RUN)
        px = _pixels(to_png(scene, theme))
        assert px.shape == (scene.height, scene.width, 3)
        panel = scene.panel("loss")
        assert panel is not None
        assert near(px, panel.x(29), panel.bottom - 2, pal["nan"], radius=1)
        assert near(px, panel.x(400), panel.bottom - 2, pal["nan"], radius=1)  # still NaN
        assert not near(px, panel.x(400), panel.top + 30, pal["nan"], radius=2)
        (smoothed,) = [i for i in scene.items if isinstance(i, Path) and i.role == "loss"]
        for x, y in list(zip(smoothed.xs.tolist(), smoothed.ys.tolist(), strict=True))[::3]:
            assert near(px, x, y, pal["loss"], radius=1), (theme, x, y)
        assert near(px, 2, 2, pal["bg"], radius=0, tol=3)


def test_png_mono_has_no_hue() -> None:
    px = _pixels(to_png(scene_of(WARMUP, mono=True), "dark")).astype(np.int64)
    spread = px.max(axis=-1) - px.min(axis=-1)
    assert spread.max() <= 24  # greys only (the dark panel's blue tint is slight)


def test_without_pillow_the_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['PIL'] = None\n"
        "from lrwatch.picture.png import to_png, PngUnavailable\n"
        "from lrwatch.picture.primitives import Scene\n"
        "try:\n    to_png(Scene(10, 10))\nexcept PngUnavailable as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'lrwatch[png]'" in out.stdout
