"""The fast path of the text reader: a log's most common line shape as one anchored regex.

The general path (:mod:`lrwatch.formats.text`) cuts every number out of a block of lines to
find each line's shape. Most lines of a log have one shape, though, and for them most numbers
are not wanted (``tok/sec``, ``dt``, a timestamp). Once a shape is known, :func:`compile_shape`
turns it into a regex that matches exactly the lines of that shape (its literal text, with an
atomic number pattern at each hole, as greedy as the cutting one) and captures only the
numbers its template uses. :func:`runs` then reads a block with one ``re.split``: the
captured numbers of each run of matching lines, and the other lines' text in between, in order,
for the general path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lrwatch.formats.template import HOLE, NUMBER_RE, Template

#: Most numbers in a shape the fast path compiles: ``re.compile`` time grows faster than the
#: pattern (a 4,000-number line took 7 s), and no real log line has this many; wider shapes
#: take the general path, which is linear.
MAX_HOLES = 100
#: One number, exactly as the general path's NUMBER cuts it (atomic: no backtracking into it).
_NUM = f"(?>{NUMBER_RE})"


@dataclass(slots=True)
class FastShape:
    """A shape's line regex, its template, and which number index each capture is."""

    pattern: re.Pattern[str]
    template: Template
    wanted: list[int]


def compile_shape(shape: str, tpl: Template) -> FastShape | None:
    """The fast reader of ``shape`` (holes ``\\x01``), or None where the template needs more
    than the captured numbers (thousands groups, ``.5`` written without its zero)."""
    if tpl.groups or any(dot for _, _, dot in tpl.signs) or not tpl.metrics:
        return None
    if shape.count(HOLE) > MAX_HOLES:
        return None
    wanted = tpl.used
    pieces = shape.split(HOLE)
    regex = ["^", re.escape(pieces[0])]
    for i, literal in enumerate(pieces[1:]):
        regex.append(f"({_NUM})" if i in wanted else _NUM)
        regex.append(re.escape(literal))
    regex.append("$")
    return FastShape(re.compile("".join(regex), re.MULTILINE), tpl, wanted)


def runs(fast: FastShape, text: str) -> Iterator[tuple[str, dict[int, list[str]], int]]:
    """``text`` (whole lines) in order: ``("", columns, k)`` for a run of ``k`` lines of the
    shape (number index -> its ``k`` number texts), ``(other_text, {}, 0)`` for other lines."""
    parts = fast.pattern.split(text)
    g = len(fast.wanted)
    step = g + 1
    m = (len(parts) - 1) // step
    if parts[0]:
        yield parts[0], {}, 0
    seps = parts[step::step]
    ends = [i for i, sep in enumerate(seps) if sep != "\n"]
    if not ends or ends[-1] != m - 1:
        ends.append(m - 1)
    start = 0
    for end in ends:
        if end < start:
            continue
        lo, hi = 1 + start * step, 1 + (end + 1) * step
        cols = {idx: parts[lo + j : hi : step] for j, idx in enumerate(fast.wanted)}
        yield "", cols, end - start + 1
        rest = seps[end][1:]  # after the matched line's newline: the other lines
        if rest:
            yield rest, {}, 0
        start = end + 1
