"""The runs-table benchmark's data (issue 14): a generated sweep of JSONL logs, and a writer
process that appends to some of them live. Used by ``bench_runs.py`` and ``runs_cases.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from io import BytesIO
from pathlib import Path

import numpy as np

T0 = 1_732_890_000.0
#: How each member ends, by index mod 10: 6 finished, 1 crashed, 3 without an end record.
ENDINGS = ("finished",) * 6 + ("crashed",) + (None,) * 3
LINE_FMT = b'{"step": %d, "t": %.3f, "loss": %.6g, "lr": %.6g, "grad_norm": %.6g}'


# -- the corpus -----------------------------------------------------------------------------


def template(points: int, seed: int, start: int = 0) -> bytes:
    """``points`` metric lines (step, t, loss, lr, grad_norm) of one made-up run shape.

    Values are computed as numpy columns and formatted row-wise by ``np.savetxt``; some
    shapes diverge near the end (loss and grad norm climb), and a few hold NaNs, so the
    rules have something to find.
    """
    rng = np.random.default_rng(seed)
    steps = np.arange(start, start + points, dtype=np.float64)
    n = max(points + start, 1)
    base_lr = 10 ** rng.uniform(-4.5, -2.5)
    lr = base_lr * 0.5 * (1 + np.cos(np.pi * steps / n))
    loss = 0.5 + 2.5 * np.exp(-steps / (n / 4)) + rng.normal(0, 0.03, points)
    gn = np.abs(rng.normal(1.0, 0.2, points))
    if seed % 4 == 3:  # diverges over the last tenth
        tail = steps > 0.9 * n
        grow = np.exp((steps[tail] - 0.9 * n) / (0.02 * n))
        loss[tail] *= grow
        gn[tail] *= grow
    if seed % 5 == 4:
        loss[rng.integers(0, points, 3)] = np.nan
    cols = np.column_stack([steps, T0 + steps * 0.1, loss, lr, gn])
    buf = BytesIO()
    np.savetxt(buf, cols, fmt=LINE_FMT.decode())
    return buf.getvalue().replace(b"nan", b"NaN")


def member_name(i: int) -> str:
    return f"lr{i:04d}"


def make_sweep(
    root: Path, runs: int, points: int, templates: int = 16, endings: bool = True
) -> Path:
    """``root/lrNNNN/train.jsonl`` for ``runs`` members of ``points`` lines each.

    ``templates`` distinct bodies are generated once; each member is its own header (name,
    LR) + one body + its ending (``ENDINGS``; ``endings=False``: none, all may be live).
    Files are dated an hour back, as a sweep found after the fact.
    """
    bodies = [template(points, seed) for seed in range(templates)]
    old = time.time() - 3600
    for i in range(runs):
        d = root / member_name(i)
        d.mkdir(parents=True, exist_ok=True)
        header = {"kind": "run", "v": 1, "run": member_name(i), "t": T0, "lr": [1e-3 * (i + 1)]}
        end = ENDINGS[i % len(ENDINGS)] if endings else None
        path = d / "train.jsonl"
        with open(path, "wb") as fh:
            fh.write(json.dumps(header).encode() + b"\n")
            fh.write(bodies[i % templates])
            if end is not None:
                fh.write(json.dumps({"kind": "end", "status": end}).encode() + b"\n")
        os.utime(path, (old, old))
    return root


# -- the live writer (its own process) ------------------------------------------------------

WRITER = r"""
import json, signal, sys, time
paths, rate, start = sys.argv[3:], int(sys.argv[1]), int(sys.argv[2])
handles = [open(p, "a") for p in paths]
lines, t_begin, tick = 0, time.perf_counter(), 0.1
per_tick = rate * tick  # lines per file per tick (may be fractional: carried over)
owed = 0.0
stop = []
signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
step = start
while not stop:
    t = time.perf_counter()
    owed += per_tick
    k = int(owed)
    owed -= k
    now = time.time()
    for fh in handles:
        fh.write("".join(
            f'{{"step": {s}, "t": {now:.3f}, "loss": {1.0 / (1 + s * 1e-4)!r}, "lr": 0.0003, '
            f'"grad_norm": 1.0}}\n' for s in range(step, step + k)))
        fh.flush()
    lines += k * len(handles)
    step += k
    time.sleep(max(0.0, tick - (time.perf_counter() - t)))
print(json.dumps({"lines": lines, "seconds": time.perf_counter() - t_begin}), flush=True)
"""


def start_writer(paths: list[Path], rate: int, start: int) -> subprocess.Popen[str]:
    """Another process appending ``rate`` lines/s to each of ``paths`` (steps from ``start``)."""
    argv = [sys.executable, "-c", WRITER, str(rate), str(start), *map(str, paths)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)


def stop_writer(proc: subprocess.Popen[str]) -> dict[str, float]:
    """Stop the writer; what it wrote (lines, seconds)."""
    proc.terminate()
    out, _ = proc.communicate(timeout=30)
    return json.loads(out.strip().splitlines()[-1])
