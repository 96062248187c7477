"""Shared helpers for the benchmarks: timing, machine description, generated data, results."""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"


def out_dir() -> Path:
    """benchmarks/out/ (gitignored), created on demand: generated logs and results go here."""
    OUT.mkdir(parents=True, exist_ok=True)
    return OUT


def loadavg() -> tuple[float, float, float]:
    """1, 5 and 15 minute load averages (the machine is shared: record how busy it was)."""
    try:
        return os.getloadavg()
    except OSError:
        return (float("nan"),) * 3


def _version(dist: str) -> str | None:
    # Read from the installed metadata, not by importing: importing torch costs seconds and
    # every benchmark calls machine() when it saves its result.
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def machine() -> dict[str, Any]:
    """nproc, CPU model, memory, load, Python and library versions (what docs/benchmarks.md
    records with each result)."""
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        mem_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gib = None
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "mem_gib": mem_gib,
        "loadavg": [round(x, 2) for x in loadavg()],
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        **{
            dist: _version(dist)
            for dist in ("torch", "msgspec", "textual", "pandas", "tensorboard")
        },
        "platform": platform.platform(),
    }


def _timings(fn: Callable[[], Any], repeat: int, clock: Callable[[], float]) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return times


def best_of(
    fn: Callable[[], Any], repeat: int = 3, clock: Callable[[], float] = time.perf_counter
) -> float:
    """Best time of ``repeat`` calls (seconds): the least disturbed by a shared machine.
    Wall time by default; ``clock=time.process_time`` for this process's CPU time."""
    return min(_timings(fn, repeat, clock))


def median_of(fn: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``repeat`` calls (seconds)."""
    return statistics.median(_timings(fn, repeat, time.perf_counter))


def jsonl_metrics_lines(n: int, start: int = 0, nan_every: int = 997, seed: int = 0) -> bytes:
    """``n`` lrwatch JSONL metric records (step, t, loss, lr, grad_norm), some NaN."""
    rng = np.random.default_rng(seed)
    steps = np.arange(start, start + n)
    loss = 3.0 * np.exp(-steps / 2e5) + rng.normal(0, 0.02, n)
    lr = 3e-4 * np.minimum(1.0, (steps + 1) / 2000)
    gn = np.abs(rng.normal(1.0, 0.3, n))
    t0 = 1_732_890_000.0
    lines = []
    for i in range(n):
        s = int(steps[i])
        lo = "NaN" if s % nan_every == 0 else repr(float(loss[i]))
        g = "NaN" if s % (nan_every * 7) == 3 else repr(float(gn[i]))
        lines.append(
            f'{{"step": {s}, "t": {t0 + s * 0.05:.3f}, "loss": {lo}, "lr": {float(lr[i])!r}, '
            f'"grad_norm": {g}}}\n'
        )
    return "".join(lines).encode()


def write_jsonl_log(path: Path, n: int, chunk: int = 500_000) -> Path:
    """Write an ``n``-record lrwatch JSONL log (run header first) unless it already exists."""
    if path.exists() and path.stat().st_size > 0:
        return path
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as fh:
        fh.write(b'{"kind": "run", "v": 1, "run": "bench", "t": 1732890000.0}\n')
        for start in range(0, n, chunk):
            fh.write(jsonl_metrics_lines(min(chunk, n - start), start=start))
    tmp.rename(path)
    return path


def fmt_rate(x: float) -> str:
    """1234567.0 -> '1.23 M'."""
    if not math.isfinite(x):
        return str(x)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f} {unit}"
    return f"{x:.0f}"


def emit(name: str, results: dict[str, Any]) -> None:
    """Print results as JSON on the last line (run_all.py reads it) and save them to out/."""
    payload = {"bench": name, "machine": machine(), **results}
    (out_dir() / f"{name}.json").write_text(json.dumps(payload, indent=2))
    print(json.dumps(payload))


def read_runs_kwargs() -> tuple[str | None, dict[str, Any]]:
    """(fmt, options) for ``read_runs``: auto-detection, or the JSONL parser directly while
    the formats registry (``lrwatch.formats.make_parser``) is not there yet."""
    try:
        from lrwatch.formats import make_parser  # noqa: F401

        return None, {}
    except ImportError:
        from lrwatch.formats.jsonl import JsonlParser

        def factory(fmt: str, names: Any = None) -> Any:
            return JsonlParser(names)

        return "jsonl", {"parser_factory": factory}
