"""mypy stays clean over the package, as [tool.mypy] in pyproject.toml configures it (strict for
the core). The cache in .mypy_cache (gitignored) makes reruns take seconds; a cold run about a
minute, most of it torch's and lightning's own sources."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_mypy_is_clean() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(ROOT / ".mypy_cache")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stdout + out.stderr
