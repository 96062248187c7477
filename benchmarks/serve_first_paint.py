"""Time to the first paint of ``lrwatch serve`` in a browser, vs the same UI in a terminal.

    python benchmarks/serve_first_paint.py [--quick] [--lines N] [--repeat K]

Writes an lrwatch JSONL log of N metric lines (default 100k; ``--quick`` 10k) in
benchmarks/out/, then, K times interleaved (a shared machine's load hits both alike):

- **baseline**: ``lrwatch watch --no-follow LOG`` in a real terminal (tmux, 160x48), timed from
  the command's start until the screen shows the run's last step;
- **served**: ``lrwatch serve --port 0 watch --no-follow LOG`` already listening; headless
  Chromium (Debian's, through selenium) opens the URL with the token, timed from the request
  until the page's text shows the run's last step. This is what a person waits for: the page,
  the scripts, the WebSocket, a fresh app process, its first frames through xterm.js.

Reports the best of each, every pair's ratio (served / terminal), and the server's own start
(the command until its URL is printed), which a person pays once, not per tab.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from common import ROOT, emit, out_dir, write_jsonl_log

LRWATCH = [sys.executable, "-m", "lrwatch"]


def _until(cond: Any, timeout: float = 300.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := cond()):
        if time.monotonic() > deadline:
            raise TimeoutError("no first paint")
        time.sleep(0.02)
    return value


def last_step_shown(text: str, n: int) -> bool:
    """Whether ``text`` holds the header's last step of an n-line log (steps count from 0;
    the header groups thousands when it has the room)."""
    return f"step {n - 1:,} " in text or f"step {n - 1} " in text


def time_terminal(log: Path, n: int) -> float:
    """Seconds from ``lrwatch watch`` starting in tmux to the header's last step on screen."""
    sock = f"lrwatch-bench-{os.getpid()}"
    tmux = ["tmux", "-L", sock]
    cmd = " ".join([*LRWATCH, "watch", "--no-follow", str(log)])
    t0 = time.perf_counter()
    subprocess.run([*tmux, "new-session", "-d", "-x", "160", "-y", "48", cmd], check=True)
    try:

        def shown() -> bool:
            out = subprocess.run(
                [*tmux, "capture-pane", "-p"], capture_output=True, text=True, check=False
            ).stdout
            return last_step_shown(out, n)

        _until(shown)
        return time.perf_counter() - t0
    finally:
        subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


def start_server(log: Path) -> tuple[subprocess.Popen[str], str, float]:
    """``lrwatch serve`` on the log: the process, its URL, seconds until it printed it."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*LRWATCH, "serve", "--port", "0", "watch", "--no-follow", str(log)],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if "open  http" in line:
            return proc, line.split()[-1], time.perf_counter() - t0
    raise RuntimeError("lrwatch serve printed no URL")


def time_browser(url: str, n: int) -> float:
    """Seconds from the browser's request to the page's text showing the last step."""
    from selenium.webdriver.common.by import By

    from tests.browser import chromium

    with chromium(1560, 940) as driver:  # about 160x48 cells of the page's 16 px font
        t0 = time.perf_counter()
        driver.get(url)

        def shown() -> bool:
            rows = driver.find_elements(By.CSS_SELECTOR, ".xterm-accessibility-tree")
            return bool(rows) and last_step_shown(rows[0].get_attribute("textContent") or "", n)

        _until(shown)
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=None)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--repeat", type=int, default=None)
    args = ap.parse_args()
    n = args.lines or (10_000 if args.quick else 100_000)
    repeat = args.repeat or (2 if args.quick else 3)
    if not shutil.which("tmux") or not shutil.which("chromium"):
        sys.exit("serve_first_paint needs tmux and chromium (apt-get install tmux chromium)")
    log = write_jsonl_log(out_dir() / f"serve_paint_{n}.jsonl", n)
    os.chdir(ROOT)
    proc, url, server_start = start_server(log)
    terminal, browser = [], []
    try:
        for _ in range(repeat):
            terminal.append(time_terminal(log, n))
            browser.append(time_browser(url, n))
            print(f"terminal {terminal[-1]:.2f} s  browser {browser[-1]:.2f} s", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    ratios = [b / t for b, t in zip(browser, terminal, strict=True)]
    emit(
        "serve_first_paint",
        {
            "lines": n,
            "repeat": repeat,
            "terminal_s": terminal,
            "browser_s": browser,
            "terminal_best_s": min(terminal),
            "browser_best_s": min(browser),
            "ratio_best": min(browser) / min(terminal),
            "ratio_median": statistics.median(ratios),
            "server_start_s": server_start,
        },
    )


def summary_rows(r: dict[str, Any]) -> list[Any]:
    """run_all's summary row: the browser's first paint against the terminal's."""
    from summary import Row

    return [
        Row(
            "serve",
            f"first paint in Chromium, `lrwatch serve watch`, {r['lines']:,} lines",
            f"{r['browser_best_s']:.2f} s (server start {r['server_start_s']:.2f} s, once)",
            f"same UI in a terminal {r['terminal_best_s']:.2f} s",
            f"{r['ratio_best']:.2f}× (median pair {r['ratio_median']:.2f}×)",
        )
    ]


if __name__ == "__main__":
    main()
