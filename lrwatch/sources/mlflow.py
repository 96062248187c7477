"""MLflow's file store (``mlruns/``), read without the mlflow package.

The layout (mlflow 1.x to 3.x; tested against files written by mlflow-skinny 3.18)::

    mlruns/<experiment_id>/<run_id>/meta.yaml          run_name, status, end_time, ...
    mlruns/<experiment_id>/<run_id>/metrics/<key>      one file per metric key; a key with
                                                       '/' is a subdirectory path
                                                       lines: "<timestamp_ms> <value> <step>"

One run directory is one lrwatch run: :class:`MlflowRunSource` follows every metric file of
the run with its own :class:`~lrwatch.sources.tail.FileTail` (files that appear later are
picked up by a rescan) and merges the values logged at the same step into one ``Metrics``
record. It has the public interface of :class:`~lrwatch.sources.run.RunSource`, so a
:class:`~lrwatch.sources.runset.RunSet` holds either.
"""

from __future__ import annotations

import os
import time
from typing import Any, cast

from lrwatch.formats.base import MIN_WALL_TIME, LineParser, wall_time
from lrwatch.records import AnyRecord, Event, Metrics, NameMap
from lrwatch.sources.run import POLL_BUDGET
from lrwatch.sources.tail import FLUSH, RESTART, FileTail
from lrwatch.store import MAX_SERIES

#: The run's metadata file and its metrics folder (runset.py finds runs by these names).
META = "meta.yaml"
METRICS = "metrics"
#: Seconds between rescans of the metrics folder and meta.yaml while following.
RESCAN = 0.5
#: Bytes one poll reads per metric file at least (the poll budget is shared among the files,
#: so that every metric of a long run advances together and values of a step are merged).
MIN_SHARE = 64 << 10
#: Bytes of meta.yaml read at most (it is a few hundred bytes).
META_MAX = 64 << 10
#: MLflow's RunStatus numbers that end a run -> the lrwatch ``end`` status.
END_STATUS = {"3": "finished", "4": "crashed", "5": "crashed"}
#: MLflow's RunStatus numbers -> names (meta.yaml stores the number).
STATUS_NAMES = {"1": "RUNNING", "2": "SCHEDULED", "3": "FINISHED", "4": "FAILED", "5": "KILLED"}

#: Steps at or above this are not read (the store keeps steps as int64).
MAX_STEP = 2**62
#: Timestamps (ms) at or above this are not wall time (year 5138): not read as ``t``.
MAX_WALL_MS = 10**14


def read_meta(run_dir: str) -> dict[str, str]:
    """The top-level ``key: value`` scalars of ``<run_dir>/meta.yaml`` ({} when unreadable).

    A line scan, not a YAML parser: meta.yaml is a flat mapping written by ``yaml.dump``,
    whose only subtleties for the scalars read here are quoting and folding a long value onto
    indented continuation lines.
    """
    try:
        with open(os.path.join(run_dir, META), encoding="utf-8", errors="replace") as fh:
            text = fh.read(META_MAX)
    except OSError:
        return {}
    out: dict[str, str] = {}
    key = ""
    for line in text.splitlines():
        if line[:1] in (" ", "\t"):  # indented: a folded long value, or a nested block
            if key and line.strip()[:1] not in ("", "-", "#"):
                out[key] += " " + line.strip()
            continue
        name, sep, value = line.partition(":")
        key = name.strip() if sep and not line.startswith(("#", "-")) else ""
        if key:
            out[key] = value.strip()
    return {k: _unquote(v) for k, v in out.items()}


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        inner = value[1:-1]
        for esc, char in (('\\"', '"'), ("\\t", "\t"), ("\\n", "\n"), ("\\\\", "\\")):
            inner = inner.replace(esc, char)
        return inner
    return value


def run_info(run_dir: str) -> dict[str, str] | None:
    """meta.yaml of an MLflow run that is not deleted, else ``None`` (a model, a deleted run)."""
    meta = read_meta(run_dir)
    if not meta.get("run_id") or meta.get("lifecycle_stage") == "deleted":
        return None
    return meta


