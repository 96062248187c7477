"""Logs read and judged as ``lrwatch plot`` reads them, and pixel checks, for the picture tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lrwatch.commands._report import PictureOptions, make_scene
from lrwatch.commands.diagnose import diagnose_paths
from lrwatch.picture.primitives import Scene
from lrwatch.rules import load_config
from lrwatch.store import MetricStore

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
#: A real Lightning run (SGD, LR 8) whose loss went NaN at step 29.
NAN_RUN = FIXTURES / "lightning_sgd_lr8_nan_metrics.csv"
#: A real lrwatch run with a warmup that blew up.
WARMUP = FIXTURES / "lrwatch_warmup_blowup.jsonl"
#: A real Hugging Face Trainer state (loss, eval loss, LR, grad norm).
HF_STATE = FIXTURES / "hf_trainer_state.json"


def judged(*paths: Path | str) -> tuple[MetricStore, list[dict[str, Any]]]:
    """The store and diagnose's results for ``paths``, read the way ``lrwatch plot`` reads."""
    store = MetricStore()
    results = diagnose_paths([str(p) for p in paths], None, load_config(None), store=store)
    return store, results


def scene_of(*paths: Path | str, **options: Any) -> Scene:
    """The scene ``lrwatch plot`` draws for ``paths`` (``options``: PictureOptions fields)."""
    store, results = judged(*paths)
    return make_scene(store, results, PictureOptions(**options))


def rgb(hex_colour: str) -> np.ndarray:
    """``#rrggbb`` as an int array."""
    h = hex_colour.lstrip("#")
    return np.array([int(h[i : i + 2], 16) for i in (0, 2, 4)])


def near(
    pixels: np.ndarray, x: float, y: float, colour: str, radius: int = 3, tol: int = 60
) -> bool:
    """Whether a pixel within ``radius`` of (x, y) has ``colour`` (within ``tol`` per channel
    summed: anti-aliasing and PNG scaling blur the edges)."""
    xi, yi = round(float(x)), round(float(y))
    box = pixels[max(yi - radius, 0) : yi + radius + 1, max(xi - radius, 0) : xi + radius + 1]
    dist = np.abs(box.astype(np.int64) - rgb(colour)).sum(axis=-1)
    return bool(box.size and dist.min() <= tol)
