"""``lrwatch plot LOG... -o FILE.svg|.png|.html``: a static picture of runs, for CI and PRs.

The logs are read and judged as ``lrwatch diagnose`` does (the same engine, the same
findings), then drawn from the store's min/max reduction: loss raw and smoothed, val loss, the
LR on a log axis, grad norm, LR-change and rewind markers, NaN/Inf marks and the findings at
their steps (docs/plot.md). Several logs overlay. The format comes from the file's suffix:
``.svg`` (pure), ``.png`` (needs Pillow: ``pip install 'lrwatch[png]'``), ``.html`` (one
self-contained page with the picture, the findings and the ``inspect`` summary).

Exit 0 when the file is written, 2 on usage or input errors (unknown suffix, missing or
unreadable log, no Pillow for a PNG, a file that cannot be written), 3 when a run gave no
training loss (the picture is still written, and says so).
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Any

from lrwatch.commands._args import (
    add_format_argument,
    add_loss_arguments,
    add_paths_argument,
    add_regex_argument,
    add_rules_argument,
    format_of,
    int_in,
    source_options,
)

#: Exit codes (as ``diagnose``'s).
OK, USAGE, NO_LOSS = 0, 2, 3


def register(subparsers: Any) -> None:
    """Add the ``plot`` subcommand."""
    p = subparsers.add_parser(
        "plot",
        help="draw a picture of runs (SVG, PNG or a self-contained HTML report) for CI and PRs",
        description="Read logs, run the rule engine as diagnose does, and draw loss, LR and "
        "grad norm with LR changes, rewinds, NaN/Inf marks and the findings.",
    )
    add_paths_argument(p)
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="FILE",
        help="the file to write: .svg, .png (pip install 'lrwatch[png]') or .html",
    )
    p.add_argument(
        "--theme",
        choices=("dark", "light", "auto"),
        default=None,
        help="colours: dark (default for .svg/.png) or light; auto (default for .html) follows "
        "the browser's prefers-color-scheme. NO_COLOR set: monochrome",
    )
    p.add_argument(
        "--width",
        type=int_in(200, 10_000, " px"),
        default=1200,
        help="width in pixels (default 1200)",
    )
    p.add_argument(
        "--height",
        type=int_in(200, 10_000, " px"),
        default=0,
        help="height in pixels (default: by the panels)",
    )
    p.add_argument(
        "--smoothing",
        type=_beta,
        default=0.9,
        metavar="BETA",
        help="EMA weight of the smoothed loss, 0 to 0.999 (default 0.9, as the UI)",
    )
    add_rules_argument(p)
    add_format_argument(p)
    add_loss_arguments(p)
    add_regex_argument(p)
    p.set_defaults(func=run)


def _beta(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"{value}: give 0 (off) to 0.999")
    return value


def run(args: argparse.Namespace) -> int:
    """Read, judge and draw; see the module docstring for exit codes."""
    from lrwatch.commands._report import PictureOptions, format_of_path, write_picture
    from lrwatch.commands.diagnose import diagnose_paths
    from lrwatch.picture.png import PngUnavailable
    from lrwatch.rules import ConfigError, load_config
    from lrwatch.sources.errors import SourceError
    from lrwatch.store import MetricStore

    fmt = format_of_path(args.output)
    if fmt is None:
        return _error(f"{args.output}: the file name must end in .svg, .png or .html")
    store = MetricStore()
    try:
        config = load_config(args.rules)
        options = source_options(args, config)
        results = diagnose_paths(list(args.paths), format_of(args), config, store=store, **options)
    except (ConfigError, SourceError, re.error) as exc:
        return _error(str(exc))
    opts = PictureOptions(args.theme, args.width, args.height, args.smoothing)
    try:
        scene = write_picture(args.output, store, results, fmt, opts)
    except PngUnavailable as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"cannot write {args.output}: {exc}")
    panels = "/".join(p.name for p in scene.panels)
    found = sum(len(r["findings"]) for r in results)
    runs = f"{len(results)} run{'s' * (len(results) != 1)}"
    print(f"wrote {args.output}: {runs}, panels {panels}, {found} finding{'s' * (found != 1)}")
    missing = [r["name"] for r in results if r["loss"] is None]
    for name in missing:
        print(f"lrwatch plot: {name}: no training loss found (see lrwatch inspect; --loss NAME, "
              "--regex)", file=sys.stderr)  # fmt: skip
    return NO_LOSS if missing else OK


def _error(text: str) -> int:
    print(f"lrwatch plot: error: {text}", file=sys.stderr)
    return USAGE
