"""Rewind through the Hugging Face callback with a real Trainer: from the Monitor's in-memory
snapshots and from the Trainer's own ``checkpoint-N`` folders (``on_rewind="checkpoint"``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from lrwatch.control import protocol as P
from lrwatch.integrations.hf import LRWatchCallback
from tests.integrations.test_hf_callback import STEPS, Ask, Tokens, tiny_gpt2, training_args

# STEPS (12) of 64 samples in batches of 8: 8 steps an epoch, so the Trainer plans 2 epochs
# (16 batches) for 12 steps, which leaves room for the steps a rewind repeats.


class Dump(TrainerCallback):
    """After the lrwatch callback: ``torch.save`` the state each step boundary leaves."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.calls = folder, 0
        folder.mkdir(parents=True)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.calls += 1
        state_of = {
            "step": state.global_step,
            "model": kw["model"].state_dict(),
            "optimizer": kw["optimizer"].state_dict(),
            "rng": torch.get_rng_state(),
        }
        torch.save(state_of, self.folder / f"{self.calls:03d}.pt")

    def load(self, call: int) -> dict[str, Any]:
        """What the ``call``-th step boundary (1-based) left."""
        loaded: dict[str, Any] = torch.load(self.folder / f"{call:03d}.pt", weights_only=True)
        return loaded


def train(
    out: Path, asks: dict[int, dict[str, Any]], save_steps: int = 0, n: int = 64, **opts: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Dump, int]:
    """Train a 1-layer GPT-2 for STEPS steps; (log records, replies, dumps, final global step)."""
    torch.manual_seed(0)
    args = training_args(out, save_steps)
    log = out / "run.jsonl"
    cb = LRWatchCallback(
        log=str(log), control="none", file_commands=False, handle_signals=False, **opts
    )
    ask, dump = Ask(cb, asks), Dump(out / "dumps")
    trainer = Trainer(
        model=tiny_gpt2(),
        args=args,
        train_dataset=Tokens(n),
        callbacks=[ask, cb, dump],
    )
    result = trainer.train()
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return records, ask.replies, dump, result.global_step


def same_bits(a: Any, b: Any) -> bool:
    """Equal to the bit: tensors byte for byte (NaN and -0.0 included), containers deeply."""
    if isinstance(a, torch.Tensor):
        return (
            isinstance(b, torch.Tensor)
            and a.dtype == b.dtype
            and a.shape == b.shape
            and a.reshape(-1).view(torch.uint8).equal(b.reshape(-1).view(torch.uint8))
        )
    if isinstance(a, dict):
        return (
            isinstance(b, dict) and a.keys() == b.keys() and all(same_bits(a[k], b[k]) for k in a)
        )
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same_bits(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def metric_steps(records: list[dict[str, Any]], key: str = "lr") -> list[int]:
    return [r["step"] for r in records if "kind" not in r and key in r]


def test_rewind_to_a_snapshot_puts_the_trainer_back_and_it_finishes(tmp_path: Path):
    rewind = {"id": "r", "op": "rewind", "steps_back": 2, "scale_lr": 0.5, "by": "me"}
    records, replies, dump, final = train(tmp_path, {7: rewind}, snapshot_every=4, keep=2)
    assert replies[0]["ok"], replies
    # Asked after step 7 for step 5: the newest snapshot at or before it is step 4's.
    steps = [dump.load(c)["step"] for c in range(1, dump.calls + 1)]
    # The 7th boundary ends with the rewind: global_step is 4 there, then counts on.
    assert steps == [1, 2, 3, 4, 5, 6, 4, *range(5, STEPS + 1)]
    assert final == STEPS and records[-1]["kind"] == "end" and records[-1]["status"] == "finished"
    at4, after = dump.load(4), dump.load(7)
    assert same_bits(after["model"], at4["model"])
    assert same_bits(after["optimizer"]["state"], at4["optimizer"]["state"])
    (rec,) = [r for r in records if r.get("kind") == "rewind"]
    assert rec["step"] == 7 and rec["to_step"] == 4 and rec["source"] == "snapshot"
    assert rec["factor"] == 0.5 and rec["by"] == "me" and rec["via"] == "test"
    lr_at4 = [g["lr"] for g in at4["optimizer"]["param_groups"]]
    assert rec["new"] == [0.5 * x for x in lr_at4]
    assert [g["lr"] for g in after["optimizer"]["param_groups"]] == rec["new"]
    # The log counts on from the restored step; the schedule goes on halved from there.
    assert metric_steps(records) == [*range(1, 8), *range(5, STEPS + 1)]
    lrs = [r["lr"] for r in records if "kind" not in r and "lr" in r]
    assert lrs[7:10] == [0.5 * x for x in lrs[4:7]]  # steps 5-7, first branch and second
    # The Trainer's first loss after the rewind (step 8) mixes both branches: not forwarded.
    assert metric_steps(records, "loss") == [2, 4, 6, 10, 12]


def test_rewind_from_the_trainers_own_checkpoint(tmp_path: Path):
    asks = {
        2: {"id": "early", "op": "rewind", "steps_back": 1},  # no checkpoint yet: refused
        8: {"id": "disk", "op": "rewind", "steps_back": 1},  # target 7: checkpoint-6
        12: {"id": "end", "op": "rewind", "steps_back": 1},  # at max_steps: checkpoint-9
    }
    # 80 samples: 10 batches an epoch, 20 planned, 17 used.
    records, replies, dump, final = train(tmp_path, asks, 3, 80, on_rewind="checkpoint")
    early, disk, end = replies
    assert not early["ok"] and early["error"]["code"] == P.REFUSED
    assert "checkpoint-N" in early["error"]["message"]
    assert disk["ok"] and disk["to_step"] == 6 and disk["source"] == "hook"
    assert end["ok"] and end["to_step"] == 9  # saved along the new branch
    steps = [dump.load(c)["step"] for c in range(1, dump.calls + 1)]
    assert steps == [*range(1, 8), *range(6, 12), *range(9, STEPS + 1)]
    # The rewind at max_steps cancelled the Trainer's stop: it ran on to max_steps again.
    assert final == STEPS and records[-1]["status"] == "finished"
    at6, after = dump.load(6), dump.load(8)
    assert same_bits(after["model"], at6["model"])
    assert same_bits(after["optimizer"], at6["optimizer"])
    assert same_bits(after["rng"], at6["rng"])  # rng_state.pth, as the Trainer saved it
    rec, _ = [r for r in records if r.get("kind") == "rewind"]
    assert (rec["step"], rec["to_step"], rec["factor"], rec["mode"]) == (8, 6, None, None)
    assert metric_steps(records) == [*range(1, 9), *range(7, 13), *range(10, STEPS + 1)]
    assert (tmp_path / "checkpoint-12").is_dir()  # saving went on along the new branch
