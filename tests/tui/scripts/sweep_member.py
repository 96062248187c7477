"""One member of a sweep, for the runs table's tests (run as a separate process).

    python sweep_member.py LOG --steps N [--lr X] [--crash-at K] [--diverge-at K]
        [--hold FILE] [--control unix|none]

Logs through the real ``lrwatch.Monitor`` (no torch: metrics only): a loss that falls, or that
blows up to NaN from ``--diverge-at`` on; ``--crash-at`` raises (the Monitor writes an ``end``
record with status ``crashed``); ``--hold`` keeps the run alive after ``--steps`` until FILE
exists (a live run, with a control socket when ``--control unix``).
"""

from __future__ import annotations

import argparse
import math
import os
import time

import lrwatch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--crash-at", type=int, default=None)
    ap.add_argument("--diverge-at", type=int, default=None)
    ap.add_argument("--hold", default=None)
    ap.add_argument("--control", default="none")
    args = ap.parse_args()
    with lrwatch.Monitor(log=args.log, control=args.control, handle_signals=False) as mon:
        step = 0
        while step < args.steps or (args.hold and not os.path.exists(args.hold)):
            loss = 2.0 * math.exp(-step / 80) + 0.3 + 0.01 * math.sin(step)
            if args.diverge_at is not None and step >= args.diverge_at:
                grown = loss * 3.0 ** (step - args.diverge_at)
                loss = grown if grown < 1e30 else math.nan
            mon.log(step, loss=loss, lr=args.lr)
            if args.crash_at is not None and step == args.crash_at:
                raise RuntimeError("deliberate crash")
            step += 1
            if step >= args.steps:
                time.sleep(0.02)  # holding: a live run that logs slowly


if __name__ == "__main__":
    main()
