"""Run names (short, readable, unique) and which files in a watched directory are logs.

A run is named after its file (``nanogpt_healthy.log`` -> ``nanogpt_healthy``), or after the
directory that holds it when the file name says nothing (``version_0/metrics.csv`` ->
``version_0``, ``run3/events.out.tfevents.1700000000.host.1.0`` -> ``run3``). Clashes take
the parent directories that tell the paths apart and skip those they share
(``expA/lightning_logs/version_0`` and ``expB/lightning_logs/version_0`` ->
``expA/version_0``, ``expB/version_0``), then a counter (``version_0#2``) when no directory
does. A name once given never changes: the UI and the store key runs by it. A run found in a
later scan is told apart from every run named before it (``version_0`` stays, the newcomer
is ``expB/version_0``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

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
        # Not binary, but never runs: a Monitor's captured output (a run's console, shown in
        # its pane) and the rendezvous file `lrwatch run` hands its child.
        ".console",
        ".rendezvous",
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


@lru_cache(maxsize=8192)
def _split(path: str) -> tuple[str, tuple[str, ...]]:
    """(base name, parent directories outermost first) for ``path`` (cached: a sweep of a
    thousand runs that all clash compares every path with every other)."""
    full = os.path.abspath(path)
    parent, filename = os.path.split(full)
    dirs = tuple(d for d in parent.split(os.sep) if d)
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
        #: Every path named so far, by its base name: a later path that clashes is told apart
        #: from these by the directories that differ.
        self._named: dict[str, list[str]] = {}

    def assign(self, paths: Iterable[str]) -> dict[str, str]:
        """Names for a batch of new paths (the stdin path ``-`` is named ``stdin``)."""
        paths = list(dict.fromkeys(paths))
        bases = {p: self._candidate(p, 0) for p in paths}
        groups: dict[str, list[str]] = {}
        for p in paths:
            groups.setdefault(bases[p], []).append(p)
        names: dict[str, str] = {}
        for p in paths:
            base = bases[p]
            group = groups[base]
            if len(group) == 1 and base not in self.taken:
                names[p] = base
                continue
            others = [q for q in group if q != p]
            names[p] = distinguishing(p, others + self._named.get(base, []))
        names = self._grow_clashes(paths, names)
        out: dict[str, str] = {}
        for p in paths:
            name = names[p]
            k = 2
            while name in self.taken:
                name = f"{names[p]}#{k}"
                k += 1
            self.taken.add(name)
            self._named.setdefault(bases[p], []).append(p)
            out[p] = name
        return out

    def _grow_clashes(self, paths: list[str], names: dict[str, str]) -> dict[str, str]:
        """A name that still clashes (with a name a run claimed, or in an odd tree) takes
        contiguous parents until it is free; failing that, it keeps its name for a counter."""
        counts = Counter(names.values())
        for p in paths:
            if counts[names[p]] == 1 and names[p] not in self.taken:
                continue
            for level in range(1, _MAX_PARENTS + 1):
                longer = self._candidate(p, level)
                if longer not in self.taken and not counts[longer]:
                    counts[names[p]] -= 1
                    counts[longer] += 1
                    names[p] = longer
                    break
        return names

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


def distinguishing(path: str, others: Iterable[str]) -> str:
    """``path``'s base name with the fewest parent directories that tell it from ``others``.

    Directories are taken innermost first, and only where they differ from a path not yet
    told apart, so a level every path shares (``lightning_logs``) is skipped:
    ``.../expA/lightning_logs/version_0`` against ``.../expB/lightning_logs/version_0`` is
    ``expA/version_0``. Without a differing directory (the same path twice) the base name.
    """
    if path == "-":
        return "stdin"
    base, dirs = _split(path)
    mine = dirs[::-1]  # innermost first
    rest = [_split(q)[1][::-1] for q in others]
    chosen: list[int] = []
    for level, segment in enumerate(mine):
        if not rest:
            break
        if any(level >= len(r) or r[level] != segment for r in rest):
            chosen.append(level)
            rest = [r for r in rest if level < len(r) and r[level] == segment]
    return "/".join([*(mine[i] for i in reversed(chosen)), base])
