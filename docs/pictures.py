"""Regenerate the README's pictures from a real demo run: ``python docs/pictures.py``.

1. Trains the ``too-high`` demo (its real training process, ``python -m lrwatch.demos.run``)
   into a temporary folder; once its loss has diverged, cuts its LR ÷10 over the control
   socket (``lrwatch ctl LOG scale-lr 0.1``), as a user would, and lets it train on.
2. Opens the real UI (``LRWatchApp``) on that log at 120×36, waits for the rule engine's
   findings, and saves ``docs/screenshot.svg`` (dark theme) and ``docs/screenshot-light.svg``.
3. Draws ``docs/plot.svg`` with ``lrwatch plot LOG -o docs/plot.svg --theme dark``.

Takes about half a minute. Exits 1 if a step failed (the pictures made so far are kept).
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parent
SIZE = (120, 36)  #: the terminal the screenshots show (columns, rows)
STEPS = 240  #: divergence shows near step 74; the cut and the recovery take the rest
PACE = 40.0  #: steps per second: slow enough to cut the LR soon after the loss took off
DIVERGED = 20.0  #: loss / best loss at which the LR is cut
TIMEOUT = 120.0  #: seconds any one step may take


def _records(log: Path) -> list[dict[str, object]]:
    """The complete lines of the log so far, parsed."""
    if not log.exists():
        return []
    text = log.read_text()
    return [json.loads(line) for line in text[: text.rfind("\n") + 1].splitlines() if line]


def _diverged(log: Path) -> bool:
    """The loss is :data:`DIVERGED` times its best so far."""
    losses = [r.get("loss") for r in _records(log)]
    finite = [x for x in losses if isinstance(x, float) and math.isfinite(x)]
    return bool(finite) and finite[-1] > DIVERGED * min(finite)


def _wait(cond: Callable[[], bool], proc: subprocess.Popen[str], what: str) -> None:
    """Poll ``cond`` until true; fail if the trainer exits first or after :data:`TIMEOUT`."""
    deadline = time.monotonic() + TIMEOUT
    while not cond():
        if proc.poll() is not None:
            raise SystemExit(f"pictures: the demo exited ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            raise SystemExit(f"pictures: timed out waiting for {what}")
        time.sleep(0.05)


def train(folder: Path) -> Path:
    """Run the demo, cut its LR once it diverged, wait for its end; the log's path."""
    log = folder / "lr-too-high.jsonl"
    cmd = [sys.executable, "-m", "lrwatch.demos.run", "too-high", "--log", str(folder)]
    cmd += ["--steps", str(STEPS), "--pace", str(PACE), "--seed", "0"]
    print("training:", " ".join(cmd[1:]), flush=True)
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True) as proc:
        _wait(lambda: _diverged(log), proc, "the loss diverged")
        ctl = [sys.executable, "-m", "lrwatch", "ctl", str(log), "scale-lr", "0.1"]
        done = subprocess.run(ctl, capture_output=True, text=True, timeout=TIMEOUT)
        print("  ", done.stdout.strip() or done.stderr.strip(), flush=True)
        if done.returncode != 0:
            raise SystemExit("pictures: lrwatch ctl scale-lr failed")
        proc.communicate(timeout=TIMEOUT)
    if proc.returncode != 0:
        raise SystemExit(f"pictures: the demo exited with {proc.returncode}")
    return log


async def screenshot(log: Path, out: Path, theme: str) -> None:
    """The UI on ``log`` (read once, not followed), saved once its findings show."""
    from lrwatch.tui.app import LRWatchApp

    app = LRWatchApp(paths=[str(log)], follow=False, theme=theme)
    async with app.run_test(size=SIZE) as pilot:
        deadline = time.monotonic() + TIMEOUT
        while not (app.loading is None and app.findings.get("lr-too-high")):
            if time.monotonic() > deadline:
                raise SystemExit("pictures: no findings shown")
            await pilot.pause(0.05)
        await pilot.pause()  # the frame with the findings drawn
        app.save_screenshot(filename=out.name, path=str(out.parent))
    print("wrote", out.relative_to(DOCS.parent), flush=True)


def plot(log: Path, out: Path) -> bool:
    """``lrwatch plot`` of the same run; False (and why) when it failed."""
    cmd = [sys.executable, "-m", "lrwatch", "plot", str(log), "-o", str(out), "--theme", "dark"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        print(f"pictures: lrwatch plot failed ({done.returncode}):", done.stderr.strip())
        return False
    print("wrote", out.relative_to(DOCS.parent), flush=True)
    return True


def main() -> int:
    """Train, shoot, plot; 0 when every picture was made."""
    with tempfile.TemporaryDirectory(prefix="lrwatch-pictures-") as tmp:
        log = train(Path(tmp))
        asyncio.run(screenshot(log, DOCS / "screenshot.svg", "dark"))
        asyncio.run(screenshot(log, DOCS / "screenshot-light.svg", "light"))
        return 0 if plot(log, DOCS / "plot.svg") else 1


if __name__ == "__main__":
    sys.exit(main())
