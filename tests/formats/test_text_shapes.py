"""The general line reader on each log shape it promises (docs/format.md), line by line.

The real logs these lines come from are in tests/fixtures/real (test_real_logs.py); here each
shape's rules are pinned one by one: the step, the names, the carried step, what is not a record.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from lrwatch.formats.text import TextParser

from .helpers import canon, feed_all, metrics, random_sizes


def _read(text: str, blocks: bool = False) -> list[tuple[int, dict[str, float]]]:
    recs = metrics(feed_all(TextParser(blocks=blocks), text.encode()))
    return [(m.step, m.values) for m in recs]


@pytest.mark.parametrize(
    ("line", "step", "want"),
    [
        (  # Karpathy's build-nanogpt
            "step 10 | loss: 8.6117 | dt: 19315.15ms | tok/sec: 6785.97 | norm: 2.93 | lr: 0.000110",
            10,
            {
                "loss": 8.6117,
                "dt_ms": 19315.15,
                "tok/sec": 6785.97,
                "grad_norm": 2.93,
                "lr": 1.1e-4,
            },
        ),
        (
            "step     0 | loss: 10.955010 | lr 6.0000e-04 | norm: 15.3420 | dt: 1234.5ms",
            0,
            {"loss": 10.95501, "lr": 6e-4, "grad_norm": 15.342, "dt_ms": 1234.5},
        ),
        (  # llm.c: NaN with its note, units with no name before them
            "step    1/19560 | loss     nan (+nanz)| norm    nan (+nanz)| lr 8.57e-07 | 3788.44 ms",
            1,
            {"loss": math.nan, "grad_norm": math.nan, "lr": 8.57e-07},
        ),
        (  # modded-nanogpt
            "step:10/1000 train_loss:3.2817 train_time:1234ms step_avg:123.4ms",
            10,
            {"loss": 3.2817, "train_time_ms": 1234.0, "step_avg_ms": 123.4},
        ),
        (
            "step:125/1000 val_loss:4.1 train_time:99ms",
            125,
            {"val_loss": 4.1, "train_time_ms": 99.0},
        ),
        ("step 2, loss: 9.968440055847168", 2, {"loss": 9.968440055847168}),
        (  # detectron2: the logger's prefix and the eta's time of day are not metrics
            "eta: 7:13:35  iter: 199  total_loss: 0.292  loss_rpn_cls: 0.157  lr: 0.003996  "
            "max_mem: 2541M",
            199,
            {"total_loss": 0.292, "loss_rpn_cls": 0.157, "lr": 0.003996, "max_mem": 2541.0},
        ),
        (  # fairseq: num_updates is the step, not the epoch
            "epoch 001:    100 / 1000 loss=9.1, nll_loss=8.9, ppl=478, num_updates=100, lr=0.0005",
            100,
            {"loss": 9.1, "nll_loss": 8.9, "ppl": 478.0, "lr": 0.0005},
        ),
        (  # JSON printed after a logging prefix
            '2024-01-01 10:00:00 INFO {"step": 3, "loss": 2.5, "lr": 0.001}',
            3,
            {"loss": 2.5, "lr": 0.001},
        ),
        ("step 4 | loss: -0.5 | x .25 | y=-.5", 4, {"loss": -0.5, "x": 0.25, "y": -0.5}),
    ],
)
def test_one_line_shapes(line: str, step: int, want: dict[str, float]) -> None:
    ((got_step, values),) = _read(line + "\n")
    assert got_step == step
    for name, value in want.items():
        assert name in values, (name, values)
        assert math.isnan(values[name]) if math.isnan(value) else values[name] == value


def test_word_language_model_counts_batches_within_epochs() -> None:
    rows = _read(
        "| epoch   1 |   200/ 2983 batches | lr 20.00 | ms/batch 12.12 | loss  7.64 | ppl  2079.22\n"
        "| epoch   1 |  2800/ 2983 batches | lr 20.00 | ms/batch 11.80 | loss  5.40 | ppl   222.10\n"
        "| end of epoch   1 | time: 36.57s | valid loss  5.55 | valid ppl   257.36\n"
        "| epoch   2 |   200/ 2983 batches | lr 20.00 | ms/batch 11.9 | loss  5.10 | ppl   164.02\n"
    )
    assert [(s, v.get("loss"), v.get("val_loss")) for s, v in rows] == [
        (200, 7.64, None),
        (2800, 5.40, None),
        (2983, None, 5.55),  # the end of epoch 1
        (3183, 5.10, None),
    ]


def test_logging_epochs_and_keras_like_blocks_carry_the_step() -> None:
    rows = _read(
        "2025-07-07 13:55:26.649 INFO: Epoch [001/300] - Train Loss: 145.13359, "
        "Valid Loss: 70.66399, LR: [0.001]\n"
        "Epoch 2/20\n"
        "Train Loss: 7.4976 - Train Perplexity: 1803.70\n"
        "Valid Loss: 6.6384 - Valid Perplexity: 763.2\n"
    )
    assert rows[0] == (1, {"loss": 145.13359, "val_loss": 70.66399, "lr": 0.001})
    # The lines under the header take its step, one record each (whatever the chunking).
    assert rows[1] == (2, {"loss": 7.4976, "Train_Perplexity": 1803.7})
    assert rows[2] == (2, {"val_loss": 6.6384, "Valid_Perplexity": 763.2})


def test_olmo_block_takes_the_header_step_with_thousands_separators() -> None:
    rows = _read(
        "[2024-04-17 09:42:26] INFO     [olmo.train:816, rank=0] [step=1/739328]\n"
        "    train/CrossEntropyLoss=11.25\n"
        "    train/Perplexity=76,631\n"
        "    throughput/total_tokens=4,194,304\n"
        "    optim/LR (group 0)=0.0004\n"
        "[2024-04-17 09:42:38] INFO     [olmo.train:816, rank=0] [step=2/739328]\n"
        "    train/CrossEntropyLoss=10.73\n"
    )
    # The logger's "olmo.train:816, rank=0" prefix is not a metric.
    assert rows == [
        (1, {"train/CrossEntropyLoss": 11.25}),
        (1, {"train/Perplexity": 76631.0}),
        (1, {"throughput/total_tokens": 4194304.0}),
        (1, {"lr": 0.0004}),
        (2, {"train/CrossEntropyLoss": 10.73}),
    ]


def test_keras_progress_lines_under_epoch_headers() -> None:
    rows = _read(
        "Epoch 1/2\n"
        " 10/125 [==>...........................] - ETA: 1s - loss: 1.5000\n"
        "125/125 [==============================] - 2s 9ms/step - loss: 1.1806 - val_loss: 0.9\n"
        "Epoch 2/2\n"
        "125/125 \u2501\u2501\u2501\u2501 1s 3ms/step - loss: 0.8000 - val_loss: 0.7\n"
    )
    assert [(s, v["loss"]) for s, v in rows] == [(10, 1.5), (125, 1.1806), (250, 0.8)]
    assert rows[2][1]["val_loss"] == 0.7


def test_an_evaluation_gives_one_point_its_running_mean() -> None:
    rows = _read(
        "Train: 1 [5000/5004 (100%)]  Loss:  5.085654 (5.7736)  LR: 5.334e-03\n"
        "Test: [   0/195]  Time: 2.276 (2.276)  Loss:  3.5284 (3.5284)\n"
        "Test: [ 195/195]  Time: 0.024 (0.261)  Loss:  5.8634 (3.9768)\n"
        "Test (EMA): [ 195/195]  Time: 0.024 (0.176)  Loss:  6.8138 (6.9122)\n"
    )
    # Only the last batch of each evaluation is a point, at the train step it followed, with
    # the running mean in brackets (the evaluation's result); a second set keeps its name.
    assert [s for s, _ in rows] == [5000, 5000, 5000]
    assert rows[1][1]["val_loss"] == 3.9768 and rows[2][1]["val_ema_Loss"] == 6.9122


def test_configs_and_prose_are_not_records() -> None:
    p = TextParser()
    recs = feed_all(
        p,
        b"Namespace(batch_size=20, bptt=35, clip=0.25, dropout=0.2, emsize=200, epochs=12, "
        b"log_interval=200, lr=20, nhead=2, nhid=200, nlayers=2, seed=1111, tied=False)\n"
        b"number of parameters: 10.65M\n"
        b"Saving checkpoint to out/ckpt.pt at iter 500\n",
    )
    assert metrics(recs) == [] and p.skipped == 0
    assert p.unread[0].startswith("Namespace(")


def test_loss_lines_without_any_step_are_numbered() -> None:
    p = TextParser()
    recs = metrics(feed_all(p, b"loss: 2.5\nloss: 2.25\nval_loss: 2.4\nloss: 2.0\n"))
    assert [(m.step, m.values) for m in recs] == [
        (0, {"loss": 2.5}),
        (1, {"loss": 2.25}),
        (1, {"val_loss": 2.4}),  # shares the train line's step
        (2, {"loss": 2.0}),
    ]
    assert p.steps_inferred and all(m.step_inferred for m in recs)


@pytest.mark.parametrize("seed", range(3))
def test_blocks_and_chunking_give_the_same_points(seed: int) -> None:
    text = "".join(
        f"step {i:5d} | loss: {10 / (i + 1):.6f} | lr {1e-3:.4e} | norm: {0.5 + i % 3:.4f}\n"
        for i in range(300)
    )
    want = _read(text)
    recs = feed_all(TextParser(blocks=True), text.encode(), random_sizes(seed, hi=4000))
    from lrwatch.records import expand

    got = [(m.step, m.values) for m in expand(recs)]
    assert got == want and len(want) == 300


def _text_logs() -> list[Path]:
    real = Path(__file__).resolve().parents[1] / "fixtures" / "real"
    skip = {".csv", ".json", ".py"}
    return sorted(
        p
        for p in real.rglob("*")
        if p.is_file() and p.suffix not in skip and p.name != "SOURCES.md"
    )


@pytest.mark.parametrize("seed", range(4))
def test_the_fast_path_reads_what_the_general_path_reads(seed: int) -> None:
    """The common shape's line regex must match exactly that shape's lines (real logs, and
    the same logs with bytes changed, in random chunks)."""
    rng = random.Random(seed)
    for path in _text_logs():
        data = bytearray(path.read_bytes())
        for _ in range(seed * 3):
            data[rng.randrange(len(data))] = rng.choice(b"0123456789.-e nan|:=\n")
        sizes = random_sizes(seed, hi=3000)
        general = TextParser(fast=False)
        want = canon(feed_all(general, bytes(data), sizes))
        fast = TextParser()
        assert canon(feed_all(fast, bytes(data), sizes)) == want, path.name
        assert (fast.skipped, fast.steps_inferred) == (general.skipped, general.steps_inferred)


def test_mmengine_validation_lands_at_the_end_of_its_epoch() -> None:
    prefix = "2026/12/06 06:31:26 - mmengine - INFO - "
    rows = _read(
        f"{prefix}Epoch(train) [1][20/20]  lr: 1.0000e-02  eta: 0:00:00  time: 0.0053  "
        "data_time: 0.0002  memory: 0  loss: 0.9211\n"
        f"{prefix}Epoch(val) [1][4/4]    val_loss: 0.4414  data_time: 0.0004  time: 0.0010\n"
        f"{prefix}Epoch(train) [2][ 5/20]  lr: 1.0000e-02  eta: 0:00:00  time: 0.0053  "
        "data_time: 0.0002  memory: 0  loss: 0.6000\n"
    )
    assert [(s, v.get("loss"), v.get("val_loss")) for s, v in rows] == [
        (20, 0.9211, None),
        (20, None, 0.4414),
        (25, 0.6, None),
    ]


def test_pytorch_examples_count_samples_within_epochs() -> None:
    """``Train Epoch: 1 [640/60000 (1%)]``: the sample counter places each line in its epoch
    (steps count samples), so the points of an epoch no longer share the epoch's number."""
    rows = _read(
        "Train Epoch: 1 [0/60000 (0%)]\tLoss: 2.301\n"
        "Train Epoch: 1 [640/60000 (1%)]\tLoss: 1.301\n"
        "\nTest set: Average loss: 0.0500, Accuracy: 9800/10000 (98%)\n\n"
        "Train Epoch: 2 [640/60000 (1%)]\tLoss: 0.2\n"
    )
    train = [(s, v["loss"]) for s, v in rows if "loss" in v]
    assert train == [(0, 2.301), (640, 1.301), (60640, 0.2)]
