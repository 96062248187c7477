"""Feed mutated inputs to the parsers in a worker process: crashes, hangs, memory.

    python -m benchmarks.fuzz_lib.parsefuzz SEED START COUNT [SKIP]    # the worker

The worker parses inputs ``START .. START+COUNT-1`` of corpus ``SEED`` (see ``inputs``), each
fed in the chunk sizes a tailer might use and then whole, and prints one JSON line per input:
records, skipped, whether the two feedings disagreed, or the traceback of an exception that
escaped ``feed``/``flush``. :func:`fuzz_inputs` runs it and waits for each line with a
deadline: an input with no line by then is a hang (the worker is killed and restarted after
it); a worker that dies mid-input is a crash. A format that hangs ``max_hangs`` times is not
fed the rest of its inputs (each hang costs the whole deadline).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.fuzz_lib.inputs import FuzzInput, chunk_sizes, make_input
from lrwatch.formats import make_parser
from lrwatch.records import Event, Metrics

ROOT = Path(__file__).resolve().parents[2]
#: Seconds one input may take before it counts as a hang (inputs are at most 4 MiB; the
#: slowest takes about 1 s here).
INPUT_DEADLINE_S = 30.0


def feed(inp: FuzzInput, sizes: list[int] | None) -> tuple[list[Any], int]:
    """Feed ``inp`` in ``sizes`` chunks (cycled; whole when None), flush; records, skipped."""
    parser = make_parser(inp.fmt)
    out: list[Any] = []
    data = inp.data
    if not sizes:
        out += parser.feed(data)
    else:
        pos, i = 0, 0
        while pos < len(data):
            n = sizes[i % len(sizes)]
            out += parser.feed(data[pos : pos + n])
            pos, i = pos + n, i + 1
    out += parser.flush()
    return out, parser.skipped


def canon(records: list[Any]) -> list[tuple[Any, ...]]:
    """Records as comparable tuples (floats by repr, so NaN equals NaN)."""
    out: list[tuple[Any, ...]] = []
    for r in records:
        if isinstance(r, Metrics):
            vals = tuple(sorted((k, repr(float(v))) for k, v in r.values.items()))
            out.append(("m", r.step, vals, repr(r.t)))
        elif isinstance(r, Event):
            out.append(("e", r.kind, repr(r.data), r.step, repr(r.t)))
        else:
            out.append(("?", type(r).__name__))
    return out


def parse_one(inp: FuzzInput, sizes: list[int]) -> dict[str, Any]:
    """Parse one input chunked and whole; raises whatever a parser lets escape."""
    small = min(sizes)
    if small * 4096 < len(inp.data):  # 1-byte reads of megabytes would only measure Python
        sizes = [max(n, len(inp.data) // 4096) for n in sizes]
    chunked, skipped = feed(inp, sizes)
    whole, skipped_whole = feed(inp, None)
    bad = [r for r in chunked if not isinstance(r, Metrics | Event)]
    return {
        "records": len(chunked),
        "skipped": skipped,
        "mismatch": canon(chunked) != canon(whole) or skipped != skipped_whole,
        "bad_type": type(bad[0]).__name__ if bad else None,
    }


def vm(key: str) -> int:
    """A ``/proc/self/status`` memory figure (VmRSS, VmHWM) in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def worker(seed: int, start: int, count: int, skip: frozenset[str] = frozenset()) -> None:
    """Parse inputs ``start..start+count-1`` (not those of formats in ``skip``), one JSON line
    each, then the memory figures."""
    print(json.dumps({"start": True, "rss": vm("VmRSS")}), flush=True)
    for i in range(start, start + count):
        inp = make_input(seed, i)
        if inp.fmt in skip:
            continue
        line: dict[str, Any] = {"i": i, "fmt": inp.fmt, "size": len(inp.data)}
        t0 = time.perf_counter()
        try:
            line.update(parse_one(inp, chunk_sizes(seed, i)))
        except Exception:
            line["crash"] = traceback.format_exc(limit=6)[-1500:]
        line["s"] = round(time.perf_counter() - t0, 4)
        line["rss"] = vm("VmRSS")
        print(json.dumps(line), flush=True)
    print(json.dumps({"done": True, "hwm": vm("VmHWM"), "rss": vm("VmRSS")}), flush=True)


@dataclass
class InputReport:
    """What the parsers did with the corpus."""

    inputs: Counter[str] = field(default_factory=Counter)
    crashes: Counter[str] = field(default_factory=Counter)
    hangs: Counter[str] = field(default_factory=Counter)
    not_run: Counter[str] = field(default_factory=Counter)  #: after its format hung too often
    mismatches: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    failures: list[dict[str, Any]] = field(default_factory=list)
    bytes_in: int = 0
    slowest: tuple[float, int] = (0.0, -1)
    rss_start: int = 0  #: worker RSS after imports
    rss_peak: int = 0  #: worker VmHWM (largest over restarts)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """No crash, no hang and no chunking mismatch."""
        return not (
            sum(self.crashes.values()) or sum(self.hangs.values()) or sum(self.mismatches.values())
        )


