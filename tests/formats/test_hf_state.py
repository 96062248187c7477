"""trainer_state.json: parsed when complete, re-read on rewrite without duplicates."""

from __future__ import annotations

import json
import math
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
    assert len(recs) == 50  # 49 entries and the meta event of max_steps


def test_rewrite_emits_only_new_entries() -> None:
    doc = json.loads(fixture("hf_trainer_state.json"))
    history = doc["log_history"]
    p = HfStateParser()
    early = dict(doc, log_history=history[:10])
    first = p.feed(json.dumps(early, indent=2).encode())
    assert len(first) == 11  # the entries and max_steps' meta event (once: not again below)
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
    """What the old whole-document reader gave: every log_history entry, in order, after
    the total steps (``max_steps``) as a ``meta`` event."""
    from lrwatch.formats.base import metrics_from_mapping
    from lrwatch.formats.hf import SUMMARY_KEYS
    from lrwatch.records import DEFAULT_NAMES, STEP_KEYS, Event, Metrics

    doc = json.loads(data)
    out: list = []
    if doc.get("max_steps", 0) > 0:
        out.append(Event("meta", {"total_steps": doc["max_steps"]}))
    for entry in doc["log_history"]:
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
    assert len(want) == 452
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
    assert len(recs) == 302
    assert decoded[0] <= 3 * len(data), (decoded[0], len(data))


def test_30mb_trainer_state_peak_rss_in_a_separate_process(tmp_path: Path) -> None:
    """`lrwatch inspect` on a 30 MB trainer_state.json: 227 MB peak RSS when the document was
    decoded whole, about 90 MB streamed (of which ~45 MB is the interpreter and imports)."""
    path = tmp_path / "trainer_state.json"
    path.write_bytes(bounded.trainer_state(185_000))
    assert path.stat().st_size > 29e6
    rss, out = bounded.inspect_peak(path)
    (run,) = out["runs"]
    assert run["format"] == "hf_state" and run["records"] == 185_002
    assert run["metrics"]["loss"]["count"] == 185_000 - 1850
    assert rss < 150 << 20, rss / 2**20


def test_trainer_state_from_stdin_in_64k_chunks(tmp_path: Path) -> None:
    """The same document through a pipe (read 64 KiB at a time): same records, same bound."""
    path = tmp_path / "trainer_state.json"
    path.write_bytes(bounded.trainer_state(100_000))
    rss, out = bounded.inspect_peak("-", "--format", "hf_state", stdin=path)
    (run,) = out["runs"]
    assert run["records"] == 100_002 and run["skipped_lines"] == 0
    assert rss < 150 << 20, rss / 2**20


# -- chunking never changes what a document gives (fuzz finds, seed 17) ---------------------


def _same_in_any_chunking(data: bytes, sizes: tuple = (None, [1 << 16], [4096, 7])) -> tuple:
    """(records, skipped) of ``data``, after checking that every chunking gives them."""
    results = []
    for chunks in sizes:
        p = HfStateParser()
        results.append((canon(feed_all(p, data, chunks)), p.skipped))
    assert all(r == results[0] for r in results), [(len(r), s) for r, s in results]
    return results[0]


def _doc(history_json: bytes, before: bytes = b"") -> bytes:
    entries = [json.dumps({"loss": 1.0 + i, "step": i}).encode() for i in range(1, 4)]
    return (
        b'{"epoch": 1.0, '
        + before
        + b'"log_history": ['
        + entries[0]
        + b", "
        + (history_json + b", " if history_json else b"")
        + b", ".join(entries[1:])
        + b'], "z": 1}'
    )


def test_long_top_level_value_is_only_scanned_in_any_chunking() -> None:
    """A top-level value over MAX_CHECKED that is not JSON (single quotes: fuzz 513) or nests
    past msgspec's limit (fuzz 1129) was decoded when it came in one feed (the document broke)
    and only scanned when it came in pieces (read)."""
    for deep in (
        b"{'a': " * 20_000 + b"1" + b"}" * 20_000,
        b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    ):
        recs, skipped = _same_in_any_chunking(_doc(b"", b'"best": ' + deep + b", "))
        assert [step for step, *_ in (r[1:] for r in recs)] == [1, 2, 3] and skipped == 0
    # A short one is still decoded, and breaks the document.
    assert _same_in_any_chunking(_doc(b"", b"\"best\": {'a': 1}, ")) == ([], 1)


def test_over_long_entry_is_skipped_alone_in_any_chunking() -> None:
    """An entry whose scan runs past MAX_ENTRY (a 1.5 MiB line of garbage inside it: fuzz 716,
    2032; a flat entry with a 1.5 MiB string) was skipped when fed in pieces but, fed whole,
    decoded (and the document broken) or read."""
    garbage = b'{"epoch": 0.5,\n' + b"x" * (3 << 19) + b'\n  "step": 9}'
    flat = json.dumps({"step": 9, "loss": 1.0, "note": "y" * (3 << 19)}).encode()
    for entry in (garbage, flat):
        recs, skipped = _same_in_any_chunking(_doc(entry))
        assert [r[1] for r in recs] == [1, 2, 3] and skipped == 1


def test_undecodable_or_too_deep_entry_is_skipped_alone() -> None:
    """A short entry that does not decode is skipped and counted; the rest is read."""
    for entry in (
        b'{"step": 9, "loss": tru}',
        b'{"step": 9, "a": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ):
        recs, skipped = _same_in_any_chunking(_doc(entry), (None, [1], [4096, 7]))
        assert [r[1] for r in recs] == [1, 2, 3] and skipped == 1


def test_repeated_non_object_entries_count_alike_in_a_batch_and_one_by_one() -> None:
    """A run decoded by one msgspec call dropped repeats of a non-object entry (as duplicates)
    that the one-by-one path counted each time."""
    recs, skipped = _same_in_any_chunking(_doc(b'5, 5, "s", "s"'), (None, [1], [20]))
    assert len(recs) == 3 and skipped == 4


def test_huge_integers_do_not_break_the_document() -> None:
    """An int of 400 digits (msgspec keeps it) made float() raise, and the whole document was
    lost (fuzz 1297): as a metric value it is inf, as a step it is no step."""
    big = b"1" + b"0" * 400
    history = b'{"step": 9, "loss": ' + big + b'}, {"step": ' + big + b', "loss": 2.0}'
    history += b', {"step": 10, "loss": -' + big + b', "train_runtime": ' + big + b"}"
    _, skipped = _same_in_any_chunking(_doc(history))
    m = metrics(feed_all(HfStateParser(), _doc(history)))
    assert [r.step for r in m] == [1, 9, 2, 3] and m[1].values["loss"] == math.inf
    (summary,) = events(feed_all(HfStateParser(), _doc(history)), "summary")
    assert summary.data == {"step": 10.0, "loss": -math.inf, "train_runtime": math.inf}
    assert skipped == 1  # the entry with no usable step


def test_over_long_key_is_passed_over_with_its_value_in_any_chunking() -> None:
    """A top-level key over MAX_KEY broke the document when fed in pieces and was read when
    fed whole; now it is passed over with its value, in any chunking."""
    data = _doc(b"", b'"' + b"k" * 5000 + b'": [1, 2], ')
    recs, skipped = _same_in_any_chunking(data, (None, [1], [4096, 7]))
    assert [r[1] for r in recs] == [1, 2, 3] and skipped == 0
