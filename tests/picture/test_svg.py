"""The SVG writer, read back with xml.etree: the loss path follows the data, NaN marks,
findings text, themes as colours or CSS variables."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import numpy as np

from lrwatch.picture.svg import to_svg
from lrwatch.picture.theme import palette
from tests.picture.helpers import NAN_RUN, WARMUP, judged, scene_of

NS = {"s": "http://www.w3.org/2000/svg"}


def _points(d: str) -> np.ndarray:
    return np.array([[float(a), float(b)] for a, b in re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)])


def test_loss_path_follows_the_data_and_nan_marks_and_findings_are_there() -> None:
    store, _ = judged(WARMUP)
    loss = store.runs[WARMUP.stem].series["loss"]
    scene = scene_of(WARMUP)
    panel = scene.panel("loss")
    assert panel is not None
    root = ET.fromstring(to_svg(scene, "dark"))
    (raw,) = root.findall(".//s:path[@class='loss-raw']", NS)
    pts = _points(raw.get("d", ""))
    want = np.stack([panel.x(loss.steps), panel.y(loss.values)], axis=1)
    # Every logged point is a vertex (to the 0.1 px the file writes).
    assert all(np.abs(pts - w).max(axis=1).min() <= 0.06 for w in want)
    assert raw.get("stroke") == palette("dark")["raw"]
    texts = [t.text for t in root.iter(f"{{{NS['s']}}}text")]
    assert "✗ divergence" in texts

    scene = scene_of(NAN_RUN)
    panel = scene.panel("loss")
    assert panel is not None
    root = ET.fromstring(to_svg(scene, "light"))
    (nan,) = root.findall(".//s:path[@class='nan']", NS)
    xs = _points(nan.get("d", ""))[:, 0]
    assert abs(xs.mean() - float(panel.x(29))) < 0.1  # the × is centred on step 29
    assert nan.get("stroke") == palette("light")["nan"]
    texts = [t.text for t in root.iter(f"{{{NS['s']}}}text")]
    assert "✗ nan_inf" in texts and "! loss_spike" in texts


def test_auto_theme_is_css_variables_with_both_palettes() -> None:
    svg = to_svg(scene_of(WARMUP), "auto")
    root = ET.fromstring(svg)
    (raw,) = root.findall(".//s:path[@class='loss-raw']", NS)
    assert raw.get("stroke") == "var(--lw-raw)"
    style = root.find("s:style", NS)
    assert style is not None and style.text is not None
    assert "prefers-color-scheme: light" in style.text
    assert palette("light")["raw"] in style.text and palette("dark")["raw"] in style.text
    # A page that defines the variables itself gets no <style>.
    assert "<style>" not in to_svg(scene_of(WARMUP), "auto", style=False)
    assert "http" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "")
