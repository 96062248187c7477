"""The training-side and headless modules import neither textual, rich nor torch."""

from __future__ import annotations

import subprocess
import sys

HEADLESS = [
    "lrwatch",
    "lrwatch.records",
    "lrwatch.store",
    "lrwatch.formats",
    "lrwatch.sources",
    "lrwatch.rules",
    "lrwatch.control",
    "lrwatch.train",
]


def test_headless_modules_do_not_import_ui_or_torch() -> None:
    code = (
        "import importlib, sys\n"
        f"for m in {HEADLESS!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich', 'torch'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"headless import pulled in: {out.stdout.strip()}"
