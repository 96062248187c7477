"""Arguments shared by the subcommands (``inspect``, ``diagnose``, ``watch``, ``demo``...).

One definition each, so the help text and defaults of the same option cannot drift apart
between commands.
"""

from __future__ import annotations

import argparse


def add_paths_argument(parser: argparse.ArgumentParser) -> None:
    """Add the positional ``PATH...`` (one or more logs to read)."""
    parser.add_argument(
        "paths", nargs="+", metavar="PATH", help="log files, directories, globs, or - for stdin"
    )


def add_format_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--format/-f F``: force the log format (``args.format``; None = detect)."""
    parser.add_argument(
        "--format",
        "-f",
        dest="format",
        default=None,
        metavar="F",
        help="force the format (jsonl, hf, hf_state, csv, text, tfevents); detected by default",
    )


def add_rules_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--rules TOML``: rule thresholds read by :func:`lrwatch.rules.load_config`."""
    parser.add_argument("--rules", default=None, metavar="TOML", help="rule thresholds (TOML file)")


def add_fail_on_argument(parser: argparse.ArgumentParser, help_prefix: str = "") -> None:
    """Add ``--fail-on LEVEL``: the severity that makes a diagnosis exit 1 (``args.fail_on``)."""
    parser.add_argument(
        "--fail-on",
        choices=("info", "warning", "error"),
        default="error",
        help=f"{help_prefix}exit 1 when a finding reaches this severity (default: error)",
    )
