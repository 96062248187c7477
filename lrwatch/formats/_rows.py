"""The JSONL fast path: a typed row decoder generated for the key sets a log uses.

Metric logs repeat a few key sets (a training line, an eval line). For their union we build a
msgspec Struct (step >= 0 int, wall time >= 1e8, keys present on every line required, the
others optional; unknown keys rejected) and a converter from rows to
:class:`~lrwatch.records.Metrics`. msgspec then validates a whole block in C, and the Python
work per record is a dict display plus one check per optional key. In block mode the rows
instead become :class:`~lrwatch.records.MetricBlock` numpy columns, one block per run of
rows with the same keys, with no Python object per record at all. Any line that does not fit
(an event, a null, a new key, a duration under ``time``) makes the block fail, and the caller
falls back to the general path for that block.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise, repeat
from operator import attrgetter, is_not
from typing import Annotated, Any, NamedTuple

import msgspec
import numpy as np
from msgspec import UNSET

from lrwatch.formats.base import MIN_WALL_TIME
from lrwatch.records import MetricBlock, Metrics

_Step = Annotated[int, msgspec.Meta(ge=0, lt=1 << 62)]
_Time = Annotated[float, msgspec.Meta(ge=MIN_WALL_TIME)]

#: rows -> (records, lines skipped because they held no value)
Convert = Callable[[list[Any]], tuple[list[Metrics], int]]
#: rows -> (blocks, lines skipped because they held no value), or None if not worth it
Columns = Callable[[list[Any]], "tuple[list[MetricBlock], int] | None"]


#: Decodes lines into rows: a Struct type made at run time (fields f0, f1, f2...), which is
#: why the rows are Any to the type checker.
RowDecoder = msgspec.json.Decoder[Any]


class Rows(NamedTuple):
    """The typed row decoder of a key set union and what turns its rows into records."""

    decoder: RowDecoder
    convert: Convert
    columns: Columns


#: What msgspec refuses in a field's JSON name (a key written ``"it\r"`` in a log).
_UNNAMEABLE = re.compile(r'[\\"\x00-\x1f]')


def nameable(key: str) -> bool:
    """Whether :func:`build_rows` can take ``key``: msgspec names no field after a key with
    a quote, a backslash or a control character (such a key set stays on the general path)."""
    return _UNNAMEABLE.search(key) is None


def build_rows(
    step_key: str,
    time_key: str | None,
    required: dict[str, str],
    optional: dict[str, str] | None = None,
) -> Rows:
    """A ``decode_lines`` decoder for lines of these keys, its row converter and its column
    builder.

    ``required`` and ``optional`` map value keys to canonical names, which must all differ
    (the general path decides clashes by key order, which a row does not keep).
    """
    optional = optional or {}
    decoder, convert = _build(step_key, time_key, required, optional)
    n_req = len(required)
    names = [*required.values(), *optional.values()]
    fields = [f"f{i}" for i in range(2, 2 + len(names))]  # as _build numbers them
    columns = _columns(names, n_req, time_key is not None, fields)
    return Rows(decoder, convert, columns)


#: Below this many rows per key-set run on average, Metrics records are cheaper than blocks.
MIN_RUN = 32


def _columns(names: list[str], n_req: int, timed: bool, fields: list[str]) -> Columns:
    """Rows -> :class:`MetricBlock` runs: one C-level pass (``map(attrgetter)``) per column.

    Optional keys split the rows into runs of one key set each (a train line, an eval
    line); a block holds one run. Returns ``None`` when the runs are too short to pay off.
    """
    step_of = attrgetter("f0")
    time_of = attrgetter("f1")
    getters = [attrgetter(f) for f in fields]

    def columns(rows: list[Any]) -> tuple[list[MetricBlock], int] | None:
        k = len(rows)
        steps = np.fromiter(map(step_of, rows), np.int64, k)
        times = np.fromiter(map(time_of, rows), np.float64, k) if timed else None
        req = [np.fromiter(map(g, rows), np.float64, k) for g in getters[:n_req]]
        if n_req == len(names):  # one key set: one block
            return [MetricBlock(steps, dict(zip(names, req, strict=True)), times)], 0
        opt = [list(map(g, rows)) for g in getters[n_req:]]
        code = np.zeros(k, dtype=np.int64)
        for j, vals in enumerate(opt):
            code |= np.fromiter(map(is_not, vals, repeat(UNSET)), bool, k).astype(np.int64) << j
        cuts = np.flatnonzero(np.diff(code)) + 1
        if len(cuts) * MIN_RUN > k:
            return None
        blocks, skipped = [], 0
        for a, b in pairwise([0, *cuts.tolist(), k]):
            c = int(code[a])
            cols = {name: col[a:b] for name, col in zip(names, req, strict=False)}
            for j, vals in enumerate(opt):
                if c >> j & 1:
                    cols[names[n_req + j]] = np.array(vals[a:b], dtype=np.float64)
            if not cols:
                skipped += b - a  # lines with a step but no value
                continue
            ts = None if times is None else times[a:b]
            blocks.append(MetricBlock(steps[a:b], cols, ts))
        return blocks, skipped

    return columns


def _build(
    step_key: str, time_key: str | None, required: dict[str, str], optional: dict[str, str]
) -> tuple[RowDecoder, Convert]:
    fields: list[Any] = [("f0", _Step)]
    json_names = {"f0": step_key}
    if time_key is not None:
        fields.append(("f1", _Time))
        json_names["f1"] = time_key
    literal, checks = [], []
    for i, (key, name) in enumerate([*required.items(), *optional.items()], start=2):
        json_names[f"f{i}"] = key
        if key in required:
            fields.append((f"f{i}", float))
            literal.append(f"{name!r}: r.f{i}")
        else:
            fields.append((f"f{i}", float | msgspec.UnsetType, msgspec.UNSET))
            checks.append(
                f"        v = r.f{i}\n        if v is not U:\n            d[{name!r}] = v\n"
            )
    row = msgspec.defstruct("Row", fields, rename=json_names, forbid_unknown_fields=True, gc=False)
    namespace: dict[str, Any] = {"Metrics": Metrics, "U": msgspec.UNSET}
    # Generated like dataclasses/namedtuple do: a literal dict display per row is several
    # times faster than building it from (name, attribute) pairs. Names enter via repr(), so
    # any key text is a valid literal.
    exec(_source(time_key is not None, literal, checks), namespace)
    return msgspec.json.Decoder(row, strict=False), namespace["convert"]


def _source(timed: bool, literal: list[str], checks: list[str]) -> str:
    t_expr = "r.f1" if timed else "None"
    display = "{" + ", ".join(literal) + "}"
    if not checks:
        return (
            "def convert(rows):\n"
            f"    return [Metrics(r.f0, {display}, {t_expr}) for r in rows], 0\n"
        )
    return (
        "def convert(rows):\n"
        "    out = []\n"
        "    append = out.append\n"
        "    skipped = 0\n"
        "    for r in rows:\n"
        f"        d = {display}\n" + "".join(checks) + "        if d:\n"
        f"            append(Metrics(r.f0, d, {t_expr}))\n"
        "        else:\n"
        "            skipped += 1\n"
        "    return out, skipped\n"
    )
