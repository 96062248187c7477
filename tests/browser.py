"""A real headless Chromium for the tests (Debian's ``chromium`` + ``chromium-driver``).

``.ci/run`` installs both. A missing browser fails the test that needs it, with the install
line, rather than skipping it: a browser test that silently does not run proves nothing.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

#: Flags for a root, headless, offline machine: without the background-networking ones,
#: Chromium keeps trying Google's hosts, which this machine's closed network refuses.
FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)


def _find(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail(
        f"{names[0]} is not installed: apt-get install chromium chromium-driver "
        "(.ci/run installs them)"
    )


@contextmanager
def chromium(width: int = 1280, height: int = 800) -> Iterator[Any]:
    """A selenium WebDriver on a fresh headless Chromium with its own profile directory."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = _find("chromium", "chromium-browser")
    profile = tempfile.mkdtemp(prefix="lrwatch-chromium-")
    for flag in (*FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(_find("chromedriver")))
    # --window-size is the window, not the page: headless Chromium keeps a minimum width and
    # takes its frame off the height. Screenshots' pixels must be where the tests expect.
    metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(
    condition: Callable[[], Any],
    timeout: float = 60.0,
    what: str = "condition",
    seen: Callable[[], str] | None = None,
) -> Any:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds,
    saying what ``seen`` returns then (what the page showed instead).

    A deadline, not a sleep: a loaded machine only makes the wait longer.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            shown = f"; seen: {seen()!r}" if seen is not None else ""
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}{shown}")
        time.sleep(0.1)


def screenshot_pixels(driver: Any, path: Path | None = None) -> Any:
    """The page as an RGB numpy array (height, width, 3); also saved to ``path`` if given."""
    import io

    import numpy as np
    from PIL import Image

    png = driver.get_screenshot_as_png()
    if path is not None:
        path.write_bytes(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