def _spawn(seed: int, start: int, count: int, skip: set[str]) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    cmd = [sys.executable, "-m", "benchmarks.fuzz_lib.parsefuzz", str(seed), str(start)]
    cmd += [str(count), ",".join(sorted(skip))]
    return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE)


class PipeLines:
    """Lines from the worker's stdout, each awaited with a deadline.

    Reads the file descriptor directly: a buffered ``readline`` after ``select`` would leave
    lines in Python's buffer where ``select`` cannot see them, and wait out the deadline.
    """

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self.fd = proc.stdout.fileno()
        self.buf = b""

    def next(self, deadline: float) -> dict[str, Any] | None:
        """The next line as JSON; None when the worker died or the deadline passed."""
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            data = os.read(self.fd, 1 << 16)
            if not data:
                return None
            self.buf += data
        line, _, self.buf = self.buf.partition(b"\n")
        return json.loads(line)


def _failure(report: InputReport, seed: int, i: int, problem: str) -> None:
    inp = make_input(seed, i)
    report.failures.append(
        {"index": i, "fmt": inp.fmt, "source": inp.source, "mutations": inp.mutations}
        | {"size": len(inp.data), "problem": problem}
    )


def _account(report: InputReport, seed: int, line: dict[str, Any]) -> None:
    fmt, i = line["fmt"], line["i"]
    report.inputs[fmt] += 1
    report.bytes_in += line["size"]
    report.slowest = max(report.slowest, (line["s"], i))
    if "crash" in line:
        report.crashes[fmt] += 1
        _failure(report, seed, i, "exception: " + line["crash"])
        return
    report.records[fmt] += line["records"]
    if line["mismatch"]:
        report.mismatches[fmt] += 1
        _failure(report, seed, i, "chunked and whole feeding gave different records or skips")
    if line["bad_type"]:
        report.crashes[fmt] += 1
        _failure(report, seed, i, f"returned a {line['bad_type']}")


def fuzz_inputs(
    n: int,
    seed: int,
    deadline_s: float = INPUT_DEADLINE_S,
    max_hangs: int = 3,
    say: Callable[[str], None] = lambda s: None,
) -> InputReport:
    """Run inputs ``0..n-1`` of corpus ``seed`` through a worker, restarting it after a hang."""
    report, t0, i, skip = InputReport(), time.monotonic(), 0, set()
    while i < n:
        proc = _spawn(seed, i, n - i, skip)
        lines = PipeLines(proc)
        head = lines.next(time.monotonic() + 120)
        report.rss_start = report.rss_start or (head or {}).get("rss", 0)
        i = _drain(proc, lines, report, seed, (i, n), deadline_s, skip)
        if i >= n:
            tail = lines.next(time.monotonic() + deadline_s)
            report.rss_peak = max(report.rss_peak, (tail or {}).get("hwm", 0))
        proc.kill()
        proc.wait()
        skip |= {fmt for fmt, count in report.hangs.items() if count >= max_hangs}
        if i % 500 == 0 or i >= n:
            say(f"  {i}/{n} inputs")
    for j in range(n):
        fmt = make_input(seed, j).fmt
        report.not_run[fmt] += fmt in skip
    report.not_run -= report.inputs
    report.seconds = time.monotonic() - t0
    return report


def _drain(
    proc: subprocess.Popen[bytes],
    lines: PipeLines,
    report: InputReport,
    seed: int,
    span: tuple[int, int],
    deadline_s: float,
    skip: set[str],
) -> int:
    """Account the worker's lines for inputs ``span``; the next input to run."""
    i, n = span
    while i < n:
        if make_input(seed, i).fmt in skip:
            i += 1
            continue
        line = lines.next(time.monotonic() + deadline_s)
        if line is None:
            dead = proc.poll() is not None
            problem = f"worker died (exit {proc.returncode})" if dead else "hang"
            fmt = make_input(seed, i).fmt
            (report.crashes if dead else report.hangs)[fmt] += 1
            report.inputs[fmt] += 1
            _failure(report, seed, i, f"{problem} (no result within {deadline_s:g} s)")
            return i + 1
        _account(report, seed, line)
        i = line["i"] + 1
    return i


if __name__ == "__main__":
    skipped = frozenset(f for f in (sys.argv[4] if len(sys.argv) > 4 else "").split(",") if f)
    worker(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), skipped)
