"""Send a training program's console to a file, as ``python train.py > file 2>&1`` would."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def console_to(path: Path) -> Iterator[None]:
    """Redirect file descriptors 1 and 2 (and ``sys.stdout``/``sys.stderr``) to ``path``.

    At the descriptor level, so what libraries print through handlers bound to the original
    streams (``logging``, warnings, tqdm) lands in the file too, like a shell redirect.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "w", buffering=1) as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
        try:
            with contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
                yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
