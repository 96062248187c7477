"""Every parser: arbitrary bytes never raise, skips are counted, chunking changes nothing.

The mutation tests below use the fuzz corpus of ``benchmarks/fuzz.py`` (issue 17), small:
``python benchmarks/fuzz.py --only inputs`` runs it at full size."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz_lib.inputs import MAX_INPUT, MUTATORS, seeds
from benchmarks.fuzz_lib.parsefuzz import fuzz_inputs
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


# -- mutated real logs (issue 17): every fixture log, every mutation, every format -----------

SEEDS = seeds()
#: The fixture logs read as each format (a format with none gets every log: cross-feeding).
NATIVE = {fmt: [s for s in SEEDS if s.fmt == fmt] or list(SEEDS) for fmt in FORMATS}


@contextlib.contextmanager
def hang_deadline(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in the parser if it runs past ``seconds`` (a hang, not a timing)."""

    def alarm(signum: int, frame: object) -> None:
        raise TimeoutError(f"parser still running after {seconds:g} s: a hang")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def test_every_format_has_real_fixture_logs() -> None:
    assert {s.fmt for s in SEEDS} == set(FORMATS)
    assert len(SEEDS) >= 30


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_mutated_fixture_logs(fmt: str, data: st.DataObject) -> None:
    """A real log, mutated one to three times, never raises, hangs or depends on chunking."""
    src = data.draw(st.sampled_from(NATIVE[fmt]), label="source")
    other = data.draw(st.sampled_from(SEEDS), label="splice source").data
    names = data.draw(st.lists(st.sampled_from(sorted(MUTATORS)), min_size=1, max_size=3))
    rng = data.draw(st.randoms(use_true_random=False))
    blob = src.data
    for name in names:
        blob = MUTATORS[name](rng, blob, other)[:MAX_INPUT]
    floor = max(1, len(blob) // 2048)  # tiny reads of megabytes would only measure Python
    sizes = data.draw(st.lists(st.integers(1, 70_000), min_size=1, max_size=6))
    sizes = [max(floor, n) for n in sizes]
    with hang_deadline(60):
        chunked = feed_all(make_parser(fmt), blob, sizes)
        whole_parser = make_parser(fmt)
        whole = feed_all(whole_parser, blob)
    assert all(isinstance(r, Metrics | Event) for r in chunked)
    assert canon(chunked) == canon(whole)


def test_seeded_corpus_in_a_worker_no_crash_no_hang() -> None:
    """The benchmark's corpus, small: every input parsed in a worker process with a deadline."""
    report = fuzz_inputs(len(FORMATS) * 20, seed=3, max_hangs=1)
    assert set(report.inputs) == set(FORMATS)
    assert report.ok, report.failures
    assert not sum(report.mismatches.values()), report.failures
    assert report.rss_peak - report.rss_start < 256 << 20
