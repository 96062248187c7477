"""Text logs: nanoGPT, torchtune, litgpt, generic key=value, custom regexes, the skip rule."""

from __future__ import annotations

import pytest

from lrwatch.formats import make_parser
from lrwatch.formats.text import TextParser
from lrwatch.records import Event, NameMap

from .helpers import canon, feed_all, fixture, metrics, random_sizes, series


def test_nanogpt_fixture() -> None:
    p = TextParser()
    recs = feed_all(p, fixture("nanogpt_healthy.log"))
    loss = series(recs, "loss")
    assert len(loss) == 301 and loss[0] == (0, 4.4608) and loss[-1] == (300, 2.544)
    assert series(recs, "val_loss") == [
        (0, 4.4687),
        (50, 3.0481),
        (100, 2.7777),
        (150, 2.5947),
        (200, 2.583),
        (250, 2.5036),
        (300, 2.4844),
    ]
    assert series(recs, "train_loss_eval")[1] == (50, 3.04)
    first_iter = next(m for m in metrics(recs) if "loss" in m.values)
    assert first_iter.values == {"loss": 4.4608, "time_ms": 140.76, "mfu": -100.0}
    # "Overriding: learning_rate = 0.001" is the run's LR (one run event, before the metrics);
    # other prose is neither a record nor skipped.
    assert Event("run", {"lr": [0.001], "lr_from": "config"}) in recs
    assert len(recs) == 309 and p.skipped == 0 and not p.steps_inferred


def test_torchtune_litgpt_and_generic_lines() -> None:
    data = (
        b"Step 7 | loss:2.3456 lr:2e-05 tokens_per_second_per_gpu:1234.5\n"
        b"Epoch 1 | iter 10 step 5 | loss train: 2.345, val: n/a | iter time: 120.45 ms"
        b" remaining time: 0:10:00\n"
        b"Epoch 1 | iter 12 step 6 | loss train: 2.1, val: 2.25 | iter time: 110.00 ms\n"
        b"step=3 loss=0.25 lr=1e-3 grad_norm=0.5\n"
        b"epoch: 2, loss: 0.5, val_loss: 0.6\n"
    )
    ms = metrics(feed_all(TextParser(), data))
    assert ms[0].step == 7 and ms[0].values["loss"] == 2.3456 and ms[0].values["lr"] == 2e-05
    assert ms[1].step == 5 and ms[1].values["loss"] == 2.345 and "val_loss" not in ms[1].values
    assert ms[1].values["iter_time_ms"] == 120.45 and ms[1].values["epoch"] == 1.0
    assert ms[2].step == 6 and ms[2].values["val_loss"] == 2.25
    assert ms[3].step == 3 and ms[3].values == {"loss": 0.25, "lr": 1e-3, "grad_norm": 0.5}
    # Once the log counts steps, an epoch line belongs at the current step, not at "step 2".
    assert ms[4].step == 3 and ms[4].values == {"loss": 0.5, "val_loss": 0.6}
    alone = metrics(feed_all(TextParser(), b"epoch: 2, loss: 0.5, val_loss: 0.6\n"))
    assert [(m.step, m.values) for m in alone] == [(2, {"loss": 0.5, "val_loss": 0.6})]


def test_skip_rule_prose_is_not_skipped_broken_metric_lines_are() -> None:
    data = (
        b"Loading checkpoint from disk: done\n"
        b"Overriding: learning_rate = 0.001\n"
        b"iter 5: loss oops, time 1ms\n"
        b"step 50: train loss ??, val loss ??\n"
        b"{'loss': 1.0, 'x': \n"
        b"\x00\x00\x00\x01\x02binary\n"
        b"iter 6: loss 1.5, time 20.00ms, mfu 1.00%\n"
    )
    p = TextParser()
    recs = feed_all(p, data)
    assert series(recs, "loss") == [(6, 1.5)]
    assert p.skipped == 4


def test_custom_regex_and_user_aliases() -> None:
    p = make_parser(
        "text",
        names=NameMap({"objective": "loss"}),
        regex=r"it=(?P<step>\d+) obj=(?P<objective>\S+) lrate=(?P<learning_rate>\S+)",
    )
    recs = feed_all(p, b"it=4 obj=1.5 lrate=0.01\nit=5 obj=bad lrate=x\nsome prose\n")
    assert [(m.step, m.values) for m in metrics(recs)] == [(4, {"loss": 1.5, "lr": 0.01})]
    assert p.skipped == 1


def test_carriage_returns_split_lines() -> None:
    recs = feed_all(TextParser(), b"progress 1%\riter 1: loss 2.0, time 1.0ms\rprogress 2%\n")
    assert series(recs, "loss") == [(1, 2.0)]


@pytest.mark.parametrize("seed", range(3))
def test_chunking_does_not_change_records(seed: int) -> None:
    data = fixture("nanogpt_healthy.log")
    assert canon(feed_all(TextParser(), data, random_sizes(seed, hi=70))) == canon(
        feed_all(TextParser(), data)
    )


