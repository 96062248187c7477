"""Choices remembered per watched directory: the metric panels picked there.

One JSON file, ``$XDG_STATE_HOME/lrwatch/views.json`` (``~/.local/state/lrwatch/views.json``
by default), keyed by the real path of the directory the watched paths have in common::

    {"v": 1, "dirs": {"/home/me/runs": {"metrics": ["acc", "sys/rss_mb"]}}}

Preferences are a convenience, never a reason to fail: a corrupt or unwritable file is
ignored and the caller gets a one-line note to show, not an exception. Writes are atomic
(a temporary file beside it, then ``os.replace``), so two lrwatch windows cannot leave half
a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

FILE_VERSION = 1
_GLOB = "*?["


def state_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the views are kept: under ``$XDG_STATE_HOME`` (or ``~/.local/state``)."""
    env = os.environ if env is None else env
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "lrwatch" / "views.json"


def _directory(path: str) -> str:
    """The directory a watched path stands for: itself, the file's, or a glob's fixed part."""
    cut = min((i for i, ch in enumerate(path) if ch in _GLOB), default=-1)
    if cut >= 0:
        path = path[:cut]
        return os.path.abspath(path if path.endswith(os.sep) else os.path.dirname(path) or ".")
    return os.path.abspath(path if os.path.isdir(path) else os.path.dirname(path) or ".")


def dir_key(paths: Sequence[str]) -> str | None:
    """The real path of the directory common to ``paths`` (None: nothing on disk, e.g. stdin)."""
    dirs = [_directory(p) for p in paths if p and p != "-"]
    if not dirs:
        return None
    return os.path.realpath(os.path.commonpath(dirs))


class ViewPrefs:
    """The remembered choices of one watched directory (``key``; None remembers nothing)."""

    def __init__(self, key: str | None, path: Path | None = None) -> None:
        self.key = key
        self.path = state_path() if path is None else path

    def _read(self) -> tuple[dict[str, Any], str | None]:
        """The whole file's data, and a note when it could not be read."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}, None
        except OSError as e:
            return {}, f"remembered views not read ({self.path}: {e.strerror or e})"
        try:
            data = json.loads(text)
        except ValueError:
            return {}, f"remembered views ignored: {self.path} is not valid JSON"
        if not isinstance(data, dict) or not isinstance(data.get("dirs", {}), dict):
            return {}, f"remembered views ignored: {self.path} is not a views file"
        return data, None

    def load_metrics(self) -> tuple[list[str], str | None]:
        """The metrics picked here last time (empty when none), and a note if the file is bad."""
        if self.key is None:
            return [], None
        data, note = self._read()
        entry = data.get("dirs", {}).get(self.key, {})
        metrics = entry.get("metrics", []) if isinstance(entry, dict) else []
        if not isinstance(metrics, list):
            return [], note
        return [m for m in metrics if isinstance(m, str)], note

    def save_metrics(self, metrics: Sequence[str]) -> str | None:
        """Remember ``metrics`` for this directory; a note (not an exception) if it fails."""
        if self.key is None:
            return None
        data, _ = self._read()  # a corrupt file is replaced: it held nothing usable
        found = data.get("dirs")
        dirs: dict[str, Any] = found if isinstance(found, dict) else {}
        old = dirs.get(self.key)
        dirs[self.key] = {**(old if isinstance(old, dict) else {}), "metrics": list(metrics)}
        try:
            _write_atomic(self.path, {"v": FILE_VERSION, "dirs": dirs})
        except OSError as e:
            return f"views not remembered ({self.path}: {e.strerror or e})"
        return None


def _write_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".views.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
