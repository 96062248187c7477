"""Hugging Face ``Trainer`` integration: log the run and accept live LR changes.

::

    from lrwatch.integrations.hf import LRWatchCallback
    trainer = Trainer(..., callbacks=[LRWatchCallback(log="runs/exp1.jsonl")])

The callback creates an :class:`lrwatch.Monitor` when training begins, binds it to the
Trainer's optimizer and LR scheduler (HF's schedules are ``LambdaLR``; changes re-anchor its
base LRs so warmup/decay keep their shape), marks each optimizer step as a step boundary where
queued ``lrwatch ctl`` commands apply, and forwards the Trainer's logs (``eval_loss`` becomes
``val_loss``). Pins and multipliers are saved next to each checkpoint (``lrwatch_state.json``)
and restored when training resumes from it; ``state.max_steps`` becomes the run's total steps
(progress and ETA in the header); re-anchored changes travel in the optimizer and
scheduler state the Trainer saves anyway.

Rewind (``snapshot_every=N``, ``keep=K``, ``on_rewind=``; see docs/monitor.md): the Trainer's
model is what snapshots copy. ``on_rewind="checkpoint"`` restores from the newest
``checkpoint-N`` the Trainer saved at or before the target (:mod:`.hf_checkpoint`). After a
rewind ``state.global_step`` goes back to the restored step, so the Trainer counts on to
``max_steps`` from there with new batches (the data is not rewound).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from lrwatch.integrations._common import CHECKPOINT, MonitorCallback
from lrwatch.integrations.hf_checkpoint import CheckpointRewind
from lrwatch.integrations.progress import announce_total
from lrwatch.train.snapshots import OnRewind, Rewind

STATE_FILE = "lrwatch_state.json"
# HF logs the scheduler's *next* LR as learning_rate; the Monitor records the LR each optimizer
# step really used, so the Trainer's copy would only add a second, shifted lr series.
_DROP = {"learning_rate"}
_RENAME = {"eval_loss": "val_loss"}


def hf_metrics(logs: dict[str, Any]) -> dict[str, float]:
    """The numeric entries of a Trainer ``logs`` dict, under lrwatch's canonical names."""
    out: dict[str, float] = {}
    for key, value in logs.items():
        if key in _DROP or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        out[_RENAME.get(key, key)] = float(value)
    return out


def _checkpoint(args: TrainingArguments, step: int) -> Path:
    """The folder the Trainer saves the checkpoint of ``step`` in."""
    assert args.output_dir is not None  # TrainingArguments gives it a default when unset
    return Path(args.output_dir) / f"checkpoint-{step}"


class LRWatchCallback(MonitorCallback, TrainerCallback):
    """A ``TrainerCallback`` that runs an :class:`lrwatch.Monitor` for the Trainer.

    Args:
        monitor: an existing Monitor to use; by default one is created at train begin from
            ``log``, ``control``, ``run`` and ``opts`` (see :class:`lrwatch.Monitor`), among
            them ``snapshot_every``, ``keep`` and ``on_rewind`` (a hook, or ``"checkpoint"``).
    """

    _disk: CheckpointRewind | None = None  #: the ``on_rewind="checkpoint"`` hook
    _mixed_loss = False  #: a rewind happened and the Trainer has not logged a loss since

    def _checkpoint_hook(self) -> OnRewind:
        """``on_rewind="checkpoint"``: the Trainer's own ``checkpoint-N`` folders."""
        assert self._disk is not None  # made in on_train_begin, before the Monitor
        return self._disk

    def on_train_begin(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        optimizer: Any = None,
        lr_scheduler: Any = None,
        **kwargs: Any,
    ) -> None:
        """Create the Monitor, bind the optimizer/scheduler, restore a resumed run's state,
        and give it the run's length (``state.max_steps``, set before this callback)."""
        if self._args.get("on_rewind") == CHECKPOINT:
            self._disk = CheckpointRewind(args)
            self._disk.bind(kwargs.get("model"), optimizer, lr_scheduler)
        monitor = self._start_monitor(optimizer, lr_scheduler, kwargs.get("model"))
        announce_total(monitor, state.max_steps)
        saved = _checkpoint(args, state.global_step) / STATE_FILE
        if state.global_step > 0 and saved.is_file():
            monitor.load_state_dict(json.loads(saved.read_text()))

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """After optimizer.step() and scheduler.step(): the boundary where commands apply."""
        if self.monitor is None:
            return
        self.monitor.step(step=state.global_step)
        rewind = self._new_rewind()
        if rewind is not None and rewind.to_step is not None:
            _rewound(state, control, rewind)
            self._mixed_loss = True

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        """Forward the Trainer's loss/grad_norm/eval metrics (not a step boundary)."""
        if self.monitor is None or not logs:
            return
        metrics = hf_metrics(logs)
        if self._mixed_loss and "loss" in metrics:
            # The Trainer's first loss after a rewind averages steps of both branches over a
            # count of the new one only: a made-up spike. Later ones are clean.
            self._mixed_loss = False
            del metrics["loss"]
        if metrics:
            self.monitor.log(step=state.global_step, **metrics)

    def on_save(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Save pins/multipliers/history next to the checkpoint the Trainer just wrote."""
        folder = _checkpoint(args, state.global_step)
        if self.monitor is not None and state.is_world_process_zero and folder.is_dir():
            text = json.dumps(self.monitor.state_dict())
            (folder / STATE_FILE).write_text(text)

    def on_train_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any
    ) -> None:
        """Write the ``end`` record and stop the control server."""
        if self.monitor is not None:
            self.monitor.close("finished")


def _rewound(state: TrainerState, control: TrainerControl, rewind: Rewind) -> None:
    """Make the Trainer agree with a rewind done at this step's end.

    DefaultFlowCallback has already decided, for the abandoned step, whether to log, evaluate,
    save (into ``checkpoint-<to_step>``, which may be the one restored) and stop at
    ``max_steps``: those decisions are void now.
    """
    assert rewind.to_step is not None
    state.global_step = rewind.to_step
    control.should_log = control.should_evaluate = control.should_save = False
    if rewind.from_step >= state.max_steps > rewind.to_step:
        control.should_training_stop = False  # stopped for max_steps, which is ahead again
