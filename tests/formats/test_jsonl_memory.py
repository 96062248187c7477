"""Blocks with NaN tokens must not leave reference cycles behind (the GC is paused per block)."""

from __future__ import annotations

import gc

from lrwatch.formats import make_parser


def test_blocks_with_nan_tokens_leave_no_garbage_cycles() -> None:
    parser = make_parser("jsonl")
    lines = b"".join(b'{"step": %d, "loss": NaN, "lr": 0.1}\n' % i for i in range(200))
    gc.collect()
    gc.disable()  # only reference counting frees memory now, as inside a block
    try:
        records = 0
        for _ in range(60):  # each feed is one block that first fails to decode on NaN
            records += len(parser.feed(lines))
    finally:
        gc.enable()
    unreachable = gc.collect()
    assert records == 60 * 200
    # A kept DecodeError's traceback pins the parser frames (and the block's bytes and rows)
    # in a cycle: 60 blocks left hundreds of unreachable objects before the fix.
    assert unreachable < 30, unreachable
