"""Helpers for the bounded-memory reader tests (issue 17): big inputs and a child's peak RSS.

Inputs are generated in the test's tmp_path (never committed). The peak RSS is that of a real
separate ``python -m lrwatch inspect`` process, read by a small wrapper process from
``getrusage(RUSAGE_CHILDREN)`` once its only child has exited.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

_WRAPPER = (
    "import json, resource, subprocess, sys\n"
    "stdin = open(sys.argv[1], 'rb') if sys.argv[1] else None\n"
    "p = subprocess.run(sys.argv[2:], stdin=stdin, capture_output=True)\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
    "print(json.dumps({'rc': p.returncode, 'rss': rss, 'out': p.stdout.decode(),"
    " 'err': p.stderr.decode()[-2000:]}))\n"
)


def inspect_peak(path: Path | str, *args: str, stdin: Path | None = None) -> tuple[int, Any]:
    """(peak RSS in bytes, parsed JSON) of ``python -m lrwatch inspect PATH --json ARGS``.

    With ``stdin``, that file is the child's standard input (a pipe read 64 KiB at a time
    when PATH is ``-``)."""
    argv = [sys.executable, "-m", "lrwatch", "inspect", str(path), "--json", *args]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(stdin or ""), *argv],
        capture_output=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    res = json.loads(done.stdout)
    assert res["rc"] == 0, res["err"]
    return res["rss"], json.loads(res["out"])


def baseline_peak() -> int:
    """Peak RSS of a child that imports what ``inspect`` imports and reads nothing."""
    code = "import lrwatch.cli, lrwatch.sources, lrwatch.formats, numpy, msgspec"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, "", sys.executable, "-c", code],
        capture_output=True,
        check=True,
        env=env,
        cwd=ROOT,
    )
    return int(json.loads(done.stdout)["rss"])


def trainer_state(n: int, indent: bool = True) -> bytes:
    """A trainer_state.json as HF writes it (indent=2, sorted keys), with ``n`` entries: train
    entries every 10 steps and an eval entry every 100th, then a summary entry."""
    sep, pad = ("\n", "      ") if indent else ("", "")
    end = "\n    " if indent else ""
    entries = []
    for i in range(1, n + 1):
        step = 10 * i
        if i % 100 == 0:
            fields = [
                f'"epoch": {step / 1e5}',
                f'"eval_loss": {2.0 + (i % 7) / 10}',
                '"eval_runtime": 1.5',
                f'"step": {step}',
            ]
        else:
            fields = [
                f'"epoch": {step / 1e5}',
                f'"grad_norm": {1.0 + (i % 97) / 100}',
                f'"learning_rate": {5e-05 * (1 - i / 1e7)!r}',
                f'"loss": {2.5 / (1 + i / 1e5) + (i % 13) / 1000!r}',
                f'"step": {step}',
            ]
        body = ("," + sep).join(pad + f for f in fields)
        entries.append("{" + sep + body + end + "}")
    entries.append(
        "{" + sep + pad + '"step": ' + str(10 * n) + ", " + '"train_loss": 1.25, '
        '"train_runtime": 99.5, "train_samples_per_second": 12.0' + end + "}"
    )
    joiner = ",\n    " if indent else ","
    head = '{\n  "best_metric": null,\n  "epoch": 3.0,\n  "log_history": [\n    '
    tail = '\n  ],\n  "max_steps": %d,\n  "stateful_callbacks": {"a": {"b": [1, {"c": null}]}}\n}\n'
    if not indent:
        head, tail = '{"best_metric":null,"epoch":3.0,"log_history":[', '],"max_steps":%d}'
    return (head + joiner.join(entries) + tail % (10 * n)).encode()


def distinct_keys_jsonl(n: int) -> bytes:
    """``n`` JSONL lines, each with a metric name of its own (``{"k17": 7}``)."""
    return "".join(f'{{"k{i}": {i % 10}}}\n' for i in range(n)).encode()
