"""The fuzz suite at full size: mutated logs for every parser, malformed control messages to a
live training process over every transport (issue 17).

    python benchmarks/fuzz.py [--inputs 2100] [--messages 1000] [--seed 17] [--only inputs]

Prints, per format, inputs / crashes / hangs / chunking mismatches and the parser worker's
peak RSS; per transport, messages and correct answers; then the end checks on the trainee
(alive, unchanged LR, bitwise twin losses, clean exit, whole log, RSS growth) and every
failure with what reproduces it. Saves ``benchmarks/out/fuzz.json``. Exit 1 on any crash,
hang, chunking mismatch (the parser contract: any chunking gives the same records and skip
count), wrong or missing reply, failed end check or memory over its bound.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.common import loadavg, out_dir
from benchmarks.fuzz_lib.ctlrun import RSS_GROWTH_MAX, TRANSPORTS, CtlReport, fuzz_control
from benchmarks.fuzz_lib.messages import corpus
from benchmarks.fuzz_lib.parsefuzz import InputReport, fuzz_inputs
from lrwatch.formats import FORMATS

#: The parser worker may grow this much over its own start (inputs are at most 4 MiB).
PARSER_RSS_GROWTH_MAX = 256 << 20
MiB = 1 << 20


def print_inputs(rep: InputReport) -> list[str]:
    """The per-format table; the problems that fail the run."""
    print(f"\nParsers: {sum(rep.inputs.values())} mutated inputs, {rep.bytes_in / MiB:.0f} MiB,")
    print(f"{rep.seconds:.0f} s; slowest input {rep.slowest[0]:.2f} s (#{rep.slowest[1]})")
    print("| format | inputs | crashes | hangs | chunking mismatches | records | not run |")
    print("|---|---|---|---|---|---|---|")
    for fmt in sorted(FORMATS):
        cells = [rep.inputs[fmt], rep.crashes[fmt], rep.hangs[fmt], rep.mismatches[fmt]]
        cells += [rep.records[fmt], rep.not_run[fmt]]
        print(f"| {fmt} | " + " | ".join(str(c) for c in cells) + " |")
    growth = rep.rss_peak - rep.rss_start
    print(f"worker RSS: {rep.rss_start / MiB:.0f} MiB after imports, peak {rep.rss_peak / MiB:.0f}")
    problems = [f"parser {f['fmt']} #{f['index']}: {f['problem']}" for f in rep.failures]
    if growth > PARSER_RSS_GROWTH_MAX:
        problems.append(f"parser worker grew by {growth / MiB:.0f} MiB")
    return problems


def print_control(rep: CtlReport, n: int) -> list[str]:
    """The per-transport table and end checks; the problems that fail the run."""
    print(f"\nControl: {n} messages over each transport to one live trainee, {rep.seconds:.0f} s")
    print("| transport | sent | answered correctly | wrong or missing | hangs |")
    print("|---|---|---|---|---|")
    for t in TRANSPORTS:
        wrong = rep.sent[t] - rep.answered[t]
        print(f"| {t} | {rep.sent[t]} | {rep.answered[t]} | {wrong} | {rep.hangs[t]} |")
    mem = rep.rss
    if "after" in mem:
        print(
            f"trainee RSS {mem['before'] / MiB:.1f} -> {mem['after'] / MiB:.1f} MiB "
            f"(bound +{RSS_GROWTH_MAX / MiB:.0f}), VmHWM {mem['hwm_before'] / MiB:.1f} -> "
            f"{mem['hwm_after'] / MiB:.1f} MiB; {rep.steps} steps, losses compared with the twin"
        )
    print("end checks: " + ("all passed" if not rep.end_problems else "FAILED"))
    problems = [
        f"{f.transport} #{f.index} {f.kind} {f.line[:80]}: {f.problem}" for f in rep.failures
    ]
    return problems + [f"end: {p}" for p in rep.end_problems]


def plain(report: InputReport | CtlReport) -> dict:
    """A report as JSON-able data (``asdict`` would turn a Counter's items into keys)."""
    out = {k: dict(v) if isinstance(v, Counter) else v for k, v in vars(report).items()}
    out["failures"] = [f if isinstance(f, dict) else asdict(f) for f in report.failures]
    return out | {"ok": report.ok}


def main() -> int:
    """Run both fuzzers; exit 1 on any failure."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", type=int, default=2100, help="mutated parser inputs (≥ 2000)")
    ap.add_argument("--messages", type=int, default=1000, help="control messages per transport")
    ap.add_argument("--seed", type=int, default=17)
    ap.add_argument("--only", choices=["inputs", "control"], default=None)
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows as it comes, even piped
    t0, load0 = time.monotonic(), loadavg()[0]
    result: dict = {"seed": args.seed}
    problems: list[str] = []
    if args.only != "control":
        rep = fuzz_inputs(args.inputs, args.seed, say=print)
        problems += print_inputs(rep)
        result["inputs"] = plain(rep)
    if args.only != "inputs":
        with tempfile.TemporaryDirectory(prefix="lrwatch-fuzz-") as work:
            crep = fuzz_control(Path(work), corpus(args.messages, args.seed), say=print)
        problems += print_control(crep, args.messages)
        result["control"] = plain(crep)
    wall = time.monotonic() - t0
    print(f"\n{len(problems)} failures; {wall:.0f} s; load {load0:.2f} -> {loadavg()[0]:.2f}")
    for p in problems[:60]:
        print("  " + p)
    result.update(problems=problems, seconds=round(wall, 1))
    (out_dir() / "fuzz.json").write_text(json.dumps(result, indent=1, default=str))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
