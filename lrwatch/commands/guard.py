"""``lrwatch guard LOG|DIR|GLOB|ENDPOINT...``: follow runs headless and alert on findings.

For a login node, ``tmux``, ``nohup`` or a systemd unit: runs are followed as ``watch`` and
``diagnose --follow`` follow them (control endpoints through their subscribe stream), the
rules run as records arrive, and every finding at or above ``--on`` (default: error) is said
on one line, and with ``--bell``, ``--exec CMD`` and ``--webhook URL``. A finding that keeps
coming back alerts at most once per ``--repeat`` seconds; its resolution is said once; a run's
end is said (``crashed`` is an error). Exit codes are ``diagnose``'s: 0, 1 when a finding (or
a crash) reached ``--on``, 2 on usage or input errors, 3 when a run gave no training loss —
once every run ended, or on Ctrl+C / SIGTERM. See docs/guard.md.

With ``--autopilot`` (its bounds: ``commands/_autopilot_args.py``) each finding's fix is also
applied to the live run, within the bounds, and said as an alert (``session/guard_pilot.py``;
docs/autopilot.md).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import signal
import stat
import sys
from typing import Any

from lrwatch.commands._args import (
    add_format_argument,
    add_loss_arguments,
    add_regex_argument,
    add_rules_argument,
    format_of,
    source_options,
)
from lrwatch.commands._autopilot_args import add_autopilot_arguments, bounds_of
from lrwatch.commands.diagnose import FAILED, NO_LOSS, OK, USAGE  # its exit codes are ours


def register(subparsers: Any) -> None:
    """Add the ``guard`` subcommand."""
    p = subparsers.add_parser(
        "guard",
        help="follow runs without a UI and alert on findings (line, bell, command, webhook)",
        description="Follow logs, directories, globs or control endpoints, run the rules as "
        "records arrive, and alert on every finding at or above --on. Exits like diagnose "
        "once every run ended (or on Ctrl+C / SIGTERM).",
    )
    p.add_argument(
        "paths",
        nargs="+",
        metavar="TARGET",
        help="log files, directories, globs, - for stdin, or control endpoints "
        "(unix:/path.sock, /path.sock, tcp://HOST:PORT)",
    )
    p.add_argument(
        "--on",
        choices=("info", "warning", "error"),
        default="error",
        help="alert on findings of this severity or worse (default: error); it is also the "
        "level that makes guard exit 1",
    )
    p.add_argument("--bell", action="store_true", help="ring the terminal bell on each alert")
    p.add_argument(
        "--exec",
        dest="exec_cmd",
        default=None,
        metavar="CMD",
        help="run this shell command per alert, the alert in LRWATCH_* variables and as JSON "
        "on stdin",
    )
    p.add_argument("--exec-timeout", type=float, default=30.0, metavar="S", help=argparse.SUPPRESS)
    p.add_argument("--webhook", default=None, metavar="URL", help="POST each alert to this URL")
    p.add_argument(
        "--webhook-format",
        choices=("json", "slack"),
        default="json",
        help="the POST body: the alert's JSON object (default), or slack's {\"text\": line}",
    )
    p.add_argument(
        "--repeat",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="a finding that comes back alerts at most once per SECONDS (default: 60; inf: once)",
    )
    p.add_argument("--token", default=None, help="TCP endpoints' token (default: $LRWATCH_TOKEN)")
    p.add_argument("--json", action="store_true", help="print one JSON object per alert")
    add_rules_argument(p)
    add_format_argument(p)
    add_loss_arguments(p)
    add_regex_argument(p)
    add_autopilot_arguments(p)
    p.set_defaults(func=run)


def is_endpoint(target: str) -> bool:
    """Whether ``target`` names a control endpoint rather than logs."""
    if target.startswith(("unix:", "tcp://")):
        return True
    try:
        return stat.S_ISSOCK(os.stat(target).st_mode)
    except OSError:
        return target.endswith(".sock")


def run(args: argparse.Namespace) -> int:
    """Guard the targets until every run ended; see the module docstring for exit codes."""
    from lrwatch.rules import ConfigError, load_config
    from lrwatch.session.alerts import AlertPolicy

    if math.isnan(args.repeat) or args.repeat < 0:
        print("lrwatch guard: error: --repeat must be ≥ 0", file=sys.stderr)
        return USAGE
    try:
        config = load_config(args.rules)
        options = source_options(args, config)
        args.bounds = bounds_of(args)  # None without --autopilot
    except (ConfigError, re.error, ValueError) as exc:
        print(f"lrwatch guard: error: {exc}", file=sys.stderr)
        return USAGE
    guard = _guard(args, config, options, AlertPolicy(args.on, args.repeat))
    previous = signal.signal(signal.SIGTERM, lambda *_: guard.stop())
    try:
        try:
            guard.run()
        except KeyboardInterrupt:
            guard.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)
        for sink in guard.alert_sinks:
            sink.close()
    if guard.problem:
        return USAGE
    if guard.reached(args.on):
        return FAILED
    return NO_LOSS if guard.without_loss() else OK


def _guard(args: argparse.Namespace, config: Any, options: dict[str, Any], policy: Any) -> Any:
    """The :class:`~lrwatch.session.guard.Guard` the flags ask for."""
    from lrwatch.session.alerts import AlertSink, BellSink, ExecSink, LineSink, WebhookSink
    from lrwatch.session.guard import Guard
    from lrwatch.session.session import Session

    def problem(text: str) -> None:
        print(f"lrwatch guard: {text}", file=sys.stderr, flush=True)

    line = LineSink(sys.stdout, as_json=args.json)
    sinks: list[AlertSink] = [line]
    if args.bell:
        sinks.append(BellSink(sys.stdout))
    if args.exec_cmd:
        sinks.append(ExecSink(args.exec_cmd, problem, timeout=args.exec_timeout))
    if args.webhook:
        sinks.append(WebhookSink(args.webhook, problem, fmt=args.webhook_format))
    targets: list[str] = list(args.paths)
    endpoints = [t for t in targets if t != "-" and is_endpoint(t)]
    paths = [t for t in targets if t not in endpoints]
    token = args.token or os.environ.get("LRWATCH_TOKEN")

    def session(emit: Any) -> Session:
        return Session(
            emit,
            paths=paths,
            fmt=format_of(args),
            token=token,
            rules_config=config,
            source_options=options,
        )

    plugins: list[Any] = []  # GuardSink plug-ins
    if getattr(args, "bounds", None) is not None:
        from lrwatch.session.guard_pilot import GuardPilot

        plugins.append(GuardPilot(args.bounds))
    return Guard(
        paths,
        endpoints,
        policy,
        sinks,
        session=session,
        token=token,
        plugins=plugins,
        note=line.note,
        warn=problem,
    )
