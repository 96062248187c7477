"""Lightning integration: log the run and accept live LR changes.

::

    from lrwatch.integrations.lightning import LRWatchCallback
    trainer = L.Trainer(..., callbacks=[LRWatchCallback(log="runs/exp1.jsonl")])

At ``on_train_start`` the callback creates an :class:`lrwatch.Monitor` and binds it to the
trainer's first optimizer and its LR scheduler (``configure_optimizers``); each optimizer step
(``on_train_batch_end`` after the scheduler's per-step update) is a step boundary where queued
``lrwatch ctl`` commands apply, with the batch loss logged; validation ends log
``callback_metrics`` (``val_loss`` and friends). Pins and multipliers ride in Lightning's
checkpoints through the callback's ``state_dict``. ``trainer.estimated_stepping_batches`` (or
``max_steps``) becomes the run's total steps (progress and ETA in the header).

Rewind (``snapshot_every=N``, ``keep=K``, ``on_rewind=``; see docs/monitor.md): the
LightningModule is what snapshots copy. ``on_rewind="checkpoint"`` restores from the newest
``ModelCheckpoint`` file at or before the target (:mod:`.lightning_checkpoint`). After a rewind
``trainer.global_step`` goes back to the restored step (the optimizer-step progress counter),
so ``max_steps`` is counted from there with new batches; the loggers' step goes on.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl

from lrwatch.integrations._common import MonitorCallback
from lrwatch.integrations.lightning_checkpoint import CheckpointRewind, set_global_step
from lrwatch.integrations.progress import announce_total
from lrwatch.train.snapshots import OnRewind


def _scalar(value: Any) -> float | None:
    """A float from a tensor/number, None for anything else (e.g. dicts of outputs)."""
    if hasattr(value, "numel") and value.numel() == 1:
        return float(value.detach().item())
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


class LRWatchCallback(MonitorCallback, pl.Callback):
    """A Lightning ``Callback`` that runs an :class:`lrwatch.Monitor` for the trainer.

    Args:
        monitor: an existing Monitor to use; by default one is created at train start from
            ``log``, ``control``, ``run`` and ``opts`` (see :class:`lrwatch.Monitor`), among
            them ``snapshot_every``, ``keep`` and ``on_rewind`` (a hook, or ``"checkpoint"``).
    """

    #: a checkpoint's state loaded before the Monitor existed, applied at train start
    _restored: dict[str, Any] | None = None
    _last_step = -1  #: global step of the last optimizer step seen (-1: not attached yet)
    _trainer: pl.Trainer | None = None  #: for ``on_rewind="checkpoint"``

    def _checkpoint_hook(self) -> OnRewind:
        """``on_rewind="checkpoint"``: the ``.ckpt`` files of the trainer's ModelCheckpoint."""
        assert self._trainer is not None  # set in on_train_start, before the Monitor
        return CheckpointRewind(self._trainer)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Create the Monitor and bind the first optimizer and its scheduler."""
        configs = trainer.lr_scheduler_configs
        scheduler = configs[0].scheduler if configs else None
        self._trainer = trainer
        monitor = self._start_monitor(trainer.optimizers[0], scheduler, pl_module)
        # The optimizer steps of the whole fit (max_steps, or epochs × batches / accumulation);
        # inf for an endless run, then max_steps if set.
        announce_total(monitor, trainer.estimated_stepping_batches, trainer.max_steps)
        if self._restored is not None:  # a checkpoint was loaded before training started
            monitor.load_state_dict(self._restored)
            self._restored = None
        self._last_step = trainer.global_step

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        """After an optimizer step (and the scheduler's step): the command boundary."""
        if self.monitor is None or trainer.global_step == self._last_step:
            return  # gradient accumulation: no optimizer step in this batch
        self._last_step = trainer.global_step
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        value = _scalar(loss)
        metrics = {} if value is None else {"loss": value}
        self.monitor.step(step=trainer.global_step, **metrics)
        rewind = self._new_rewind()
        if rewind is not None and rewind.to_step is not None:
            set_global_step(trainer, rewind.to_step)
            self._last_step = trainer.global_step

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Log validation metrics (not a step boundary)."""
        if self.monitor is None or trainer.sanity_checking:
            return
        metrics = {k: v for k, v in trainer.callback_metrics.items() if k.startswith("val")}
        values = {k: s for k, v in metrics.items() if (s := _scalar(v)) is not None}
        if values:
            self.monitor.log(step=trainer.global_step, **values)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Write the ``end`` record and stop the control server."""
        if self.monitor is not None:
            self.monitor.close("finished")

    def on_exception(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException
    ) -> None:
        """Mark the run crashed in the log."""
        if self.monitor is not None:
            self.monitor.close("crashed")

    def state_dict(self) -> dict[str, Any]:
        """Pins, multipliers and change history, saved in Lightning checkpoints."""
        return self.monitor.state_dict() if self.monitor is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore on resume (Lightning calls this before ``on_train_start``)."""
        if not state_dict:
            return
        if self.monitor is not None and self._last_step >= 0:  # already attached
            self.monitor.load_state_dict(state_dict)
        else:
            self._restored = state_dict
