"""JSONL block mode: MetricBlock columns equal the Metrics records, in any chunking, in order."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrwatch.formats.jsonl import JsonlParser, _failed_line
from lrwatch.records import Event, MetricBlock, count_records, encode_metrics, expand

from .helpers import canon, feed_all, random_sizes

T0 = 1732890000.0
HEADER = b'{"kind": "run", "v": 1, "run": "demo", "t": 1732890000.0, "lr": [0.1]}\n'
CHANGE = b'{"kind": "lr_change", "step": %d, "old": [0.1], "new": [0.05], "t": 1732890100.0}\n'
END = b'{"kind": "end", "status": "finished", "t": 1732890200.0}\n'


def _rows(start: int, n: int, nan_every: int = 97) -> bytes:
    lines = [
        encode_metrics(
            i,
            {"loss": math.nan if i % nan_every == 0 else 1 / (i + 1), "lr": 0.1, "grad_norm": 0.5},
            T0 + i,
        )
        for i in range(start, start + n)
    ]
    return ("\n".join(lines) + "\n").encode()


def _log() -> bytes:
    return HEADER + _rows(0, 3000) + CHANGE % 3000 + _rows(3000, 3000) + END


def test_plain_log_comes_as_blocks_equal_to_the_records() -> None:
    data = _log()
    plain = feed_all(JsonlParser(), data)
    p = JsonlParser(blocks=True)
    recs = feed_all(p, data, [40_000])
    assert any(isinstance(r, MetricBlock) for r in recs)
    assert canon(list(expand(recs))) == canon(plain)
    assert count_records(recs) == len(plain) == 6003 and p.skipped == 0
    blk = next(r for r in recs if isinstance(r, MetricBlock))
    assert blk.steps.dtype == np.int64 and list(blk.columns) == ["loss", "lr", "grad_norm"]
    assert blk.times is not None and blk.times[0] >= T0


def test_events_split_blocks_and_keep_their_place() -> None:
    p = JsonlParser(blocks=True)
    p.feed(HEADER + _rows(0, 100))  # learn the key set
    recs = p.feed(_rows(100, 2000) + CHANGE % 2100 + _rows(2100, 2000) + END)
    kinds = [type(r).__name__ if not isinstance(r, Event) else r.kind for r in recs]
    # The event in the middle of one block: a block before it, one after, then the end.
    assert kinds == ["MetricBlock", "lr_change", "MetricBlock", "end"]
    before, change, after = recs[0], recs[1], recs[2]
    assert isinstance(before, MetricBlock) and isinstance(after, MetricBlock)
    assert before.steps[-1] == 2099 and after.steps[0] == 2100
    assert isinstance(change, Event) and change.step == 2100
    # Events are no misses of the fast path: it stays on.
    assert p._rows_misses == 0 and p._rows_hits == 2 and p._rows is not None


def test_first_block_learns_the_rows_early() -> None:
    p = JsonlParser(blocks=True)
    recs = p.feed(HEADER + _rows(0, 20_000))  # one 2 MB block with the header in front
    blocks = [r for r in recs if isinstance(r, MetricBlock)]
    assert blocks and sum(map(len, blocks)) > 15_000  # most of it as columns
    assert count_records(recs) == 20_001


def test_train_and_eval_lines_stay_records_in_block_mode() -> None:
    lines = []
    for i in range(3000):
        lines.append(encode_metrics(i, {"loss": 1.0, "lr": 0.1}, T0 + i))
        if i % 100 == 0:
            lines.append(encode_metrics(i, {"val_loss": 2.0}, T0 + i))
    data = ("\n".join(lines) + "\n").encode()
    a = feed_all(JsonlParser(), data, [9000])
    b = feed_all(JsonlParser(blocks=True), data, [9000])
    assert canon(list(expand(b))) == canon(a) and count_records(b) == len(lines)


def test_inferred_steps_continue_after_a_block() -> None:
    data = _rows(0, 500) + b'{"loss": 3.0}\n'
    recs = feed_all(JsonlParser(blocks=True), data, [20_000, 200])
    rows = list(expand(recs))
    assert rows[-1].step == 500 and rows[-1].step_inferred and rows[-2].step == 499


def test_failed_line_names_the_offending_line() -> None:
    import msgspec

    dec = msgspec.json.Decoder(dict[str, int | float])
    cases = [
        (
            b'{"a": 1}\n{"a": 2}\n{"kind": "x"}\n{"a": 3}\n',
            msgspec.ValidationError,
            b'{"kind": "x"}\n',
        ),
        (b'{"a": 1}\n{"a": nope}\n{"a": 3}\n', msgspec.DecodeError, b'{"a": nope}\n'),
    ]
    for block, error, line in cases:
        with pytest.raises(error) as info:
            dec.decode_lines(block)
        start, end = _failed_line(block, info.value)  # type: ignore[misc]
        assert block[start:end] == line


_LINES = [
    b'{"step": 1, "t": 1732890000.0, "loss": 1.5, "lr": 0.1}',
    b'{"step": 2, "t": 1732890001.0, "loss": NaN, "lr": 0.1}',
    b'{"step": 3, "t": 1732890001.5, "loss": -Infinity, "lr": inf}',
    b'{"step": 3, "t": 1732890002.0, "val_loss": 1.2}',
    b'{"step": 4, "t": 5.0, "loss": 1}',
    b'{"step": 5.0, "loss": true, "lr": "0.2"}',
    b'{"kind": "lr_change", "step": 7, "old": [0.1], "new": [0.05]}',
    b'{"loss": null, "train_loss": 2}',
    b'{"step": 8, "loss":',
    b"garbage",
    b"",
    b"   ",
]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.sampled_from(_LINES), min_size=1, max_size=40),
    st.lists(st.integers(1, 400), min_size=1, max_size=10),
    st.integers(0, 3),
)
def test_block_mode_same_records_as_line_by_line(
    lines: list[bytes], sizes: list[int], seed: int
) -> None:
    # Plain rows around the random lines, so blocks of the fast path form and get split.
    plain = _rows(0, 40 + seed * 30).split(b"\n")[:-1]
    data = b"\n".join([*plain[:20], *lines, *plain[20:], *lines[::-1]]) + b"\n"
    one_by_one = JsonlParser()
    ref = feed_all(one_by_one, data, [len(x) + 1 for x in data.split(b"\n")])
    for chunks in (None, sizes, random_sizes(seed, hi=3000)):
        p = JsonlParser(blocks=True)
        got = feed_all(p, data, chunks)
        assert canon(list(expand(got))) == canon(ref)
        assert p.skipped == one_by_one.skipped
