"""Lightning and Keras CSV logs, including Lightning's rewrite with a wider header."""

from __future__ import annotations

import math

from lrwatch.formats.csvlog import CsvParser

from .helpers import canon, feed_all, fixture, metrics, random_sizes, series


def test_lightning_healthy_fixture() -> None:
    p = CsvParser()
    recs = feed_all(p, fixture("lightning_healthy_metrics.csv"))
    assert len(recs) == 130 and p.skipped == 0
    loss = series(recs, "loss")
    assert len(loss) == 120 and loss[0] == (4, 1.357150673866272)
    assert loss[-1] == (599, 0.09206585586071014)
    assert series(recs, "val_loss")[0] == (49, 1.12953519821167)
    assert series(recs, "lr")[0] == (4, 0.10000000149011612)
    # Sparse rows: a validation row carries only its own cells.
    val_row = metrics(recs)[10]
    assert val_row.values == {"epoch": 0.0, "val_acc": 0.5986328125, "val_loss": 1.12953519821167}


def test_lightning_nan_fixture() -> None:
    recs = feed_all(CsvParser(), fixture("lightning_sgd_lr8_nan_metrics.csv"))
    loss = series(recs, "loss")
    assert loss[4] == (24, 2.0347992339311565e25)
    assert math.isnan(loss[5][1]) and sum(math.isnan(v) for _, v in loss) == 115
    assert math.isnan(series(recs, "val_loss")[0][1])


def test_rewrite_with_wider_header_emits_nothing_twice_and_loses_nothing() -> None:
    p = CsvParser()
    first = p.feed(b"epoch,step,train_loss\n0,0,1.0\n0,1,0.9\n")
    p.restart()
    second = p.feed(b"epoch,step,train_loss,val_loss\n0,0,1.0,\n0,1,0.9,\n0,1,,0.8\n0,2,0.7,\n")
    assert series(first, "loss") == [(0, 1.0), (1, 0.9)]
    assert [(m.step, m.values) for m in second] == [
        (1, {"epoch": 0.0, "val_loss": 0.8}),
        (2, {"epoch": 0.0, "loss": 0.7}),
    ]


def test_rewrite_after_partial_read_and_a_new_log_after_restart() -> None:
    p = CsvParser()
    first = p.feed(b"step,train_loss\n0,1.0\n1,0.9\n2,0.")  # row 2 still being written
    p.restart()
    second = feed_all(p, b"lr,step,train_loss\n,0,1.0\n,1,0.9\n,2,0.8\n0.1,3,0.7\n")
    assert [m.step for m in first + second] == [0, 1, 2, 3]
    p.restart()  # a different log with the same columns and other values: all of it is new
    third = p.feed(b"lr,step,train_loss\n,0,5.0\n")
    assert series(third, "loss") == [(0, 5.0)]


def test_keras_csv_step_is_the_epoch() -> None:
    recs = feed_all(
        CsvParser(),
        b"epoch,accuracy,loss,val_accuracy,val_loss\n0,0.5,1.2,0.55,1.1\n1,0.6,1.0,0.6,nan\n",
    )
    ms = metrics(recs)
    assert [m.step for m in ms] == [0, 1]
    assert ms[0].values == {"accuracy": 0.5, "loss": 1.2, "val_accuracy": 0.55, "val_loss": 1.1}
    assert math.isnan(ms[1].values["val_loss"])


def test_malformed_rows_are_counted() -> None:
    p = CsvParser()
    recs = feed_all(p, b"step,loss\n1,0.5\n2,0.4,extra,cells\n\x00\x00junk\n3,0.3\n")
    assert series(recs, "loss") == [(1, 0.5), (3, 0.3)] and p.skipped == 2


def test_chunking_does_not_change_records() -> None:
    data = fixture("lightning_healthy_metrics.csv")
    assert canon(feed_all(CsvParser(), data, random_sizes(5, hi=40))) == canon(
        feed_all(CsvParser(), data)
    )


def test_lightning_lr_column_names_the_optimizer() -> None:
    """LearningRateMonitor's ``lr-SGD`` column: the rules learn the optimizer from it."""
    from lrwatch.records import Event

    recs = feed_all(CsvParser(), b"lr-SGD,step,train_loss\n0.0001,0,\n,0,2.3\n")
    assert recs[0] == Event("run", {"optimizer": "SGD"})
    assert series(recs, "lr") == [(0, 0.0001)] and series(recs, "loss") == [(0, 2.3)]
    plain = feed_all(CsvParser(), b"step,train_loss\n0,2.3\n")
    assert not any(isinstance(r, Event) for r in plain)
