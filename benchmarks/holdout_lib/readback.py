"""Read the logged values back from each file, without lrwatch (for the labels).

The labels must come from what the program really wrote, read by code that is not the code
under test: ``ast``/``json``/``csv``, TensorBoard's own ``EventAccumulator`` and two regexes for
the console loops. Each reader returns a :data:`Series`: the training loss points (``steps``,
``loss``) in file order, and each validation set's points (``val``: name -> steps, values;
one unnamed set is ``"val"``). Steps are the optimizer step each point was logged at (HF
console lines carry none: the k-th training dict is step k x ``logging_steps``).
"""

from __future__ import annotations

import ast
import csv
import json
import math
import re
from pathlib import Path
from typing import Any

Series = dict[str, Any]

_NAN = re.compile(r"(?<!['\w])(-?)(nan|inf)(?![\w'])")
_VAL_KEY = re.compile(r"^(?:eval|val)_(?:(?P<name>.+)_)?loss$")
_NANOGPT_ITER = re.compile(r"^iter (\d+): loss ([^,\s]+)")
_NANOGPT_EVAL = re.compile(r"^step (\d+): train loss ([^,\s]+), val loss (\S+)")
_PTEX = re.compile(r"^Train Epoch: (\d+) \[(\d+)/(\d+) \(\d+%\)\]\tLoss: (\S+)")
_PTEX_TEST = re.compile(r"^Test set: Average loss: ([^,\s]+)")


def read_series(path: Path, logger: str, spec: dict[str, Any]) -> Series:
    """The logged train and val series of one file written by ``logger``."""
    out: Series = {"steps": [], "loss": [], "val": {}}
    reader = {
        "hf_console": _hf_console,
        "hf_state": _hf_state,
        "pl_csv": _pl_csv,
        "pl_tfevents": _pl_tfevents,
        "nanogpt_text": _nanogpt,
        "ptexamples_text": _ptexamples,
    }[logger]
    reader(path, spec, out)
    return out


def _add_val(out: Series, name: str, step: int, value: float) -> None:
    s = out["val"].setdefault(name, {"steps": [], "values": []})
    s["steps"].append(step)
    s["values"].append(value)


def _entry(out: Series, logs: dict[str, Any], step: int) -> None:
    if "train_runtime" in logs:  # the Trainer's final summary: train_loss is the run mean
        return
    if "loss" in logs:
        out["steps"].append(step)
        out["loss"].append(float(logs["loss"]))
    for key, value in logs.items():
        m = _VAL_KEY.match(key)
        if m:
            _add_val(out, m.group("name") or "val", step, float(value))


def _hf_console(path: Path, spec: dict[str, Any], out: Series) -> None:
    step = 0
    for line in path.read_text(errors="replace").splitlines():
        if not line.startswith("{'"):
            continue
        try:
            logs = ast.literal_eval(_NAN.sub(r"'\1\2'", line))
        except (ValueError, SyntaxError):
            continue
        if "loss" in logs and "train_runtime" not in logs:
            step += spec["log_every"]
        _entry(out, logs, step)


def _hf_state(path: Path, spec: dict[str, Any], out: Series) -> None:
    for logs in json.loads(path.read_text())["log_history"]:
        _entry(out, logs, int(logs["step"]))


def _pl_csv(path: Path, spec: dict[str, Any], out: Series) -> None:
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            step = int(row["step"])
            logs = {k: float(v) for k, v in row.items() if v not in ("", None) and k != "step"}
            if "train_loss" in logs:
                logs["loss"] = logs.pop("train_loss")
            _entry(out, logs, step)


def _pl_tfevents(path: Path, spec: dict[str, Any], out: Series) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    acc.Reload()
    tags = acc.Tags()["scalars"]
    for ev in acc.Scalars("train_loss") if "train_loss" in tags else []:
        out["steps"].append(ev.step)
        out["loss"].append(ev.value)
    for tag in tags:
        m = _VAL_KEY.match(tag)
        if m:
            for ev in acc.Scalars(tag):
                _add_val(out, m.group("name") or "val", ev.step, ev.value)


def _nanogpt(path: Path, spec: dict[str, Any], out: Series) -> None:
    for line in path.read_text().splitlines():
        m = _NANOGPT_ITER.match(line)
        if m:
            out["steps"].append(int(m.group(1)))
            out["loss"].append(float(m.group(2)))
            continue
        m = _NANOGPT_EVAL.match(line)
        if m:
            _add_val(out, "val", int(m.group(1)), float(m.group(3)))


def _ptexamples(path: Path, spec: dict[str, Any], out: Series) -> None:
    batch, epoch_batches, last = spec["batch"], None, 0
    for line in path.read_text().splitlines():
        m = _PTEX.match(line)
        if m:
            epoch, seen, total = int(m.group(1)), int(m.group(2)), int(m.group(3))
            epoch_batches = math.ceil(total / batch)
            last = (epoch - 1) * epoch_batches + seen // batch + 1
            out["steps"].append(last)
            out["loss"].append(float(m.group(4)))
            continue
        m = _PTEX_TEST.match(line)
        if m:
            _add_val(out, "val", last, float(m.group(1)))