def run_name(run_dir: str, meta: dict[str, str] | None = None) -> str:
    """The run's ``run_name`` from meta.yaml, else its run id (the directory's name)."""
    meta = read_meta(run_dir) if meta is None else meta
    name = meta.get("run_name", "").strip()
    return name or meta.get("run_id") or os.path.basename(os.path.normpath(run_dir))


#: A value as read from a metric file: (step, value, timestamp in ms).
Point = tuple[int, float, int]


class MetricLines(LineParser):
    """The lines of one metric file -> :data:`Point` tuples; what does not parse is skipped.

    MLflow writes ``<timestamp_ms> <value> <step>``; it also reads the 2-field lines of old
    versions (step 0) and 5-field lines with a dataset name and digest, and so does this.
    It yields points, not records: :func:`merge_steps` makes one record per step out of the
    points of every metric file (a record per line would cost most of the reading time).
    """

    name = "mlflow"

    def __init__(self, key: str, names: NameMap | None = None) -> None:
        super().__init__(names)
        self.key = key
        self.metric = self.names(key)  #: the canonical name

    def points(self, data: bytes) -> list[Point]:
        """:meth:`feed`: the points of the lines ``data`` completes."""
        return cast("list[Point]", self.feed(data))  # what _parse_block returns

    def last_points(self) -> list[Point]:
        """:meth:`flush`: the point of a last line without a newline."""
        return cast("list[Point]", self.flush())

    def _parse_block(self, block: bytes) -> list[Any]:  # Points, where records would be
        out: list[Point] = []
        for raw in block.split(b"\n"):
            parts = raw.split()
            if not parts:
                continue
            try:  # int() and float() take ASCII bytes and raise on anything else
                n = len(parts)
                step = int(parts[2]) if n in (3, 5) else 0 if n == 2 else -1
                if not 0 <= step < MAX_STEP:
                    raise ValueError(raw)
                out.append((step, float(parts[1]), int(parts[0])))
            except ValueError:
                self.skipped += 1
        return out


class _Metric:
    """One metric file being followed: its tail and its line parser."""

    __slots__ = ("lines", "tail")

    def __init__(self, path: str, key: str, names: NameMap | None) -> None:
        self.tail = FileTail(path)
        self.lines = MetricLines(key, names)

    def read(self, budget: int, out: list[Point]) -> int:
        """Append the new points to ``out``; returns the bytes read."""
        n = 0
        for item in self.tail.poll(budget):
            if item is FLUSH:
                out += self.lines.last_points()
            elif item is RESTART:
                self.lines.restart()  # re-read from byte 0 (MLflow only appends: rare)
            else:
                assert isinstance(item, bytes)
                n += len(item)
                out += self.lines.points(item)
        return n


