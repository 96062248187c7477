"""Hugging Face Trainer console output: steps from tqdm redraws, 4.x floats vs 5.x strings."""

from __future__ import annotations

import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from lrwatch.formats.hf import HfParser, dict_text, parse_repr_dict
from lrwatch.formats.text import TextParser

from .helpers import canon, events, feed_all, fixture, metrics, random_sizes, series


def test_console_log_steps_come_from_the_training_bar() -> None:
    p = HfParser()
    recs = feed_all(p, fixture("hf_trainer_console.log"))
    loss = series(recs, "loss")
    # logging_steps=5: the same steps trainer_state.json records.
    assert [s for s, _ in loss] == list(range(5, 121, 5))
    assert loss[0] == (5, 5.445) and loss[1] == (10, 5.26) and loss[-1] == (120, 2.955)
    assert series(recs, "val_loss") == [
        (25, 4.055),
        (50, 3.195),
        (75, 2.996),
        (100, 2.9),
        (120, 2.875),
    ]
    first = metrics(recs)[0].values
    assert first == {"loss": 5.445, "grad_norm": 2.458, "lr": 0.0002, "epoch": 0.01953}
    assert not p.steps_inferred and p.skipped == 0


def test_final_summary_is_an_event_not_a_loss_point() -> None:
    recs = feed_all(HfParser(), fixture("hf_trainer_console.log"))
    (summary,) = events(recs, "summary")
    assert summary.data["train_loss"] == 3.572 and summary.step == 120
    assert all("train_runtime" not in m.values for m in metrics(recs))
    assert 3.572 not in [v for _, v in series(recs, "loss")]


def test_stdout_without_bars_numbers_the_records() -> None:
    p = HfParser()
    recs = feed_all(p, fixture("hf_trainer_sgd_lr5.stdout"))
    loss = series(recs, "loss")
    assert len(loss) == 30 and loss[0] == (0, 9.259) and loss[-1] == (29, 3.338)
    # An eval dict shares the step of the training record before it.
    assert series(recs, "val_loss")[0] == (4, 5.867)
    assert series(recs, "lr")[0] == (0, 4.867)
    assert p.steps_inferred and all(m.step_inferred for m in metrics(recs))
    assert len(events(recs, "summary")) == 1


def test_hf4_floats_and_hf5_strings_read_the_same() -> None:
    v4 = b"{'loss': 2.5, 'grad_norm': 1.25, 'learning_rate': 5e-05, 'epoch': 0.5}\n"
    v5 = b"{'loss': '2.5', 'grad_norm': '1.25', 'learning_rate': '5e-05', 'epoch': '0.5'}\n"
    assert canon(feed_all(HfParser(), v4)) == canon(feed_all(HfParser(), v5))
    assert metrics(feed_all(HfParser(), v5))[0].values["lr"] == 5e-05


def test_bare_nan_and_inf_values() -> None:
    recs = feed_all(HfParser(), b"{'loss': nan, 'grad_norm': inf, 'learning_rate': 0.1}\n")
    values = metrics(recs)[0].values
    assert math.isnan(values["loss"]) and values["grad_norm"] == math.inf
    assert parse_repr_dict("{'a': -inf, 'b': [nan]}") == {"a": "-inf", "b": ["nan"]}


def test_repr_dicts_are_never_evaluated() -> None:
    assert parse_repr_dict("{'a': __import__('os').system('true')}") is None
    p = HfParser()
    assert feed_all(p, b"{'loss': (lambda: 1)()}\n") == [] and p.skipped == 1


def test_chunking_does_not_change_records() -> None:
    data = fixture("hf_trainer_console.log")
    whole = canon(feed_all(HfParser(), data))
    for seed in range(4):
        assert canon(feed_all(HfParser(), data, random_sizes(seed, hi=97))) == whole


def test_text_parser_reads_hf_console_too() -> None:
    data = fixture("hf_trainer_console.log")
    assert canon(feed_all(TextParser(), data)) == canon(feed_all(HfParser(), data))


def test_restart_forgets_bar_and_numbering() -> None:
    p = HfParser()
    feed_all(p, fixture("hf_trainer_console.log"))
    p.restart()
    recs = feed_all(p, b"{'loss': 1.0}\n")
    assert series(recs, "loss") == [(0, 1.0)]


def test_dict_without_any_bar_is_not_held_back() -> None:
    p = HfParser()
    assert series(p.feed(b"{'loss': 2.0}\n"), "loss") == [(0, 2.0)]


def test_dict_waits_for_the_redraw_that_carries_its_step() -> None:
    p = HfParser()
    assert p.feed(b"\r  4%|4         | 9/120 [00:00<00:10, 11.40it/s]\r{'loss': 2.0}\n") == []
    recs = p.feed(b"\r  8%|8         | 10/120 [00:00<00:10, 11.40it/s]\r")
    assert series(recs, "loss") == [(10, 2.0)]


_OLD_DICT = re.compile(r"\{\s*'.*\}")  # what dict_text replaces (quadratic on some lines)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="{}' a:,\t0.5x", max_size=60))
def test_dict_text_finds_what_the_regex_found(line: str) -> None:
    m = _OLD_DICT.search(line)
    assert dict_text(line) == (m.group(0) if m else None)


def test_a_dict_nested_thousands_deep_with_no_end_is_one_skipped_line() -> None:
    """75,000 ``{'a': `` and no ``}`` (fuzz, seed 11: 20 s a line before): the line is a
    dict cut short, counted; the dicts around it are read. (The text parser reads a line
    without a number as prose: not counted there.)"""
    nested = "{'loss': " + "{'a': " * 75_000
    data = (
        "{'loss': 1.5, 'learning_rate': 0.1, 'epoch': 0.5}\n"
        + nested
        + "\n{'loss': 1.25, 'learning_rate': 0.1, 'epoch': 1.0}\n"
    ).encode()
    for parser in (HfParser(), TextParser()):
        recs = feed_all(parser, data)
        assert [v for _, v in series(recs, "loss")] == [1.5, 1.25]
        assert parser.skipped == (1 if type(parser) is HfParser else 0)
