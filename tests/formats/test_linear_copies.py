"""Every parser copies what it holds back a bounded number of times, whatever the chunk size.

Issue 17: a reader that does ``buf = held + data`` (or scans its whole buffer) at every chunk
costs O(chunks × record size): quadratic for a long record fed in small pieces. Counted, not
timed: ``Parser.copied`` is the number of bytes a parser copied while holding input back."""

from __future__ import annotations

import pytest

from lrwatch.formats import FORMATS, make_parser

from . import bounded
from .helpers import canon, feed_all, fixture

LONG_LINE = b'{"step": 1, "loss": 2.0, "note": "' + b"x" * 60_000 + b'"}\n{"step": 2, "loss": 1}\n'
INPUTS = {
    "jsonl": LONG_LINE,
    "hf": b"{'loss': 1.0, 'note': '" + b"y" * 60_000 + b"'}\n",
    "text": b"step 1: loss 2.5 " + b"z" * 60_000 + b"\nstep 2: loss 2.0\n",
    "csv": b"step,loss\n" + b"1," + b"9" * 60_000 + b"\n2,1.5\n",
    "hf_state": bounded.trainer_state(300),
    "tfevents": fixture("lightning_healthy.tfevents")[:60_000],
    "wandb": fixture("wandb_crashing.wandb")[:60_000],
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("size", [1, 4096])
def test_bytes_copied_stay_linear(fmt: str, size: int) -> None:
    data = INPUTS[fmt]
    p = make_parser(fmt)
    recs = feed_all(p, data, [size])
    assert p.copied <= 4 * len(data), (p.copied, len(data))
    assert canon(recs) == canon(feed_all(make_parser(fmt), data))


def test_every_format_is_covered() -> None:
    assert set(INPUTS) == set(FORMATS)
