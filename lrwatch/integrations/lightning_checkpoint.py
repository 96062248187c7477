"""Rewind a Lightning run from the ``.ckpt`` files its ``ModelCheckpoint`` saved.

``LRWatchCallback(on_rewind="checkpoint")`` hands the Monitor a :class:`CheckpointRewind`:
asked to rewind to step T, it looks at every ``.ckpt`` in the ``dirpath`` of the trainer's
``ModelCheckpoint`` callbacks, takes the newest one whose ``global_step`` is ≤ T and loads
what Lightning saved in it, with the strategy's own loaders: the module's ``state_dict``, the
optimizer states and the LR schedulers' states. Lightning saves no RNG state, so none is
restored. When the Monitor also keeps in-memory snapshots and one of them is newer (still at
or before T), the snapshot is used instead.

Rewinding Lightning's step counter is :func:`set_global_step`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch

from lrwatch.train.snapshots import Rewind


def _read(path: Path) -> dict[str, Any]:
    """A Lightning checkpoint, tensors memory-mapped (reading its step costs no full load)."""
    # weights_only=False: Lightning checkpoints hold hyperparameters and loop state (plain
    # Python objects); these are the run's own files.
    ckpt: dict[str, Any] = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    return ckpt


def _dirs(trainer: pl.Trainer) -> list[str]:
    """The folders the trainer's checkpoint callbacks save into (``ModelCheckpoint.dirpath``)."""
    found = (getattr(cb, "dirpath", None) for cb in trainer.checkpoint_callbacks)
    return sorted({str(d) for d in found if d})


def newest_ckpt(trainer: pl.Trainer, target: int) -> tuple[int, Path] | None:
    """The newest ``.ckpt`` of the trainer's ``ModelCheckpoint``\\ s with ``global_step`` ≤
    ``target``, as (step, path); on a tie (a step saved again after a rewind) the newest file."""
    best: tuple[int, float, Path] | None = None
    for folder in _dirs(trainer):
        for path in Path(str(folder)).glob("*.ckpt"):
            try:
                step = int(_read(path).get("global_step", -1))
                key = (step, path.stat().st_mtime)
            except Exception:  # half-written, foreign or unreadable: not a rewind target
                continue
            if 0 <= step <= target and (best is None or key > best[:2]):
                best = (*key, path)
    return None if best is None else (best[0], best[2])


class CheckpointRewind:
    """An ``on_rewind`` hook restoring a ``ModelCheckpoint`` file (see the module)."""

    def __init__(self, trainer: pl.Trainer) -> None:
        self.trainer = trainer

    def __call__(self, rewind: Rewind) -> int | None:
        """Restore the newest checkpoint at or before the target; its step (None: use the
        Monitor's snapshot, which is newer)."""
        found = newest_ckpt(self.trainer, rewind.target)
        snap = rewind.snapshot
        if snap is not None and (found is None or snap.step > found[0]):
            return None
        if found is None:
            where = ", ".join(_dirs(self.trainer)) or "(no ModelCheckpoint)"
            msg = f"no ModelCheckpoint .ckpt at or before step {rewind.target} in {where}"
            raise FileNotFoundError(msg)
        step, path = found
        ckpt = _read(path)
        strategy = self.trainer.strategy
        strategy.load_model_state_dict(ckpt, strict=True)
        strategy.load_optimizer_state_dict(ckpt)
        states = ckpt.get("lr_schedulers", [])
        for config, state in zip(self.trainer.lr_scheduler_configs, states, strict=False):
            config.scheduler.load_state_dict(state)
        return step


def set_global_step(trainer: pl.Trainer, step: int) -> bool:
    """Move ``trainer.global_step`` to ``step``: Lightning's optimizer-step progress counter,
    the one ``max_steps``, ``ModelCheckpoint(every_n_train_steps=)`` and checkpoints read.
    Its logger step (``_batches_that_stepped``) is left to go on: loggers such as W&B refuse a
    step that goes back. False when this Lightning keeps the count elsewhere."""
    loop = trainer.fit_loop.epoch_loop
    module = trainer.lightning_module
    if module is None or module.automatic_optimization:
        tracker = loop.automatic_optimization.optim_progress.optimizer.step.total
    else:
        tracker = loop.manual_optimization.optim_step_progress.total
    if not hasattr(tracker, "completed") or tracker.completed != trainer.global_step:
        return False  # not the counter global_step reads: leave it alone
    tracker.ready = tracker.completed = step
    return trainer.global_step == step
