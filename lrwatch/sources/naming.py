"""Run names (short, readable, unique) and which files in a watched directory are logs.

A run is named after its file (``nanogpt_healthy.log`` -> ``nanogpt_healthy``), or after the
directory that holds it when the file name says nothing (``version_0/metrics.csv`` ->
``version_0``, ``run3/events.out.tfevents.1700000000.host.1.0`` -> ``run3``). Clashes take
parent directories (``a/version_0``, ``b/version_0``), then a counter (``version_0#2``). A
name once given never changes: the UI and the store key runs by it.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

#: File stems that name the kind of file, not the run.
GENERIC_STEMS = frozenset(
    {
        "metrics",
        "trainer_state",
        "log",
        "logs",
        "output",
        "stdout",
        "stderr",
        "console",
        "events",
        "progress",
        "history",
        "nohup",
    }
)

#: Suffixes of files a directory watch treats as logs (plus tfevents, trainer_state.json and
#: W&B's ``run-<id>.wandb``).
LOG_SUFFIXES = frozenset(
    {".log", ".txt", ".jsonl", ".ndjson", ".csv", ".tsv", ".out", ".stdout", ".stderr", ".err"}
)

#: Suffixes a glob never picks up: checkpoints, arrays, archives, images, sockets.
BINARY_SUFFIXES = frozenset(
    {
        ".pt",
        ".pth",
        ".bin",
        ".safetensors",
        ".ckpt",
        ".npy",
        ".npz",
        ".pkl",
        ".pickle",
        ".h5",
        ".onnx",
        ".arrow",
        ".parquet",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".zip",
        ".gz",
        ".tar",
        ".so",
        ".pyc",
        ".sock",
        ".lock",
    }
)

#: Directories a directory watch does not descend into.
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "venv"})

_MAX_PARENTS = 4


def is_log_name(filename: str) -> bool:
    """Whether a file found in a watched directory should become a run."""
    if filename.startswith("."):
        return False
    if "tfevents" in filename or filename.endswith(".wandb"):
        return True  # binary logs: TensorBoard events, W&B run files (named run-<id>)
    if filename.endswith(".json"):
        return "trainer_state" in filename  # HF's; other JSON is config, not a log

    return os.path.splitext(filename)[1].lower() in LOG_SUFFIXES


def is_binary_name(filename: str) -> bool:
    """Whether a file is obviously not a log (a checkpoint, an image, an archive...)."""
    return filename.startswith(".") or os.path.splitext(filename)[1].lower() in BINARY_SUFFIXES


def _split(path: str) -> tuple[str, list[str]]:
    """(base name, parent directories outermost first) for ``path``."""
    full = os.path.abspath(path)
    parent, filename = os.path.split(full)
    dirs = [d for d in parent.split(os.sep) if d]
    stem = filename.split(".tfevents")[0] if "tfevents" in filename else filename
    stem = os.path.splitext(stem)[0] if "." in stem[1:] else stem
    if (filename.startswith("events.out.tfevents") or stem.lower() in GENERIC_STEMS) and dirs:
        return dirs[-1], dirs[:-1]
    return stem or filename, dirs


def candidate(path: str, level: int) -> str:
    """The name of ``path`` qualified by ``level`` parent directories."""
    base, dirs = _split(path)
    if level <= 0 or not dirs:
        return base
    return "/".join([*dirs[-level:], base])


class RunNamer:
    """Hands out unique run names; names already given are never changed."""

    def __init__(self) -> None:
        self.taken: set[str] = set()

    def assign(self, paths: Iterable[str]) -> dict[str, str]:
        """Names for a batch of new paths (the stdin path ``-`` is named ``stdin``)."""
        paths = list(dict.fromkeys(paths))
        levels = dict.fromkeys(paths, 0)
        names = {p: self._candidate(p, 0) for p in paths}
        for _ in range(_MAX_PARENTS):
            counts = Counter(names.values())
            clash = [p for p in paths if counts[names[p]] > 1 or names[p] in self.taken]
            grew = False
            for p in clash:
                longer = self._candidate(p, levels[p] + 1)
                if longer != names[p]:
                    levels[p] += 1
                    names[p] = longer
                    grew = True
            if not grew:
                break
        out: dict[str, str] = {}
        for p in paths:
            name = names[p]
            k = 2
            while name in self.taken:
                name = f"{names[p]}#{k}"
                k += 1
            self.taken.add(name)
            out[p] = name
        return out

    def claim(self, name: str) -> str:
        """Give out a name a run carries itself (an MLflow ``run_name``), counted on a clash."""
        unique, k = name, 2
        while unique in self.taken:
            unique = f"{name}#{k}"
            k += 1
        self.taken.add(unique)
        return unique

    @staticmethod
    def _candidate(path: str, level: int) -> str:
        return "stdin" if path == "-" else candidate(path, level)
