"""Choosing a run's training and validation loss when no metric is called ``loss``."""

from __future__ import annotations

import numpy as np

from lrwatch.losschoice import LossChooser, choose_train, choose_val, is_loss_name
from lrwatch.records import MetricBlock, Metrics


def test_the_documented_order() -> None:
    assert choose_train(["loss", "total_loss"]).names == ("loss",)  # type: ignore[union-attr]
    assert choose_train(["loss_cls", "total_loss", "lr"]).names == ("total_loss",)  # type: ignore[union-attr]
    olmo = choose_train(["train/CrossEntropyLoss", "train/ZLoss", "lr"])
    assert olmo is not None and olmo.names == ("train/CrossEntropyLoss",)
    assert choose_train(["mean_loss", "val_loss", "lr"]).names == ("mean_loss",)  # type: ignore[union-attr]
    yolo = choose_train(["train/box_loss", "train/cls_loss", "train/dfl_loss", "val/box_loss"])
    assert yolo is not None and yolo.names == ("train/box_loss", "train/cls_loss", "train/dfl_loss")
    assert "sum" in yolo.reason
    assert choose_train(["lr", "accuracy", "val_loss", "test_loss"]) is None


def test_validation_choice() -> None:
    assert choose_val(["val_loss", "val/box_loss"]).names == ("val_loss",)  # type: ignore[union-attr]
    parts = choose_val(["val/box_loss", "val/cls_loss", "train/box_loss"])
    assert parts is not None and parts.names == ("val/box_loss", "val/cls_loss")
    assert choose_val(["eval_books_CrossEntropyLoss"]).names == ("eval_books_CrossEntropyLoss",)  # type: ignore[union-attr]
    assert choose_val(["test_loss", "loss"]) is None  # a test loss is neither


def test_settings_about_a_loss_are_not_losses() -> None:
    assert not is_loss_name("annealing_loss_improvement_pct")
    assert not is_loss_name("loss_scale")
    assert is_loss_name("Train_Loss") and is_loss_name("loss_rpn_cls")


def test_chooser_sums_parts_keeps_them_and_sticks_to_its_choice() -> None:
    c = LossChooser()
    recs = [
        Metrics(1, {"train/box_loss": 1.0, "train/cls_loss": 2.0, "val/box_loss": 0.5}),
        Metrics(2, {"train/box_loss": 0.5, "train/cls_loss": 1.5, "val/box_loss": 0.25}),
    ]
    out = c.apply(list(recs))
    assert out[0].values["loss"] == 3.0 and out[0].values["train/box_loss"] == 1.0
    assert out[1].values["loss"] == 2.0
    assert out[0].values["val_loss"] == 0.5 and "val/box_loss" not in out[0].values
    assert c.train is not None and "train/cls_loss" in c.train.describe()


def test_chooser_renames_in_blocks_and_a_user_choice_displaces_loss() -> None:
    block = MetricBlock(np.arange(3), {"total_loss": np.array([3.0, 2.0, 1.0])})
    (out,) = LossChooser().apply([block])
    assert isinstance(out, MetricBlock) and list(out.columns["loss"]) == [3.0, 2.0, 1.0]
    user = LossChooser(loss="nll_loss")
    (rec,) = user.apply([Metrics(1, {"loss": 9.0, "nll_loss": 8.0})])
    assert rec.values == {"loss": 8.0, "loss_logged": 9.0}
    summed = LossChooser(loss="a+b").apply([Metrics(1, {"a": 1.0, "b": 2.0})])
    assert summed[0].values["loss"] == 3.0
