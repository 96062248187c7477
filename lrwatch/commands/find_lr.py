"""``lrwatch find-lr``: the LR range test on a demo model, charted in the terminal.

Runs :func:`lrwatch.find_lr` on the ``range-test`` demo's network (a small MLP classifier on
seeded synthetic data, SGD with momentum) and prints loss vs LR on a log axis with both
suggestions marked. ``--log PATH`` writes the sweep as JSONL; ``--ui`` opens it in the UI
(the step axis is log-spaced in LR there). For your own model call ``lrwatch.find_lr``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``find-lr`` subcommand."""
    p = subparsers.add_parser(
        "find-lr",
        help="LR range test on a demo model (use lrwatch.find_lr on your own)",
        description="Sweep the LR exponentially on a small demo network, stop at divergence, "
        "and suggest an LR (steepest descent and fastai's valley rule).",
    )
    p.add_argument("--start-lr", type=float, default=1e-7)
    p.add_argument("--end-lr", type=float, default=10.0)
    p.add_argument("--num-iter", type=int, default=100)
    p.add_argument("--smooth", type=float, default=0.98)
    p.add_argument("--diverge", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--log", default=None, metavar="FILE", help="write the sweep as JSONL")
    p.add_argument("--ui", action="store_true", help="open the sweep in the UI afterwards")
    p.set_defaults(func=run, command_name="find-lr")


def render_curve(
    lrs: list[float],
    losses: list[float],
    marks: dict[str, float],
    width: int = 64,
    height: int = 14,
) -> str:
    """Loss vs LR (log x) as text; each suggestion marked by its initial in a column."""
    pts = [(math.log10(x), y) for x, y in zip(lrs, losses, strict=True) if math.isfinite(y)]
    if len(pts) < 2:
        return "(too few points to chart)"
    x0, x1 = pts[0][0], pts[-1][0]
    ys = sorted(y for _, y in pts)
    lo, hi = ys[0], ys[min(len(ys) - 1, int(0.95 * len(ys)))]  # clip the blow-up's tail
    hi = hi if hi > lo else lo + 1.0
    grid = [[" "] * width for _ in range(height)]
    col = lambda x: min(width - 1, int((x - x0) / max(x1 - x0, 1e-12) * (width - 1)))  # noqa: E731
    for x, y in pts:
        row = int((min(y, hi) - lo) / (hi - lo) * (height - 1))
        grid[height - 1 - row][col(x)] = "•"
    for name, lr in marks.items():
        c = col(math.log10(lr))
        for r in range(height):
            if grid[r][c] == " ":
                grid[r][c] = "│" if r else name[0]
    lines = [f"{hi:>9.3g} ┤" + "".join(grid[0])]
    lines += ["          │" + "".join(row) for row in grid[1:-1]]
    lines.append(f"{lo:>9.3g} ┤" + "".join(grid[-1]))
    lines.append("          └" + "─" * width)
    left, right = f"{10**x0:.0e}", f"{10**x1:.0e}"
    lines.append("           " + left + " " * max(1, width - len(left) - len(right)) + right)
    lines.append("           learning rate (log scale); smoothed loss")
    return "\n".join(lines)


def _demo_problem(seed: int) -> tuple[Any, list[Any]]:
    """The ``range-test`` demo's network and 32 of its mini-batches (torch stays in demos)."""
    from lrwatch.demos.base import make_classification, minibatches, mlp

    x, y = make_classification(2048, 20, 4, seed)
    model = mlp(20, 64, 4, seed)
    it = minibatches((x, y), 64, seed)
    return model, [next(it) for _ in range(32)]


def run(args: argparse.Namespace) -> int:
    """Run the sweep and print (and chart) it; 0 on success, 2 on bad arguments."""
    from lrwatch.train.classifier_sweep import sgd_classifier_sweep

    try:
        result = sgd_classifier_sweep(
            lambda: _demo_problem(args.seed),
            lr=0.01,
            momentum=0.9,
            threads=1,
            start_lr=args.start_lr,
            end_lr=args.end_lr,
            num_iter=args.num_iter,
            smooth=args.smooth,
            diverge=args.diverge,
        )
    except ValueError as exc:
        print(f"lrwatch find-lr: {exc}", file=sys.stderr)
        return 2
    if args.log or args.ui:
        log = Path(args.log or "runs/find-lr.jsonl")
        _write_log(log, result)
    if args.json:
        print(json.dumps(_as_dict(result)))
    else:
        print(render_curve(result.lrs, result.losses, result.suggestions))
        stop = "diverged" if result.diverged else "reached end_lr"
        print(f"\n{len(result.lrs)} iterations, {stop} at LR {result.lrs[-1]:.3g}")
        for name, lr in result.suggestions.items():
            print(f"suggested LR ({name}): {lr:.3g}")
        print("model and optimizer restored to their state before the sweep")
    if args.ui:
        from lrwatch.tui.app import LRWatchApp

        LRWatchApp(paths=[str(log)], follow=False).run()
    return 0


def _as_dict(result: Any) -> dict[str, Any]:
    return {
        "lrs": result.lrs,
        "losses": result.losses,
        "raw_losses": result.raw_losses,
        "diverged": result.diverged,
        "suggestions": result.suggestions,
    }


def _write_log(path: Path, result: Any) -> None:
    from lrwatch.records import encode_metrics

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fh.write(
            json.dumps({"kind": "run", "v": 1, "run": path.stem, "lr": [result.lrs[0]]}) + "\n"
        )
        for i, (lr, raw, smooth) in enumerate(
            zip(result.lrs, result.raw_losses, result.losses, strict=True), start=1
        ):
            fh.write(encode_metrics(i, {"loss": raw, "loss_smoothed": smooth, "lr": lr}) + "\n")
        for name, lr in result.suggestions.items():
            fh.write(
                json.dumps({"kind": "note", "text": f"suggested LR ({name}): {lr:.3g}"}) + "\n"
            )
        fh.write(json.dumps({"kind": "end", "status": "finished"}) + "\n")
