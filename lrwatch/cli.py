"""The ``lrwatch`` command line: one subcommand per module in :mod:`lrwatch.commands`.

Each command module exposes ``register(subparsers)`` and keeps heavy imports (textual, torch)
inside its run function, so ``lrwatch --help`` and headless commands start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lrwatch._version import __version__

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = (
    "watch",
    "attach",
    "run",
    "inspect",
    "diagnose",
    "plot",
    "guard",
    "ctl",
    "serve",
    "demo",
    "find_lr",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (commands whose module is absent are left out)."""
    parser = argparse.ArgumentParser(
        prog="lrwatch",
        description="Watch a training run live, diagnose its learning rate, fix it while it runs.",
    )
    parser.add_argument("--version", action="version", version=f"lrwatch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"lrwatch.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"lrwatch.commands.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``lrwatch`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `lrwatch inspect ... | head`: the reader went away; that is not an error.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