def test_litgpt_validation_and_torchtune_progress_bar() -> None:
    data = (
        b"iter 600: val loss 1.1234, val time: 123.45 ms\n"
        b"\r1|5|Loss: 2.345:   5%|5         | 5/100 [00:01<00:19,  4.90it/s]"
        b"\r1|5|Loss: 2.345:   5%|5         | 5/100 [00:01<00:19,  4.90it/s]"
        b"\r1|6|Loss: 2.2:   6%|6         | 6/100 [00:01<00:19,  4.90it/s]\n"
    )
    p = TextParser()
    recs = feed_all(p, data)
    assert series(recs, "val_loss") == [(600, 1.1234)]
    assert series(recs, "loss") == [(5, 2.345), (6, 2.2)]
    assert p.skipped == 0


def test_step_prefix_without_loss_is_prose() -> None:
    p = TextParser()
    assert feed_all(p, b"step 5: saving checkpoint to out/\niter 3: waiting for data\n") == []
    assert p.skipped == 0


def test_a_step_of_thousands_of_digits_drops_its_line_not_the_lines_read_with_it() -> None:
    # Found by the fuzz suite: the whole block was lost read at once, kept read in pieces.
    data = b"step " + b"1" * 5000 + b", loss: 10.7\n" + b"step 2, loss: 3.5\n"
    whole = make_parser("text")
    recs = whole.feed(data) + whole.flush()
    assert [(r.step, r.values) for r in recs] == [(2, {"loss": 3.5})] and whole.skipped == 1


KERAS = (
    b"125/125 [====] - 2s 16ms/step - loss: 1.1806 - accuracy: 0.7246\n"
    b"Epoch 2/100\n"
    b"125/125 [====] - 1s 11ms/step - loss: 0.8599 - accuracy: 0.7671\n"
    b"step 49, loss: 0.06\n"
)


@pytest.mark.parametrize("digits", [31, 401])
def test_an_epoch_that_is_no_epoch_drops_its_line_not_the_run(digits: int) -> None:
    """``Epoch 1e400/100`` above Keras lines (fuzz, seed 7): read whole, the block raised
    (int(inf)) and every line of it was lost; an epoch of 31 digits numbered the next
    epoch's steps from -1.25e32. The line is counted; the lines after it are read as if it
    were not there, in any pieces."""
    data = b"Epoch 1" + b"0" * (digits - 1) + b"/100\n" + KERAS
    want = canon(feed_all(make_parser("text"), KERAS))
    assert [step for _, step, *_ in want] == [125, 375, 49]
    for sizes in (None, [1], [3], [17], random_sizes(9)):
        p = make_parser("text")
        assert canon(feed_all(p, data, sizes)) == want and p.skipped == 1, sizes


def test_epochs_that_start_over_never_give_a_negative_step() -> None:
    """A second run appended to a Keras log: its epoch 1 comes after epoch 3. Its steps
    count from its own first epoch (the steps go back, as a restarted run's do)."""
    run = b"".join(b"Epoch %d/3\n10/10 [====] - 1s - loss: %d.5\n" % (e, e) for e in (2, 3, 1, 2))
    recs = metrics(feed_all(make_parser("text"), run))
    assert [(r.step, r.values["loss"]) for r in recs] == [
        (10, 2.5),
        (20, 3.5),
        (10, 1.5),
        (20, 2.5),
    ]
    for sizes in ([1], [5], random_sizes(4)):
        assert canon(feed_all(make_parser("text"), run, sizes)) == canon(recs)


def test_validation_lines_before_any_train_line_are_points_of_their_own() -> None:
    """``val loss`` lines with no step and no train line before them (fuzz, seed 23: an
    llm.c log's first lines repeated): read whole they were steps 0, 1, 2; line by line
    every one after the first shared step 0. Each is its own point now, both ways; a val
    line after a train line still shares its step."""
    data = b"val loss 11.03\nval loss 10.5\nval loss 10.1\ntrain loss 9.8\nval loss 9.9\n"
    want = [(0, "val_loss", 11.03), (1, "val_loss", 10.5), (2, "val_loss", 10.1)]
    want += [(3, "loss", 9.8), (3, "val_loss", 9.9)]
    for sizes in (None, [1], [3], random_sizes(2)):
        recs = metrics(feed_all(make_parser("text"), data, sizes))
        assert [(r.step, *next(iter(r.values.items()))) for r in recs] == want, sizes


def test_a_line_of_thousands_of_numbers_is_read_on_the_general_path() -> None:
    # The fast path compiles a line's shape into a regex: 4,000 numbers took seconds there.
    line = b"".join(b"step %d loss: 1.%d - " % (i, i) for i in range(4000)) + b"\n"
    p = make_parser("text")
    p.feed(line * 3)
    assert p._fast is None  # the fast path declined the shape


def test_the_config_lr_is_found_alike_read_whole_or_byte_by_byte() -> None:
    # Found by hypothesis in CI: a mangled config line read as a metric stopped the search for
    # the config LR when the log came in pieces, not when it came whole.
    data = (
        b"Overriding: max\x01iters = 300\nOverriding: lr_decay_iters = 300\n"
        b"Overriding: learning_rate = 0.001\niter 0: loss 4.2, time 10ms\n"
    )
    whole = make_parser("text")
    recs = feed_all(whole, data)
    assert Event("run", {"lr": [0.001], "lr_from": "config"}) in recs
    p = make_parser("text")
    assert canon(feed_all(p, data, [1])) == canon(recs) and p.skipped == whole.skipped
