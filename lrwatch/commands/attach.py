"""``lrwatch attach TARGET``: the live UI fed by a run's control socket (no shared filesystem).

TARGET is a Unix socket (``/path/exp.sock`` or ``unix:/path``) or ``tcp://HOST:PORT`` with a
token (``--token`` or ``$LRWATCH_TOKEN``), e.g. through ``ssh -L 7000:localhost:7000 gpu-box``.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from lrwatch.commands._args import add_rules_argument
from lrwatch.commands._autopilot_args import add_autopilot_arguments, ui_bounds


def register(subparsers: Any) -> None:
    """Add the ``attach`` subcommand."""
    p = subparsers.add_parser(
        "attach",
        help="open the UI on a run's control socket (Unix or tcp+token)",
        description="Stream a run's records over its control socket and control its LR, "
        "without access to its log file (for ssh -L forwarding).",
    )
    p.add_argument("target", help="unix:/path/exp.sock, /path/exp.sock or tcp://HOST:PORT")
    p.add_argument("--token", default=None, help="TCP token (default: $LRWATCH_TOKEN)")
    add_rules_argument(p)
    add_autopilot_arguments(p, ui=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Open the UI on the socket's ``subscribe`` stream; returns the exit code."""
    from lrwatch.commands.watch import load_rules
    from lrwatch.tui.app import LRWatchApp

    token = args.token or os.environ.get("LRWATCH_TOKEN")
    app = LRWatchApp(
        attach=args.target,
        token=token,
        rules_config=load_rules(args.rules),
        autopilot=ui_bounds(args, "attach"),
    )
    app.run()
    return int(app.return_code or 0)
