"""The command line both corpus builders share (rules_corpus.py, holdout_corpus.py).

Only the arguments: what a corpus trains and how it is labelled stay in each builder, so the
two keep independent code paths where it matters.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def corpus_args(
    doc: str, default_out: Path, what: str, argv: list[str] | None
) -> argparse.Namespace:
    """``--out``, ``--jobs``, ``--only`` (``what``: what a name picks) and ``--relabel``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--out", type=Path, default=default_out)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    ap.add_argument("--only", default=None, help=f"train only {what} whose name contains this")
    ap.add_argument("--relabel", action="store_true", help="label the existing logs again")
    return ap.parse_args(argv)


def print_relabel(relabel: Callable[[Path], list[str]], out: Path) -> int:
    """``--relabel``: label the logs in ``out`` again and say which labels changed."""
    changed = relabel(out)
    print(f"{len(changed)} labels changed" + "".join(f"\n  {c}" for c in changed))
    return 0
