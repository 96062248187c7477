"""Sources: training logs followed live (files, directories, globs) or read from a pipe.

``open_runs`` opens what the user named as a :class:`RunSet` of :class:`RunSource` (one per
file, or stdin); ``read_runs`` reads them once into a :class:`~lrwatch.store.MetricStore`;
``follow`` is the loop a UI worker thread runs to keep a store up to date. docs/sources.md
describes what is followed and how.
"""

from __future__ import annotations

from lrwatch.sources.errors import SourceError
from lrwatch.sources.follow import follow, read_runs
from lrwatch.sources.run import RunSource
from lrwatch.sources.runset import RunSet, open_runs

__all__ = ["RunSet", "RunSource", "SourceError", "follow", "open_runs", "read_runs"]
