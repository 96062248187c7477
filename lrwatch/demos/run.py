"""``python -m lrwatch.demos.run NAME --log DIR``: the training side of ``lrwatch demo``.

Runs in its own process, like a user's training job, so the UI attaches to it through the
logs and control sockets its ``lrwatch.Monitor`` objects open.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from lrwatch.demos.registry import SCENARIOS, get


def parse(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the runner's arguments."""
    p = argparse.ArgumentParser(prog="python -m lrwatch.demos.run")
    p.add_argument("name", choices=list(SCENARIOS))
    p.add_argument("--log", required=True, help="directory (or FILE.jsonl) for the runs' logs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--pace", type=float, default=None, help="steps per second (0: no pause)")
    p.add_argument("--progress", type=int, default=0, help="print progress every N steps")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument(
        "--parent",
        type=int,
        default=None,
        help="stop when this process (the demo's UI) is gone: killed with its terminal "
        "(SIGHUP over a dropped SSH session) it cannot stop us itself",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one scenario to the end; exit code 0."""
    args = parse(argv)
    import torch

    torch.set_num_threads(max(1, args.threads))
    from lrwatch.demos.runner import run_scenario

    paths = run_scenario(
        get(args.name),
        args.log,
        seed=args.seed,
        steps=args.steps,
        pace=args.pace,
        out=lambda line: print(line, flush=True),
        progress_every=args.progress,
        alive=(lambda: os.getppid() == args.parent) if args.parent else None,
    )
    for label, path in paths.items():
        print(f"log {label}: {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
