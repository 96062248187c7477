"""The JSONL fast path: a typed row decoder generated for one key set.

Metric logs repeat the same keys on every line. For such a key set we build a msgspec Struct
(step >= 0 int, wall time >= 1e8, every other key a float; unknown or missing keys rejected)
and a converter from rows to :class:`~lrwatch.records.Metrics`. msgspec then validates a
whole block in C, and the Python work per record is one list-comprehension step. Any line that
does not fit (an event, a null, an extra key, a duration under ``time``) makes the block
fail, and the caller falls back to the general path for that block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import msgspec

from lrwatch.formats.base import MIN_WALL_TIME
from lrwatch.records import Metrics, Record

_Step = Annotated[int, msgspec.Meta(ge=0, lt=1 << 62)]
_Time = Annotated[float, msgspec.Meta(ge=MIN_WALL_TIME)]

Convert = Callable[[list[Any]], list[Record]]


def build_rows(
    step_key: str, time_key: str | None, rename: dict[str, str]
) -> tuple[msgspec.json.Decoder, Convert]:
    """A decoder of ``decode_lines`` blocks of exactly these keys, and its row converter.

    ``rename`` maps every value key to its canonical name (later keys win on clashes, as in
    the general path).
    """
    fields: list[tuple[str, Any]] = [("f0", _Step)]
    json_names = {"f0": step_key}
    if time_key is not None:
        fields.append(("f1", _Time))
        json_names["f1"] = time_key
    items = []
    for i, (key, name) in enumerate(rename.items(), start=2):
        fields.append((f"f{i}", float))
        json_names[f"f{i}"] = key
        items.append(f"{name!r}: r.f{i}")
    row = msgspec.defstruct("Row", fields, rename=json_names, forbid_unknown_fields=True, gc=False)
    t_expr = "r.f1" if time_key is not None else "None"
    # Generated like dataclasses/namedtuple do: a literal dict display per row is several
    # times faster than building it from (name, attribute) pairs. Names enter via repr(), so
    # any key text is a valid literal.
    source = (
        "def convert(rows):\n"
        f"    return [Metrics(r.f0, {{{', '.join(items)}}}, {t_expr}) for r in rows]\n"
    )
    namespace: dict[str, Any] = {"Metrics": Metrics}
    exec(source, namespace)
    return msgspec.json.Decoder(row, strict=False), namespace["convert"]
