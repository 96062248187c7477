"""RunSet: the runs a user named (files, directories, globs, ``-``), with new files picked up."""

from __future__ import annotations

import glob
import os
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lrwatch.losschoice import LossChooser
from lrwatch.records import AnyRecord, NameMap
from lrwatch.sources.errors import SourceError
from lrwatch.sources.naming import SKIP_DIRS, RunNamer, is_binary_name, is_log_name
from lrwatch.sources.run import RunSource

if TYPE_CHECKING:  # imported when met: it pulls in lrwatch.formats (numpy, msgspec)
    from lrwatch.sources.mlflow import MlflowRunSource

#: Seconds between rescans of watched directories and globs (a scan walks a tree).
RESCAN = 0.5
#: Depth of subdirectories a directory watch descends (``lightning_logs/version_0/``).
MAX_DEPTH = 4
#: Files one watch turns into runs at most (a home directory is not a run).
MAX_FILES = 1000

_GLOB_CHARS = frozenset("*?[")


class RunSet:
    """All runs being read; :meth:`poll` returns what is new and discovers new files."""

    def __init__(
        self,
        fmt: str | None = None,
        *,
        follow: bool = True,
        names: NameMap | None = None,
        loss: str | None = None,
        val_loss: str | None = None,
        **source_options: Any,
    ) -> None:
        """``source_options`` (``parser_factory``, ``detector``) are passed to each source.

        ``loss`` / ``val_loss`` name the metrics to take as the losses (``--loss``), instead
        of the order in :mod:`lrwatch.losschoice`.
        """
        self.sources: dict[str, RunSource | MlflowRunSource] = {}
        #: Per run, the choice of its training and validation loss (see losschoice).
        self.choosers: dict[str, LossChooser] = {}
        self.fmt = fmt
        self.follow = follow
        self._names = names
        self._loss = (loss, val_loss)
        self._options = source_options
        self._namer = RunNamer()
        self._paths: set[str] = set()
        self._dirs: list[str] = []
        self._globs: list[str] = []
        self._scanned = 0.0
        self._fresh: list[str] = []  # runs added since the last poll
        # Paths other threads asked for (add_later): the polling thread owns the sources.
        self._queued: list[str] = []
        self._queue_lock = threading.Lock()

    def add(self, paths: list[str], fd: int | None = None) -> list[str]:
        """Add explicit files (or ``-``); returns the names of the new runs."""
        new = [p for p in paths if self._key(p) not in self._paths]
        added = []
        for path, name in self._namer.assign(new).items():
            self._paths.add(self._key(path))
            src = RunSource(
                path,
                name,
                self.fmt,
                follow=self.follow,
                names=self._names,
                fd=fd if path == "-" else None,
                **self._options,
            )
            self.sources[name] = src
            added.append(name)
        self._fresh += added
        return added

    def add_later(self, paths: list[str]) -> None:
        """Add files at the next :meth:`poll` (thread-safe: for a thread that does not poll,
        e.g. one that learned where a child logs; the new runs appear in that poll)."""
        with self._queue_lock:
            self._queued.extend(paths)

    def _take_queued(self) -> None:
        with self._queue_lock:
            queued, self._queued = self._queued, []
        if queued:
            self.add(queued)

    def add_mlflow(self, run_dirs: list[str]) -> list[str]:
        """Add MLflow run directories, one run each (named after its ``run_name``)."""
        from lrwatch.sources.mlflow import MlflowRunSource, run_info, run_name

        added = []
        for path in run_dirs:
            meta = None if self._key(path) in self._paths else run_info(path)
            if meta is None:  # a run already, or none (a logged model, a deleted run) yet
                continue
            self._paths.add(self._key(path))
            name = self._namer.claim(run_name(path, meta))
            self.sources[name] = MlflowRunSource(path, name, follow=self.follow, names=self._names)
            added.append(name)
        self._fresh += added
        return added

    def watch_dir(self, path: str) -> None:
        """Watch a directory: every log file and MLflow run under it (new ones too) is a run."""
        self._dirs.append(path)

    def watch_glob(self, pattern: str) -> None:
        """Watch a glob pattern (``**`` recursive): matching files (new ones too) become runs."""
        self._globs.append(pattern)

    def scan(self) -> list[str]:
        """Look for new files in watched directories and globs; returns the new run names."""
        self._scanned = time.monotonic()
        found: list[str] = []
        mlflow_runs: list[str] = []
        for d in self._dirs:
            files, run_dirs = _scan_dir(d)
            found += files
            mlflow_runs += run_dirs
        for pattern in self._globs:
            found += sorted(
                p
                for p in glob.glob(pattern, recursive=True)
                if os.path.isfile(p) and not is_binary_name(os.path.basename(p))
            )[:MAX_FILES]
        return self.add(found) + self.add_mlflow(mlflow_runs)

    def poll(self) -> dict[str, list[AnyRecord]]:
        """Run name -> new records; runs found since the last poll appear (maybe empty)."""
        return dict(self.poll_each())  # a new run with records: the later entry wins

    def poll_each(self) -> Iterator[tuple[str, list[AnyRecord]]]:
        """:meth:`poll`, one run at a time: each run's records are handed over as soon as
        they are read (a thousand-run backlog is not held in memory whole, and the first
        runs show while the last are read). New runs come first, maybe with no records."""
        self._take_queued()
        watching = self.follow and (self._dirs or self._globs)
        if watching and time.monotonic() - self._scanned >= RESCAN:
            self.scan()
        fresh, self._fresh = self._fresh, []
        for name in fresh:
            yield name, []
        for name, src in list(self.sources.items()):
            records = src.poll()
            if records:
                yield name, self.chooser(name).apply(records)

    def peek_options(self) -> dict[str, Any]:
        """The sources' options that a peek at one of their files takes too (see follow)."""
        keep = ("parser_factory", "detector")
        return {"names": self._names, **{k: v for k, v in self._options.items() if k in keep}}

    def chooser(self, name: str) -> LossChooser:
        """The loss choice of run ``name`` (made on its first loss-like record)."""
        chooser = self.choosers.get(name)
        if chooser is None:
            chooser = self.choosers[name] = LossChooser(*self._loss)
        return chooser

    @property
    def done(self) -> bool:
        """Whether every source is finished (only when not following, or pipes at EOF)."""
        return all(src.done for src in self.sources.values())

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, waking early when a pipe has data."""
        streams = [s for s in self.sources.values() if s.is_stream and not s.done]
        if streams:
            streams[0].wait(timeout)
        else:
            time.sleep(timeout)

    def close(self) -> None:
        """Close every source."""
        for src in self.sources.values():
            src.close()

    @staticmethod
    def _key(path: str) -> str:
        return path if path == "-" else os.path.realpath(path)


def _scan_dir(root: str) -> tuple[list[str], list[str]]:
    """Log files and MLflow run directories under ``root`` (``root`` itself may be one).

    Hidden and package directories are not descended into, nor MLflow run directories: their
    metric files are read by the run's own source, not as text runs.
    """
    found: list[str] = []
    mlflow_runs: list[str] = []
    base_depth = root.rstrip(os.sep).count(os.sep)
    for dirpath, dirnames, filenames in os.walk(root):
        if "meta.yaml" in filenames and "metrics" in dirnames:  # an MLflow run (or model)
            mlflow_runs.append(dirpath)
            dirnames[:] = []
            continue
        deep = dirpath.count(os.sep) - base_depth >= MAX_DEPTH
        dirnames[:] = (
            [] if deep else sorted(d for d in dirnames if d[0] != "." and d not in SKIP_DIRS)
        )
        in_wandb = _under_wandb(dirpath)
        for f in sorted(filenames):
            # In a W&B folder the run file holds the run; debug logs, requirements.txt and the
            # console copy in files/ are W&B's own (a printed config would read as metrics).
            if is_log_name(f) and (not in_wandb or f.endswith(".wandb")):
                found.append(os.path.join(dirpath, f))
                if len(found) >= MAX_FILES:
                    return found, mlflow_runs
    return found, mlflow_runs


def _under_wandb(dirpath: str) -> bool:
    """Whether ``dirpath`` is in a W&B folder (W&B always writes under a ``wandb/``)."""
    return "wandb" in os.path.abspath(dirpath).split(os.sep)


def open_runs(
    paths: list[str],
    fmt: str | None = None,
    follow: bool = True,
    names: NameMap | None = None,
    *,
    stdin_fd: int | None = None,
    loss: str | None = None,
    val_loss: str | None = None,
    **source_options: Any,
) -> RunSet:
    """Open what the user named: files, directories, globs and ``-`` (stdin).

    ``stdin_fd`` reads ``-`` from that descriptor instead of fd 0; ``source_options``
    (``parser_factory``, ``detector``) replace the formats' parsers and detection. Following, a path that does not exist yet is waited for; reading once, it is an error.
    Raises :class:`SourceError` for a missing path, an unknown format or an unreadable file.
    """
    if fmt is not None and "parser_factory" not in source_options:
        _check_format(fmt)
    runs = RunSet(fmt, follow=follow, names=names, loss=loss, val_loss=val_loss, **source_options)
    files: list[str] = []
    for path in paths:
        if path == "-":
            files.append(path)
        elif os.path.isdir(path):
            runs.watch_dir(path)
        elif os.path.exists(path):
            if not os.access(path, os.R_OK):
                raise SourceError(f"{path}: permission denied")
            files.append(path)
        elif _GLOB_CHARS & set(path):
            runs.watch_glob(path)
        elif follow:
            files.append(path)  # not there yet: waited for
        else:
            raise SourceError(f"{path}: no such file or directory")
    runs.add(files, fd=stdin_fd)
    runs.scan()
    if not follow and not runs.sources:
        raise SourceError(f"no log files found in {' '.join(paths)}")
    return runs


def _check_format(fmt: str) -> None:
    from lrwatch.formats import FORMATS

    if fmt not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise SourceError(f"unknown format {fmt!r} (known: {known})")
