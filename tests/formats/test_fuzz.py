"""Every parser: arbitrary bytes never raise, skips are counted, chunking changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrwatch.formats import FORMATS, make_parser
from lrwatch.records import Event, Metrics

from .helpers import canon, feed_all, fixture


def _head(name: str, size: int) -> bytes:
    """The first whole lines of a fixture, about ``size`` bytes."""
    data = fixture(name)
    return data[: data.rfind(b"\n", 0, size) + 1]


SAMPLES = {
    "jsonl": b'{"kind": "run", "v": 1}\n{"step": 1, "loss": NaN}\n{"loss": 2}\n',
    "hf": _head("hf_trainer_console.log", 3000),
    "text": _head("nanogpt_healthy.log", 2000),
    "csv": _head("lightning_healthy_metrics.csv", 1500),
    "hf_state": fixture("hf_trainer_state.json"),
    "tfevents": fixture("lightning_healthy.tfevents"),
    "wandb": fixture("wandb_crashing.wandb"),
}


def _mangle(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    buf = bytearray(data)
    for pos, byte in edits:
        if buf:
            buf[pos % len(buf)] = byte
    return bytes(buf)


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), sizes=st.lists(st.integers(1, 40), min_size=1, max_size=8))
def test_arbitrary_bytes(fmt: str, data: bytes, sizes: list[int]) -> None:
    p = make_parser(fmt, max_line=100)
    recs = feed_all(p, data, sizes)
    assert all(isinstance(r, Metrics | Event) for r in recs)
    assert p.skipped >= 0
    whole = make_parser(fmt, max_line=100)
    assert canon(feed_all(whole, data)) == canon(recs) and whole.skipped == p.skipped


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=6),
    sizes=st.lists(st.integers(1, 500), min_size=1, max_size=8),
)
def test_mangled_real_logs(fmt: str, edits: list[tuple[int, int]], sizes: list[int]) -> None:
    data = _mangle(SAMPLES[fmt], edits)
    p = make_parser(fmt)
    recs = feed_all(p, data, sizes)
    whole = make_parser(fmt)
    assert canon(feed_all(whole, data)) == canon(recs) and whole.skipped == p.skipped
    if not edits:
        assert recs and p.skipped == 0


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_oversized_line_and_restart_never_raise(fmt: str) -> None:
    p = make_parser(fmt)
    p.feed(b"x" * (1 << 20) + b"y" * 100)
    p.feed(b"\n" + SAMPLES[fmt][:50])
    p.restart()
    recs = feed_all(p, SAMPLES[fmt])
    assert recs
