"""``lrwatch plot`` and ``diagnose --report`` as a user runs them (subprocesses), and their
files rendered by a real Chromium: the screenshot's pixels show the loss where the data put it
and the NaN marks where the loss went non-finite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from lrwatch.picture.primitives import Path as PathItem
from lrwatch.picture.primitives import Scene
from lrwatch.picture.theme import palette
from tests.browser import chromium, screenshot_pixels, wait_for
from tests.picture.helpers import HF_STATE, NAN_RUN, WARMUP, near, scene_of


def lrwatch(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lrwatch", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_writes_svg_png_html_and_says_what(tmp_path: Path) -> None:
    for suffix in ("svg", "png", "html"):
        out = tmp_path / f"p.{suffix}"
        done = lrwatch("plot", NAN_RUN, WARMUP, "-o", out)
        assert done.returncode == 0, done.stderr
        assert f"wrote {out}: 2 runs, panels loss/lr, 3 findings" in done.stdout
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "p.svg").read_text().startswith("<?xml")


def test_errors_are_said_with_their_exit_codes(tmp_path: Path) -> None:
    missing = lrwatch("plot", tmp_path / "nope.log", "-o", tmp_path / "x.svg")
    assert missing.returncode == 2 and "nope.log: no such file" in missing.stderr
    suffix = lrwatch("plot", WARMUP, "-o", tmp_path / "x.gif")
    assert suffix.returncode == 2 and "must end in .svg, .png or .html" in suffix.stderr
    noloss = tmp_path / "noloss.jsonl"
    noloss.write_text('{"step": 1, "acc": 0.5}\n{"step": 2, "acc": 0.6}\n')
    done = lrwatch("plot", noloss, "-o", tmp_path / "n.svg")
    assert done.returncode == 3 and "noloss: no training loss found" in done.stderr
    assert "no training loss found" in (tmp_path / "n.svg").read_text()
    unwritable = lrwatch("plot", WARMUP, "-o", tmp_path / "no" / "dir.svg")
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr


def test_diagnose_report_is_the_plot_html(tmp_path: Path) -> None:
    report, plotted = tmp_path / "report.html", tmp_path / "plot.html"
    done = lrwatch("diagnose", NAN_RUN, "--report", report)
    assert done.returncode == 1  # an error finding: diagnose's own exit code
    assert "verdict: error: nan_inf" in done.stdout
    assert lrwatch("plot", NAN_RUN, "-o", plotted).returncode == 0
    html = report.read_text()
    assert html == plotted.read_text()
    for text in ("nan_inf", "fix:", "evidence: metric=loss", "nonfinite", "<svg"):
        assert text in html
    # Self-contained: nothing to fetch (the SVG namespace is a name, not a request).
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "<script" not in html and "<link" not in html and "<img" not in html


def _loss_points(scene: Scene) -> list[tuple[float, float]]:
    (smoothed,) = [i for i in scene.items if isinstance(i, PathItem) and i.role == "loss"]
    return list(zip(smoothed.xs.tolist(), smoothed.ys.tolist(), strict=True))


def _check(
    px: Any, scene: Scene, theme: str, dx: float = 0, dy: float = 0, nan: bool = True
) -> None:
    """The loss line's colour on the smoothed loss's vertices, the NaN colour at the NaN."""
    pal = palette(theme)
    panel = scene.panel("loss")
    assert panel is not None
    assert near(px, dx + 3, dy + 3, pal["bg"], radius=0, tol=6), (
        theme,
        px[int(dy) + 3, int(dx) + 3],
    )
    points = _loss_points(scene)
    hits = [near(px, dx + x, dy + y, pal["loss"], radius=2) for x, y in points]
    assert all(hits), (theme, [p for p, h in zip(points, hits, strict=True) if not h][:5])
    # Off the line, in an empty part of the panel: no loss colour.
    assert not near(px, dx + panel.x(300), dy + (panel.top + panel.bottom) / 2, pal["loss"], 2)
    if nan:
        for step in (29, 300, 599):
            assert near(px, dx + panel.x(step), dy + panel.bottom - 2, pal["nan"], radius=1), step
        assert near(px, dx + panel.x(29), dy + panel.bottom - 13, pal["nan"], radius=2)  # the ×


def test_chromium_renders_the_svg_dark_and_light(tmp_path: Path) -> None:
    scene = scene_of(NAN_RUN)
    with chromium(1280, 800) as driver:
        for theme in ("dark", "light"):
            out = tmp_path / f"{theme}.svg"
            assert lrwatch("plot", NAN_RUN, "-o", out, "--theme", theme).returncode == 0
            driver.get(out.as_uri())
            wait_for(lambda: driver.find_elements("css selector", "path.loss"), 30, "the svg")
            px = screenshot_pixels(driver, tmp_path / f"{theme}.png")
            _check(px, scene, theme)


def test_chromium_renders_the_html_in_the_browsers_colour_scheme(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    assert lrwatch("plot", NAN_RUN, "-o", out).returncode == 0
    forced = tmp_path / "light.html"
    assert lrwatch("plot", NAN_RUN, "-o", forced, "--theme", "light").returncode == 0
    scene = scene_of(NAN_RUN)
    cases = (("dark", out, "dark"), ("light", out, "light"), ("dark", forced, "light"))
    with chromium(1280, 900) as driver:
        for scheme, page, theme in cases:
            feature = {"name": "prefers-color-scheme", "value": scheme}
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": [feature]})
            driver.get(page.as_uri())
            box = wait_for(
                lambda: driver.execute_script(
                    "const s = document.querySelector('svg');"
                    "return s && [s.getBoundingClientRect().x, s.getBoundingClientRect().y];"
                ),
                30,
                "the inline svg",
            )
            px = screenshot_pixels(driver, tmp_path / f"{page.stem}-{scheme}.png")
            _check(px, scene, theme, dx=box[0], dy=box[1])
            assert "nan_inf" in driver.find_element("tag name", "body").text


def test_chromium_renders_an_overlay_without_nan(tmp_path: Path) -> None:
    out = tmp_path / "overlay.svg"
    assert lrwatch("plot", HF_STATE, "-o", out, "--theme", "light").returncode == 0
    scene = scene_of(HF_STATE)
    with chromium(1280, 800) as driver:
        driver.get(out.as_uri())
        wait_for(lambda: driver.find_elements("css selector", "path.loss"), 30, "the svg")
        _check(screenshot_pixels(driver), scene, "light", nan=False)
