"""The JSONL fast path: a typed row decoder generated for the key sets a log uses.

Metric logs repeat a few key sets (a training line, an eval line). For their union we build a
msgspec Struct (step >= 0 int, wall time >= 1e8, keys present on every line required, the
others optional; unknown keys rejected) and a converter from rows to
:class:`~lrwatch.records.Metrics`. msgspec then validates a whole block in C, and the Python
work per record is a dict display plus one check per optional key. When every key is
required (one key set), the rows can instead become one :class:`~lrwatch.records.MetricBlock`
of numpy columns, with no Python object per record at all. Any line that does not fit
(an event, a null, a new key, a duration under ``time``) makes the block fail, and the caller
falls back to the general path for that block.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Annotated, Any, NamedTuple

import msgspec
import numpy as np

from lrwatch.formats.base import MIN_WALL_TIME
from lrwatch.records import MetricBlock, Metrics, Record

_Step = Annotated[int, msgspec.Meta(ge=0, lt=1 << 62)]
_Time = Annotated[float, msgspec.Meta(ge=MIN_WALL_TIME)]

#: rows -> (records, lines skipped because they held no value)
Convert = Callable[[list[Any]], tuple[list[Record], int]]
#: rows -> one block of columns (only when every key is required: the rows are dense)
Columns = Callable[[list[Any]], MetricBlock]


class Rows(NamedTuple):
    """The typed row decoder of a key set union and what turns its rows into records."""

    decoder: msgspec.json.Decoder
    convert: Convert
    columns: Columns | None


def build_rows(
    step_key: str,
    time_key: str | None,
    required: dict[str, str],
    optional: dict[str, str] | None = None,
) -> Rows:
    """A ``decode_lines`` decoder for lines of these keys, its row converter, and (when no
    key is optional) its column builder.

    ``required`` and ``optional`` map value keys to canonical names, which must all differ
    (the general path decides clashes by key order, which a row does not keep).
    """
    decoder, convert = _build(step_key, time_key, required, optional or {})
    columns = None
    if required and not optional:
        names = list(required.values())
        fields = [f"f{i}" for i in range(2, 2 + len(names))]  # as _build numbers them
        columns = _columns(names, time_key is not None, fields)
    return Rows(decoder, convert, columns)


def _columns(names: list[str], timed: bool, fields: list[str]) -> Columns:
    """Rows -> a :class:`MetricBlock`: one C-level pass (``map(attrgetter)``) per column."""
    step_of = attrgetter("f0")
    time_of = attrgetter("f1")
    getters = [(name, attrgetter(f)) for name, f in zip(names, fields, strict=True)]

    def columns(rows: list[Any]) -> MetricBlock:
        k = len(rows)
        steps = np.fromiter(map(step_of, rows), np.int64, k)
        times = np.fromiter(map(time_of, rows), np.float64, k) if timed else None
        cols = {name: np.fromiter(map(get, rows), np.float64, k) for name, get in getters}
        return MetricBlock(steps, cols, times)

    return columns


def _build(
    step_key: str, time_key: str | None, required: dict[str, str], optional: dict[str, str]
) -> tuple[msgspec.json.Decoder, Convert]:
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