class MlflowRunSource:
    """One MLflow run directory: every metric file followed, values merged per step."""

    def __init__(
        self,
        path: str,
        name: str,
        fmt: str | None = None,
        *,
        follow: bool = True,
        names: NameMap | None = None,
        **_options: Any,
    ) -> None:
        """``path`` is the run directory. ``fmt`` and the file-run options (``blocks``,
        ``parser_factory``, ``detector``) are accepted and ignored: the format is MLflow's."""
        self.name = name
        self.path = path
        self.format = "mlflow"
        self.follow = follow
        self.done = False
        self.status = ""  #: MLflow's status name (``RUNNING``, ``FINISHED``...), once read
        self._names = names
        self._metrics: dict[str, _Metric] = {}  # metric key -> its file
        #: Metric files left unread at the last scan: past MAX_SERIES (the store's cap).
        self.files_refused = 0
        self._scanned = 0.0
        self._meta: dict[str, str] = {}
        self._ended = False  # an ``end`` event was emitted for the current status
        self._last_step = 0

    # -- public (RunSource's interface) --------------------------------------------------

    @property
    def skipped(self) -> int:
        """Malformed lines in all metric files."""
        return sum(m.lines.skipped for m in self._metrics.values())

    @property
    def steps_inferred(self) -> bool:
        """Always False: every MLflow metric line carries its step."""
        return False

    @property
    def is_stream(self) -> bool:
        """Always False: a run directory is files, never a pipe."""
        return False

    @property
    def keys(self) -> list[str]:
        """The metric keys found so far (MLflow's names, ``/`` included)."""
        return list(self._metrics)

    def poll(self, budget: int = POLL_BUDGET) -> list[AnyRecord]:
        """The records that are new since the last poll, in step order; never raises."""
        if self.done:
            return []
        now = time.monotonic()
        if not self._scanned or (self.follow and now - self._scanned >= RESCAN):
            self._scanned = now
            self._rescan()
        share = max(budget // max(len(self._metrics), 1), MIN_SHARE)
        drained = True
        series: list[tuple[str, list[Point]]] = []
        for metric in self._metrics.values():
            points: list[Point] = []
            if metric.read(share, points) >= share:
                drained = False  # more to come: the next poll goes on
            elif not self.follow:
                points += metric.lines.last_points()  # read to its end: a last unended line counts
            series.append((metric.lines.metric, points))
        if drained and not self.follow:
            self.done = True
        merged = merge_steps(series)
        if merged:
            self._last_step = max(self._last_step, merged[-1].step)
        out: list[AnyRecord] = list(merged)
        if drained:
            out += self._end_event()
        return out

    def wait(self, timeout: float) -> None:
        """Nothing to wait on (files are polled); the caller sleeps."""

    def close(self) -> None:
        """Close every metric file."""
        for metric in self._metrics.values():
            metric.tail.close()

    # -- internals ------------------------------------------------------------------------

    def _rescan(self) -> None:
        """Pick up metric files that appeared, and re-read meta.yaml (the status changes)."""
        root = os.path.join(self.path, METRICS)
        refused = 0
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for f in sorted(filenames):
                full = os.path.join(dirpath, f)
                key = os.path.relpath(full, root).replace(os.sep, "/")
                if key in self._metrics:
                    continue
                if len(self._metrics) >= MAX_SERIES:
                    refused += 1  # a file and a descriptor per metric: capped like series
                    continue
                self._metrics[key] = _Metric(full, key, self._names)
        self.files_refused = refused
        meta = read_meta(self.path)
        if meta.get("status"):  # meta.yaml is rewritten in place: keep the last good read
            self._meta = meta
        status = self._meta.get("status", "")
        self.status = STATUS_NAMES.get(status, status)
        if status not in END_STATUS:
            self._ended = False  # running (again: a resumed run can end twice)

    def _end_event(self) -> list[AnyRecord]:
        """An ``end`` event once the run has ended and its metric files are read to the end."""
        status = END_STATUS.get(self._meta.get("status", ""))
        if status is None or self._ended:
            return []
        self._ended = True
        end_ms = self._meta.get("end_time", "")
        t = wall_time(int(end_ms) / 1000) if end_ms.isdigit() else None
        data = {"status": status, "mlflow_status": self.status}
        return [Event("end", data, step=self._last_step, t=t)]


def merge_steps(series: list[tuple[str, list[Point]]]) -> list[Metrics]:
    """(canonical name, points) per metric file -> one record per step, in step order.

    A record holds every value logged at its step; its time is the latest of theirs. A name
    met twice at one step (``log_metric`` without ``step=`` logs at step 0; two keys with one
    canonical name) starts a second record at that step instead of overwriting: the n-th
    values of each name at a step go together.
    """
    rows: dict[tuple[int, int], dict[str, float]] = {}
    times: dict[tuple[int, int], int] = {}
    seen: dict[str, dict[int, int]] = {}  # name -> step -> values of it met at that step
    for name, points in series:
        count = seen.setdefault(name, {})
        for step, value, ms in points:
            nth = count.get(step, 0)
            count[step] = nth + 1
            row = rows.get((step, nth))
            if row is None:
                rows[(step, nth)] = {name: value}
                times[(step, nth)] = ms
            else:
                row[name] = value
                times[(step, nth)] = max(ms, times[(step, nth)])
    return [Metrics(k[0], rows[k], _seconds(times[k])) for k in sorted(rows)]


def _seconds(ms: int) -> float | None:
    """A timestamp in ms as wall time in seconds; ``None`` when it is not one."""
    return ms / 1000 if MIN_WALL_TIME * 1000 <= ms < MAX_WALL_MS else None
