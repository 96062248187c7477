"""Runs through the real Hugging Face ``transformers.Trainer``.

The model is a plain ``torch.nn.Module`` whose ``forward(x, labels)`` returns ``{"loss": ...}``
(the Trainer accepts any such module). The Trainer's own ``optim`` and
``lr_scheduler_type`` are used (SGD momentum through ``optim_args``); ``disable_tqdm=True``
and ``report_to="none"``, so its console output is the ``{'loss': ..., 'learning_rate': ...}``
dicts it prints, captured to ``console.log``; its ``TrainerState`` is written with the
Trainer's own ``save_to_json`` to ``trainer_state.json`` (what a checkpoint holds).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from benchmarks.holdout_lib.capture import console_to
from benchmarks.holdout_lib.loops import prepare_model
from benchmarks.holdout_lib.spec import HSpec
from benchmarks.holdout_lib.tasks import Data

_SCHEDULES = {
    "const": "constant",
    "warmup": "constant_with_warmup",
    "linear": "linear",
    "cosine": "cosine",
    "warmup_cos": "cosine",
}


class Rows(torch.utils.data.Dataset):
    """``{"x": x[i], "labels": y[i]}`` rows, as the Trainer's default collator wants them."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"x": self.x[i], "labels": self.y[i]}


class WithLoss(nn.Module):
    """Wrap a model so that ``forward(x, labels)`` returns ``{"loss": ...}``."""

    def __init__(self, net: nn.Module, loss: Any) -> None:
        super().__init__()
        self.net = net
        self.loss_fn = loss

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, Any]:
        out = self.net(x)
        return {"loss": self.loss_fn(out, labels) if labels is not None else None, "logits": out}


def hf_run(spec: HSpec, data: Data, folder: Path) -> None:
    """Train ``spec`` with ``transformers.Trainer``; writes console.log and trainer_state.json."""
    from transformers import Trainer, TrainingArguments

    model = WithLoss(prepare_model(spec, data), data.loss)
    evals: Any = None
    if data.evals:
        evals = {k: Rows(x, y) for k, (x, y) in data.evals.items()}
    elif spec.val_every:
        evals = Rows(data.xv, data.yv)
    optim = {"sgd": "sgd", "momentum": "sgd", "adam": "adamw_torch", "adamw": "adamw_torch"}
    args = TrainingArguments(
        output_dir=str(folder / "hf_output"),
        max_steps=spec.steps,
        per_device_train_batch_size=spec.batch,
        per_device_eval_batch_size=256,
        learning_rate=spec.lr,
        weight_decay=0.01 if spec.opt == "adamw" else 0.0,
        optim=optim[spec.opt],
        optim_args="momentum=0.9" if spec.opt == "momentum" else None,
        lr_scheduler_type=_SCHEDULES[spec.sched],
        warmup_steps=spec.warmup,
        max_grad_norm=spec.clip if spec.clip is not None else 1.0,  # the Trainer's default: 1.0
        logging_steps=spec.log_every,
        eval_strategy="steps" if evals is not None else "no",
        eval_steps=spec.val_every or None,
        save_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=True,
        seed=spec.seed,
        prediction_loss_only=True,
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model, args=args, train_dataset=Rows(data.x, data.y), eval_dataset=evals
    )
    with console_to(folder / "console.log"):
        trainer.train()
    trainer.state.save_to_json(str(folder / "trainer_state.json"))
