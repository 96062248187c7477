"""trainer_state.json: parsed when complete, re-read on rewrite without duplicates."""

from __future__ import annotations

import json

from lrwatch.formats.hf_state import HfStateParser

from .helpers import events, feed_all, fixture, metrics, random_sizes, series


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
