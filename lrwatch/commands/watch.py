"""``lrwatch watch PATH... | -``: the live UI over log files, directories, globs or stdin."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from lrwatch.commands._args import (
    add_loss_arguments,
    add_regex_argument,
    add_rules_argument,
    format_of,
    source_options,
)
from lrwatch.commands._autopilot_args import add_autopilot_arguments, ui_bounds


def register(subparsers: Any) -> None:
    """Add the ``watch`` subcommand."""
    p = subparsers.add_parser(
        "watch",
        help="watch training logs live in the terminal UI",
        description="Follow logs (files, directories, globs, or - for stdin) and chart them live. "
        "When a log names a control socket, LR changes can be made from the UI.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="log file, directory, glob, or -")
    p.add_argument(
        "--format", dest="fmt", default=None, help="force a log format (default: detect)"
    )
    add_rules_argument(p)
    add_loss_arguments(p)
    add_regex_argument(p)
    p.add_argument(
        "--no-follow", action="store_true", help="read the logs once instead of following them"
    )
    add_autopilot_arguments(p, ui=True)
    p.set_defaults(func=run)


def load_rules(path: str | None) -> Any:
    """The rule config from ``--rules`` (None: the engine's defaults)."""
    if not path:
        return None
    from lrwatch.rules import load_config

    return load_config(path)


def run(args: argparse.Namespace) -> int:
    """Open the UI on ``args.paths``; returns the exit code."""
    paths: list[str] = list(args.paths)
    stdin_fd = None
    if "-" in paths and not sys.stdin.isatty():
        # The UI needs the terminal for keys: read the pipe from a duplicate descriptor.
        stdin_fd = os.dup(0)
        _reopen_tty()
    from lrwatch.tui.app import LRWatchApp

    rules = load_rules(args.rules)
    pilot = ui_bounds(args, "watch")
    app = LRWatchApp(
        paths=paths,
        fmt=format_of(args),
        follow=not args.no_follow,
        rules_config=rules,
        stdin_fd=stdin_fd,
        source_options=source_options(args, rules),
        autopilot=pilot,
    )
    app.run()
    return int(app.return_code or 0)


def _reopen_tty() -> None:
    try:
        tty = os.open("/dev/tty", os.O_RDONLY)
    except OSError:
        return
    os.dup2(tty, 0)
    os.close(tty)
