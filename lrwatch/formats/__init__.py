"""Log format parsers: one incremental, never-raising parser per format, and detection.

Every parser turns appended bytes into :class:`~lrwatch.records.Metrics` and
:class:`~lrwatch.records.Event` records (see :mod:`lrwatch.formats.base` for the interface).
"""

from __future__ import annotations

from typing import Any

from lrwatch.formats.base import Parser
from lrwatch.formats.csvlog import CsvParser
from lrwatch.formats.detect import detect
from lrwatch.formats.hf import HfParser
from lrwatch.formats.hf_state import HfStateParser
from lrwatch.formats.jsonl import JsonlParser
from lrwatch.formats.text import TextParser
from lrwatch.formats.tfevents import TfeventsParser
from lrwatch.formats.wandb import WandbParser
from lrwatch.records import NameMap

#: Format name -> parser class.
FORMATS: dict[str, type[Parser]] = {
    JsonlParser.name: JsonlParser,
    HfParser.name: HfParser,
    TextParser.name: TextParser,
    HfStateParser.name: HfStateParser,
    CsvParser.name: CsvParser,
    TfeventsParser.name: TfeventsParser,
    WandbParser.name: WandbParser,
}


def make_parser(fmt: str, names: NameMap | None = None, **options: Any) -> Parser:
    """A new parser for format ``fmt``; ``ValueError`` naming the valid formats otherwise."""
    try:
        cls = FORMATS[fmt]
    except KeyError:
        valid = ", ".join(sorted(FORMATS))
        raise ValueError(f"unknown format {fmt!r} (valid formats: {valid})") from None
    return cls(names, **options)


__all__ = ["FORMATS", "Parser", "detect", "make_parser"]
