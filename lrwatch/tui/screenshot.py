"""Names and places of the UI's SVG screenshots (key ``P``): ``<run>-step<N>.svg``.

Pure functions; the app's action hands the name and folder to Textual's
``App.deliver_screenshot``, which writes the file here, or, in a browser under
``lrwatch serve``, sends it to the browser as a download.
"""

from __future__ import annotations

import os
import re
from collections.abc import Container, Mapping
from pathlib import Path

#: The folder screenshots go to when set (else the current directory).
SCREENSHOTS_ENV = "LRWATCH_SCREENSHOTS"

_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")


def safe_name(run: str) -> str:
    """``run`` as a file name: runs of other characters (``/``, spaces, ``:``) become ``_``,
    and no leading dot (a hidden file) or dash (read as an option)."""
    return _UNSAFE.sub("_", run).lstrip(".-_") or "run"


def base_name(run: str | None, step: int | None) -> str:
    """``exp1-step1200``: the run and its last step (``lrwatch`` before any run is read)."""
    name = safe_name(run) if run else "lrwatch"
    return f"{name}-step{step}" if step is not None else name


def shot_folder(environ: Mapping[str, str] | None = None) -> Path:
    """``$LRWATCH_SCREENSHOTS`` when set, else the current directory."""
    env = os.environ if environ is None else environ
    return Path(env.get(SCREENSHOTS_ENV, "").strip() or ".")


def free_name(folder: Path, base: str, taken: Container[str] = ()) -> str:
    """``base.svg``, or ``base-2.svg``, ``base-3.svg``... : the first name that is neither a
    file in ``folder`` nor in ``taken`` (delivered already, perhaps not on disk yet: the file
    is written in a thread, and a browser download writes nothing here)."""
    k = 1
    while True:
        name = f"{base}.svg" if k == 1 else f"{base}-{k}.svg"
        if name not in taken and not (folder / name).exists():
            return name
        k += 1
