"""Rewind a Hugging Face ``Trainer`` run from the checkpoints it saved itself.

``LRWatchCallback(on_rewind="checkpoint")`` hands the Monitor a :class:`CheckpointRewind`:
asked to rewind to step T, it finds the newest ``checkpoint-N`` folder in ``args.output_dir``
with N ≤ T and loads what the Trainer saved there, the way ``resume_from_checkpoint`` does:
the model weights (``model.safetensors`` or ``pytorch_model.bin``), ``optimizer.pt``,
``scheduler.pt`` and the RNG states (``rng_state.pth``, or ``rng_state_<rank>.pth``). When the
Monitor also keeps in-memory snapshots and one of them is newer (still at or before T), the
snapshot is used instead. Sharded, FSDP, DeepSpeed and PEFT-adapter checkpoints are refused
(the rewind is then refused, and training goes on untouched).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from transformers import TrainingArguments

from lrwatch.train.snapshots import Rewind, set_rng_state

PREFIX = "checkpoint-"
SAFE_WEIGHTS, WEIGHTS = "model.safetensors", "pytorch_model.bin"
OPTIMIZER, SCHEDULER = "optimizer.pt", "scheduler.pt"


def newest_checkpoint(output_dir: str | Path, target: int) -> tuple[int, Path] | None:
    """The newest ``checkpoint-N`` folder in ``output_dir`` with N ≤ ``target``, as (N, path)."""
    best: tuple[int, Path] | None = None
    folder = Path(output_dir)
    if not folder.is_dir():
        return None
    for path in folder.glob(f"{PREFIX}*"):
        digits = path.name[len(PREFIX) :]
        if not digits.isdigit() or not path.is_dir():
            continue
        step = int(digits)
        if step <= target and (best is None or step > best[0]):
            best = (step, path)
    return best


class CheckpointRewind:
    """An ``on_rewind`` hook restoring the Trainer's own ``checkpoint-N`` (see the module)."""

    def __init__(self, args: TrainingArguments) -> None:
        self.args = args
        self.model: Any = None
        self.optimizer: Any = None
        self.scheduler: Any = None

    def bind(self, model: Any, optimizer: Any, scheduler: Any) -> None:
        """The objects the Trainer hands its callbacks (called at train begin)."""
        self.model, self.optimizer, self.scheduler = model, optimizer, scheduler

    def __call__(self, rewind: Rewind) -> int | None:
        """Restore the newest checkpoint at or before the target; its step (None: use the
        Monitor's snapshot, which is newer)."""
        found = newest_checkpoint(str(self.args.output_dir), rewind.target)
        snap = rewind.snapshot
        if snap is not None and (found is None or snap.step > found[0]):
            return None
        if found is None:
            msg = f"no {PREFIX}N with N <= {rewind.target} in {self.args.output_dir}"
            raise FileNotFoundError(msg)
        step, folder = found
        if self.model is None or self.optimizer is None:
            raise RuntimeError("the Trainer has not handed over its model and optimizer yet")
        optimizer = _load(folder / OPTIMIZER)  # first: a partial checkpoint changes nothing
        load_model(folder, self.model)
        self.optimizer.load_state_dict(optimizer)
        if self.scheduler is not None and (folder / SCHEDULER).is_file():
            self.scheduler.load_state_dict(_load(folder / SCHEDULER))
        load_rng(folder, self.args)
        return step


def _load(path: Path) -> Any:
    """A ``torch.save``\\ d file the Trainer wrote, tensors on the CPU (loaders move them)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: not a full Trainer checkpoint")
    return torch.load(path, map_location="cpu", weights_only=True)


def load_model(folder: Path, model: Any) -> None:
    """Load the checkpoint's weights into ``model`` in place, refusing a partial match.

    Keys the file lacks must be tied to a key it has (GPT-2's ``lm_head`` shares ``wte``'s
    tensor and is not saved twice); anything else would leave a mixed model.
    """
    if (folder / SAFE_WEIGHTS).is_file():
        from safetensors.torch import load_file

        state = load_file(str(folder / SAFE_WEIGHTS), device="cpu")
    elif (folder / WEIGHTS).is_file():
        state = _load(folder / WEIGHTS)
    else:
        msg = (
            f"no {SAFE_WEIGHTS} or {WEIGHTS} in {folder} (sharded, FSDP and PEFT are not supported)"
        )
        raise FileNotFoundError(msg)
    live = model.state_dict()
    extra = sorted(set(state) - set(live))
    loaded = {live[k].data_ptr() for k in state if k in live}
    untied = sorted(k for k in set(live) - set(state) if live[k].data_ptr() not in loaded)
    if extra or untied:
        raise ValueError(f"{folder.name} does not match the model: {(extra + untied)[:3]}")
    with torch.no_grad():
        model.load_state_dict(state, strict=False)


def load_rng(folder: Path, args: TrainingArguments) -> None:
    """Restore the RNG states the Trainer saved (Python, numpy, torch CPU, CUDA)."""
    name = f"rng_state_{args.process_index}.pth" if args.world_size > 1 else "rng_state.pth"
    path = folder / name
    if not path.is_file():
        return  # the Trainer saves none with save_only_model; the model is what matters
    from transformers.trainer_pt_utils import safe_globals

    with safe_globals():
        state = torch.load(path, weights_only=True)
    set_rng_state({"python": state["python"], "numpy": state["numpy"], "torch": state["cpu"]})
    if torch.cuda.is_available() and "cuda" in state:
        set_all = args.world_size > 1
        cuda = torch.cuda.random
        cuda.set_rng_state_all(state["cuda"]) if set_all else cuda.set_rng_state(state["cuda"])
