"""The Hugging Face callback with a real Trainer: log, live LR change through LambdaLR, resume."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    Trainer,
    TrainerCallback,
    TrainingArguments,
)

from lrwatch.control import protocol as P
from lrwatch.control.dispatch import dispatch
from lrwatch.integrations.hf import LRWatchCallback, hf_metrics

STEPS, CHANGE_AT = 12, 5


class Tokens(torch.utils.data.Dataset):
    """Random token sequences (labels = inputs): enough for a causal LM to train on."""

    def __init__(self, n: int = 64) -> None:
        g = torch.Generator().manual_seed(0)
        self.ids = torch.randint(0, 32, (n, 8), generator=g)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"input_ids": self.ids[i], "labels": self.ids[i]}


class Ask(TrainerCallback):
    """Plays the control client: at given steps, sends a request the way a transport does
    (queued; the Monitor applies it at this same step boundary, in the callback after this)."""

    def __init__(self, cb: LRWatchCallback, asks: dict[int, dict[str, Any]]) -> None:
        self.cb, self.asks, self.replies = cb, dict(asks), []

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        request = self.asks.pop(state.global_step, None)
        if request is not None:
            mon = self.cb.monitor
            dispatch(mon, P.validate(request, mon.limits), self.replies.append, "test")


def tiny_gpt2() -> GPT2LMHeadModel:
    """A 1-layer GPT-2 over 32 tokens."""
    config = GPT2Config(
        n_layer=1, n_head=2, n_embd=16, vocab_size=32, n_positions=8, bos_token_id=0, eos_token_id=0
    )
    return GPT2LMHeadModel(config)


def training_args(out: Path, save: int = 0, **extra: Any) -> TrainingArguments:
    """STEPS CPU steps in batches of 8, linear warmup then decay, a checkpoint every ``save``
    steps (0: none), reporting nowhere."""
    return TrainingArguments(
        output_dir=str(out),
        max_steps=STEPS,
        per_device_train_batch_size=8,
        learning_rate=1e-3,
        warmup_steps=3,
        lr_scheduler_type="linear",
        logging_steps=2,
        save_strategy="steps" if save else "no",
        save_steps=save or 500,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        dataloader_num_workers=0,
        **extra,
    )


def train(
    out: Path, request: dict[str, Any] | None = None, resume: bool = False, save: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Train a 1-layer GPT-2 for STEPS steps with the callback; return (log records, replies)."""
    torch.manual_seed(0)
    model = tiny_gpt2()
    args = training_args(out, save, eval_strategy="steps", eval_steps=6)
    log = out / "run.jsonl"
    cb = LRWatchCallback(log=str(log), control="none", file_commands=False, handle_signals=False)
    callbacks: list[TrainerCallback] = []
    ask = None
    if request is not None:
        ask = Ask(cb, {CHANGE_AT: request})
        callbacks.append(ask)
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=Tokens(),
        eval_dataset=Tokens(16),
        callbacks=[*callbacks, cb],
    )
    trainer.train(resume_from_checkpoint=str(out / f"checkpoint-{save}") if resume else None)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    return records, (ask.replies if ask else [])


def lr_by_step(records: list[dict[str, Any]]) -> dict[int, float]:
    return {r["step"]: r["lr"] for r in records if "kind" not in r and "lr" in r}


def total_steps(records: list[dict[str, Any]]) -> int | None:
    """The run's total as a reader takes it: the header's, then the latest ``meta``'s."""
    total = None
    for r in records:
        if r.get("kind") in ("run", "meta") and "total_steps" in r:
            total = r["total_steps"]
    return total


def test_live_change_survives_hf_lambdalr_and_the_log_has_everything(tmp_path: Path):
    twin, _ = train(tmp_path / "twin")
    records, replies = train(tmp_path / "mod", {"id": 7, "op": "scale_lr", "factor": 2.0})
    assert records[0]["kind"] == "run" and records[-1] == {**records[-1], "status": "finished"}
    assert replies and replies[0]["ok"] and replies[0]["step"] == CHANGE_AT + 1
    change = [r for r in records if r.get("kind") == "lr_change"]
    assert len(change) == 1 and change[0]["new"] == [2 * x for x in change[0]["old"]]
    lr, lr_twin = lr_by_step(records), lr_by_step(twin)
    assert sorted(lr) == list(range(1, STEPS + 1))
    assert lr_twin[3] > lr_twin[1] and lr_twin[STEPS] < lr_twin[4]  # warmup, then linear decay
    for step in range(1, STEPS + 1):
        assert lr[step] == (2 * lr_twin[step] if step > CHANGE_AT else lr_twin[step]), step
    losses = [r for r in records if "loss" in r and "kind" not in r]
    assert len(losses) >= STEPS // 2 and all(r["loss"] > 0 for r in losses)
    assert any("val_loss" in r for r in records)  # eval_loss renamed
    assert not any("learning_rate" in r for r in records)
    assert total_steps(records) == STEPS  # state.max_steps, for the header's progress and ETA


def test_pin_survives_a_resume_from_a_hf_checkpoint(tmp_path: Path):
    pin = {"id": "p", "op": "set_lr", "value": 5e-4, "mode": "pin"}
    full, _ = train(tmp_path / "full", pin)
    assert all(v == 5e-4 for s, v in lr_by_step(full).items() if s > CHANGE_AT)
    part = tmp_path / "part"
    train(part, pin, save=8)
    assert (part / "checkpoint-8" / "lrwatch_state.json").is_file()
    resumed, _ = train(part, None, resume=True, save=8)
    lrs = {s: v for s, v in lr_by_step(resumed).items() if s > 8}
    assert sorted(lrs) == list(range(9, STEPS + 1))
    assert set(lrs.values()) == {5e-4}  # the pin came back with the checkpoint


@pytest.mark.parametrize(
    ("logs", "want"),
    [
        ({"loss": 1.5, "learning_rate": 0.1, "epoch": 0.5}, {"loss": 1.5, "epoch": 0.5}),
        ({"eval_loss": 2.0, "eval_runtime": 0.1}, {"val_loss": 2.0, "eval_runtime": 0.1}),
        ({"loss": float("nan"), "note": "x", "flag": True}, {"loss": float("nan")}),
    ],
)
def test_hf_metrics_maps_names(logs: dict[str, Any], want: dict[str, float]):
    got = hf_metrics(logs)
    assert got.keys() == want.keys()
    assert all(got[k] == want[k] or (got[k] != got[k] and want[k] != want[k]) for k in want)


@pytest.mark.parametrize(
    ("values", "want"),
    [
        ((12,), 12),
        ((-1, 40), 40),  # HF/Lightning's unset max_steps, then the next candidate
        ((float("inf"), -1), None),  # Lightning's estimate of an endless run
        ((None, 0, True, "12"), None),
        ((250.0,), 250),
    ],
)
def test_announce_total_skips_unknown_totals(
    tmp_path: Path, values: tuple[Any, ...], want: int | None
):
    from lrwatch.integrations.progress import announce_total
    from lrwatch.train.monitor import Monitor

    opts: dict[str, Any] = {"control": "none", "file_commands": False, "handle_signals": False}
    mon = Monitor(log=str(tmp_path / "a.jsonl"), **opts)
    given = Monitor(log=str(tmp_path / "b.jsonl"), total_steps=7, **opts)
    try:
        announce_total(mon, *values)
        assert mon.total_steps == want
        announce_total(given, 12)
        assert given.total_steps == 7  # what the user said wins
    finally:
        mon.close()
        given.close()
