"""trainer_state.json: parsed when complete, re-read on rewrite without duplicates."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec

from lrwatch.formats.hf_state import HfStateParser
from lrwatch.records import MetricBlock, expand

from . import bounded
from .helpers import canon, events, feed_all, fixture, metrics, random_sizes, series


def test_fixture_log_history_with_real_steps() -> None:
    p = HfStateParser()
    recs = feed_all(p, fixture("hf_trainer_state.json"))
    loss = series(recs, "loss")
    assert len(loss) == 40 and loss[0] == (5, 5.444867324829102) and loss[-1][0] == 200
    assert series(recs, "val_loss")[0] == (25, 4.051434516906738)
    assert len(series(recs, "val_loss")) == 8
    (summary,) = events(recs, "summary")
    assert summary.step == 200 and summary.data["train_loss"] == 3.200273427963257
    assert all("train_runtime" not in m.values for m in metrics(recs)) and p.skipped == 0


def test_chunks_parse_once_complete() -> None:
    data = fixture("hf_trainer_state.json")
    p = HfStateParser()
    assert p.feed(data[:1000]) == []
    recs = feed_all(p, data[1000:], random_sizes(2, hi=500))
    assert len(recs) == 49


def test_rewrite_emits_only_new_entries() -> None:
    doc = json.loads(fixture("hf_trainer_state.json"))
    history = doc["log_history"]
    p = HfStateParser()
    early = dict(doc, log_history=history[:10])
    first = p.feed(json.dumps(early, indent=2).encode())
    assert len(first) == 10
    p.restart()
    second = p.feed(json.dumps(doc, indent=2).encode())
    assert len(second) == len(history) - 10
    assert metrics(first)[-1].step < metrics(second)[0].step


def test_incomplete_document_is_counted_at_flush() -> None:
    p = HfStateParser()
    assert feed_all(p, fixture("hf_trainer_state.json")[:-40]) == []
    assert p.skipped == 1


# -- streaming (issue 17): memory with the records kept, work linear in the bytes -----------


def _whole_doc_reference(data: bytes) -> list[tuple]:
    """What the old whole-document reader gave: every log_history entry, in order."""
    from lrwatch.formats.base import metrics_from_mapping
    from lrwatch.formats.hf import SUMMARY_KEYS
    from lrwatch.records import DEFAULT_NAMES, STEP_KEYS, Event, Metrics

    out: list = []
    for entry in json.loads(data)["log_history"]:
        step, t, values = metrics_from_mapping(entry, DEFAULT_NAMES, STEP_KEYS)
        if not values or step is None:
            continue
        if SUMMARY_KEYS & entry.keys():
            raw = {k: float(v) for k, v in entry.items() if isinstance(v, int | float)}
            out.append(Event("summary", raw, step, t))
        else:
            out.append(Metrics(step, values, t))
    return canon(out)


def test_streamed_records_equal_the_whole_document_in_any_chunking() -> None:
    data = bounded.trainer_state(450)
    want = _whole_doc_reference(data)
    assert len(want) == 451
    for sizes in (None, [1], [7, 64, 3], [65536]):
        assert canon(feed_all(HfStateParser(), data, sizes)) == want


def test_block_mode_gives_the_same_rows() -> None:
    data = bounded.trainer_state(450)
    p = HfStateParser(blocks=True)
    recs = p.feed(data) + p.flush()
    assert any(isinstance(r, MetricBlock) for r in recs)
    assert canon(list(expand(recs))) == _whole_doc_reference(data)


def test_nested_entries_and_braces_in_strings() -> None:
    history = [
        {"loss": 1.0, "step": 1, "note": 'a } and a { and \\" quote'},
        {"loss": 2.0, "step": 2, "eval": {"acc": 0.5, "f1": {"macro": 0.25}}},
        {"loss": None, "step": 3},
        {"step": 4, "loss": "2.5"},
        [1, 2],
    ]
    data = json.dumps({"x": {"y": "}]"}, "log_history": history, "z": [1, {"}": 2}]}).encode()
    p = HfStateParser()
    recs = feed_all(p, data, [1])
    assert [m.step for m in metrics(recs)] == [1, 2, 3, 4]
    assert metrics(recs)[1].values == {"loss": 2.0, "eval/acc": 0.5, "eval/f1/macro": 0.25}
    assert p.skipped == 1  # the list entry
    assert canon(feed_all(HfStateParser(), data)) == canon(recs)


def test_broken_document_gives_nothing_and_counts_once() -> None:
    doc = fixture("hf_trainer_state.json")
    for bad in (doc.replace(b'"epoch": 0.78125', b'"epoch": 0.7.8'), b"[1, 2]", b'{"a": tru}'):
        p = HfStateParser()
        assert feed_all(p, bad, [5]) == [] and p.skipped == 1


def test_document_without_log_history_is_skipped() -> None:
    p = HfStateParser()
    assert feed_all(p, b'{"best_metric": null, "epoch": 1.0}') == [] and p.skipped == 1


def test_chunked_document_is_decoded_a_bounded_number_of_times(monkeypatch) -> None:
    """Fed a byte at a time, the document's bytes go through the decoder about once: the old
    reader re-decoded the whole buffer whenever a chunk ended with a brace (quadratic)."""
    decoded = [0]
    real = msgspec.json.Decoder

    class Counting:
        def __init__(self, *args, **kwargs) -> None:
            self._d = real(*args, **kwargs)

        def decode(self, buf):
            decoded[0] += len(buf)
            return self._d.decode(buf)

    monkeypatch.setattr(msgspec.json, "Decoder", Counting)
    data = bounded.trainer_state(300, indent=False)
    p = HfStateParser()
    recs = feed_all(p, data, [1])
    assert len(recs) == 301
    assert decoded[0] <= 3 * len(data), (decoded[0], len(data))


def test_30mb_trainer_state_peak_rss_in_a_separate_process(tmp_path: Path) -> None:
    """`lrwatch inspect` on a 30 MB trainer_state.json: 227 MB peak RSS when the document was
    decoded whole, about 90 MB streamed (of which ~45 MB is the interpreter and imports)."""
    path = tmp_path / "trainer_state.json"
    path.write_bytes(bounded.trainer_state(185_000))
    assert path.stat().st_size > 29e6
    rss, out = bounded.inspect_peak(path)
    (run,) = out["runs"]
    assert run["format"] == "hf_state" and run["records"] == 185_001
    assert run["metrics"]["loss"]["count"] == 185_000 - 1850
    assert rss < 150 << 20, rss / 2**20


def test_trainer_state_from_stdin_in_64k_chunks(tmp_path: Path) -> None:
    """The same document through a pipe (read 64 KiB at a time): same records, same bound."""
    path = tmp_path / "trainer_state.json"
    path.write_bytes(bounded.trainer_state(100_000))
    rss, out = bounded.inspect_peak("-", "--format", "hf_state", stdin=path)
    (run,) = out["runs"]
    assert run["records"] == 100_001 and run["skipped_lines"] == 0
    assert rss < 150 << 20, rss / 2**20
