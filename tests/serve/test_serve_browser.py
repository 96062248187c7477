"""``lrwatch serve`` on a live demo, in a real headless Chromium: what a colleague sees."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser import chromium, screenshot_pixels, wait_for
from tests.serve.servehelp import Serving, serving


def screen_text(driver: Any) -> str:
    """What the terminal shows, as text (xterm's screen-reader mirror, which serve turns on)."""
    rows = driver.find_elements(By.CSS_SELECTOR, ".xterm-accessibility-tree")
    return rows[0].get_attribute("textContent") if rows else ""


def type_keys(driver: Any, keys: str) -> None:
    """Keys typed into the page, as a person types them (xterm's input element has focus)."""
    driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(keys)


def lr_changes(log: Path) -> list[dict[str, Any]]:
    """The run's own acknowledgements: the lr_change records in its log."""
    out = []
    for line in log.read_text().splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("kind") == "lr_change":
            out.append(rec)
    return out


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    logs = tmp_path_factory.mktemp("served") / "logs"
    # Faster than a person watches, so the divergence is flagged within seconds.
    with serving("demo", "too-high", "--pace", "25", "--log", str(logs)) as s:
        yield s, logs


def test_no_token_no_app(demo: tuple[Serving, Path]) -> None:
    served, _ = demo
    with chromium(1000, 600) as driver:
        driver.get(served.base + "/")
        body = driver.find_element(By.TAG_NAME, "body").text
        assert "needs the token" in body
        assert not driver.find_elements(By.CSS_SELECTOR, ".xterm")


def _loss_line_span(pixels: Any, cell: int = 20) -> float:
    """Share of the charts' width (left of the findings) in which the smoothed loss's colour
    (cyan; teal on the light theme) shows, in strips of ``cell`` pixels (braille dots leave
    gaps between single pixel columns): a line drawn across the chart, not an empty panel.
    The raw loss is grey, the LR red, the grad norm green: none of them counts."""
    h, w, _ = pixels.shape
    area = pixels[int(h * 0.05) : int(h * 0.95), int(w * 0.06) : int(w * 0.7)].astype(int)
    r, g, b = area[..., 0], area[..., 1], area[..., 2]
    cyan = ((g > r + 40) & (b > r + 40)).any(axis=0)
    strips = len(cyan) // cell
    return float(cyan[: strips * cell].reshape(strips, cell).any(axis=1).mean())


def test_the_page_shows_the_run_and_a_key_changes_its_lr(
    demo: tuple[Serving, Path], tmp_path: Path
) -> None:
    served, logs = demo
    log = logs / "lr-too-high.jsonl"
    with chromium(1400, 900) as driver:
        driver.get(served.url)
        # The demo's hint names the divergence before any record arrives ("try: when
        # divergence is flagged…"): wait for the run in the header and the finding's card.
        seen = lambda: screen_text(driver)[:600]  # noqa: E731
        wait_for(lambda: "lr-too-high" in screen_text(driver), 120, "the run's header", seen)
        card = re.compile(r"divergence since [\d,]+")
        wait_for(lambda: card.search(screen_text(driver)), 180, "the divergence card", seen)
        text = screen_text(driver)
        assert "lr-too-high" in text and "findings (" in text and "loss" in text
        pixels = screenshot_pixels(driver, tmp_path / "served.png")
        assert _loss_line_span(pixels) > 0.9, "no loss line across the chart"

        before = len(lr_changes(log))
        type_keys(driver, "/")  # LR ÷10, then the confirmation
        wait_for(lambda: "enter: apply" in screen_text(driver), 60, "the confirmation")
        type_keys(driver, "y")
        changes = wait_for(lambda: lr_changes(log)[before:], 120, "the run's lr_change record")
        old, new = changes[0]["old"][0], changes[0]["new"][0]
        assert new == pytest.approx(old / 10, rel=1e-6)


def test_two_tabs_show_one_run(demo: tuple[Serving, Path]) -> None:
    served, logs = demo
    with chromium(1200, 800) as driver:
        driver.get(served.url)
        wait_for(lambda: "lr-too-high" in screen_text(driver), 120, "the first tab")
        first = driver.current_window_handle
        driver.switch_to.new_window("tab")
        driver.get(served.url)
        wait_for(lambda: "lr-too-high" in screen_text(driver), 120, "the second tab")
        driver.switch_to.window(first)
        assert "lr-too-high" in screen_text(driver)
    # One training process for both tabs: one log, one run.
    assert sorted(p.name for p in logs.glob("*.jsonl")) == ["lr-too-high.jsonl"]


def test_the_screenshot_key_delivers_the_svg_to_the_browser() -> None:
    log = str(Path(__file__).resolve().parents[1] / "fixtures" / "nanogpt_healthy.log")
    with serving("watch", "--no-follow", log) as served, chromium(1400, 900) as driver:
        driver.get(served.url)
        wait_for(lambda: "step 300" in screen_text(driver), 120, "the run")
        app = driver.current_window_handle
        type_keys(driver, "P")
        # Textual delivers the file through textual-serve: the page opens it in a new tab,
        # through the same token check as every other request.
        wait_for(lambda: len(driver.window_handles) == 2, 60, "the screenshot's tab")
        # Back to the app's tab: a tab in the background is not redrawn (the browser
        # throttles it), as a person sees the status line once they look at it again.
        driver.switch_to.window(app)
        seen = lambda: screen_text(driver)[-600:]  # noqa: E731
        wait_for(lambda: "(downloaded)" in screen_text(driver), 60, "the status line", seen)
        assert "nanogpt_healthy-step300.svg" in screen_text(driver)
        shot = next(h for h in driver.window_handles if h != app)
        driver.switch_to.window(shot)
        assert "/download/" in driver.current_url
        svg = wait_for(lambda: "</svg>" in driver.page_source and driver.page_source, 60, "svg")
        assert "<svg" in svg and "nanogpt_healthy" in svg

        # The command palette works in the page as in a terminal (ctrl+p is not the browser's
        # print here): the same action from it, and the second shot does not overwrite the first.
        driver.switch_to.window(app)
        driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea").send_keys(Keys.CONTROL, "p")
        wait_for(lambda: "Search for commands" in screen_text(driver), 60, "the palette")
        type_keys(driver, "screenshot")
        wait_for(lambda: "Save a screenshot" in screen_text(driver), 60, "the palette's entry")
        type_keys(driver, Keys.ENTER)
        wait_for(lambda: len(driver.window_handles) == 3, 60, "the second screenshot's tab")
        driver.switch_to.window(app)
        wait_for(lambda: "step300-2.svg (downloaded)" in screen_text(driver), 60, "its name", seen)


@pytest.mark.parametrize(
    ("args", "env"), [(("--theme", "light"), {}), ((), {"NO_COLOR": "1"})], ids=["light", "nocolor"]
)
def test_the_theme_and_no_color_reach_the_page(
    args: tuple[str, ...], env: dict[str, str], tmp_path: Path
) -> None:
    log = str(Path(__file__).resolve().parents[1] / "fixtures" / "nanogpt_healthy.log")
    with serving(*args, "watch", "--no-follow", log, env=env) as served, chromium(1200, 800) as d:
        d.get(served.url)
        wait_for(lambda: "step 300" in screen_text(d), 120, "the run")
        # The log has no LR: the loss panel is the whole height.
        wait_for(lambda: env or _loss_line_span(screenshot_pixels(d)) > 0.9, 60, "the chart")
        pixels = screenshot_pixels(d, tmp_path / "page.png").astype(int)
    if "--theme" in args:  # a light page: most of it is near white
        assert (pixels.mean(axis=2) > 200).mean() > 0.6
        assert _loss_line_span(pixels) > 0.9  # and the loss is drawn in a colour on it
    else:  # NO_COLOR: greys only, whatever the theme
        assert ((pixels.max(axis=2) - pixels.min(axis=2)) > 40).mean() < 0.001
