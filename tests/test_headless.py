"""The training-side and headless modules import neither textual, rich nor torch.

Every module below the front ends (tests/test_layers.py: layers 1-7, so ``train`` too, which
imports torch lazily) is imported for real, one after another in a fresh interpreter, and
whichever pulls one of them into ``sys.modules`` is named. test_layers checks the same from
the source, lazy imports included; this catches what a dependency drags in at import time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_layers import LAYERS

ROOT = Path(__file__).resolve().parent.parent

#: Module prefixes that must stay headless. ``lrwatch.integrations`` imports transformers /
#: lightning (and so torch) by design; demos, tui, commands and cli are the front ends.
HEADLESS_PREFIXES = tuple(
    name
    for layer in LAYERS[: next(i for i, lay in enumerate(LAYERS) if "lrwatch.session" in lay) + 1]
    for name in layer
    if name != "lrwatch.integrations"
)


def headless_modules() -> list[str]:
    """``lrwatch`` itself and every module under :data:`HEADLESS_PREFIXES` that exists."""
    names = ["lrwatch"]
    for path in sorted((ROOT / "lrwatch").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        name = ".".join(parts)
        if any(name == p or name.startswith(p + ".") for p in HEADLESS_PREFIXES):
            names.append(name)
    return names


def test_headless_modules_do_not_import_ui_or_torch() -> None:
    code = (
        "import importlib, sys\n"
        "seen = set()\n"
        f"for m in {headless_modules()!r}:\n"
        "    try:\n"
        "        importlib.import_module(m)\n"
        "    except Exception as exc:\n"
        "        print(f'{m} does not import: {type(exc).__name__}: {exc}')\n"
        "    bad = {n.split('.')[0] for n in sys.modules} & {'textual', 'rich', 'torch'}\n"
        "    for b in sorted(bad - seen):\n"
        "        print(f'{m} pulled in {b}')\n"
        "    seen |= bad\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert out.stdout.strip() == "", f"headless imports:\n{out.stdout.strip()}"
