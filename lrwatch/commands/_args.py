"""Arguments shared by the subcommands (``inspect``, ``diagnose``, ``watch``, ``demo``...).

One definition each, so the help text and defaults of the same option cannot drift apart
between commands.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lrwatch.formats.base import Parser
    from lrwatch.records import NameMap


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
        help="force the format (jsonl, hf, hf_state, csv, text, tfevents, wandb); detected by "
        "default (MLflow runs: name the mlruns directory)",
    )


def add_rules_argument(parser: argparse.ArgumentParser, what: str = "") -> None:
    """Add ``--rules TOML``: rule thresholds read by :func:`lrwatch.rules.load_config`."""
    parser.add_argument(
        "--rules",
        default=None,
        metavar="TOML",
        help=f"rule thresholds and [metrics] loss names (TOML file) {what}".rstrip(),
    )


def add_fail_on_argument(parser: argparse.ArgumentParser, help_prefix: str = "") -> None:
    """Add ``--fail-on LEVEL``: the severity that makes a diagnosis exit 1 (``args.fail_on``)."""
    parser.add_argument(
        "--fail-on",
        choices=("info", "warning", "error"),
        default="error",
        help=f"{help_prefix}exit 1 when a finding reaches this severity (default: error)",
    )


def add_loss_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--loss NAME`` and ``--val-loss NAME``: which metrics are the losses."""
    parser.add_argument(
        "--loss",
        default=None,
        metavar="NAME",
        help="the metric to take as the training loss, as logged (a+b sums parts); "
        "default: chosen (docs/format.md), or [metrics] loss in the --rules TOML",
    )
    parser.add_argument(
        "--val-loss",
        dest="val_loss",
        default=None,
        metavar="NAME",
        help="the metric to take as the validation loss (likewise)",
    )


def loss_options(args: argparse.Namespace, config: object | None = None) -> dict[str, str | None]:
    """``loss``/``val_loss`` for open_runs: the flags first, then the TOML's ``[metrics]``."""
    metrics = getattr(config, "metrics", None)
    return {
        "loss": getattr(args, "loss", None) or getattr(metrics, "loss", "") or None,
        "val_loss": getattr(args, "val_loss", None) or getattr(metrics, "val_loss", "") or None,
    }


def add_regex_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--regex PATTERN``: a custom line pattern for text logs (implies ``--format text``)."""
    parser.add_argument(
        "--regex",
        action="append",
        default=None,
        metavar="PATTERN",
        help="read text lines with this regex: a (?P<step>...) group and one named group per "
        "metric, e.g. 'it=(?P<step>\\d+) obj=(?P<loss>\\S+)' (repeatable; for inspect, "
        "diagnose and watch it implies --format text)",
    )


def source_options(args: argparse.Namespace, config: object | None = None) -> dict[str, Any]:
    """What ``open_runs`` takes from the shared flags: losses and a custom text pattern
    (keyword arguments for its ``**source_options``)."""
    options: dict[str, Any] = dict(loss_options(args, config))
    patterns = getattr(args, "regex", None)
    if patterns:
        from lrwatch.formats import make_parser

        def factory(fmt: str, names: NameMap | None = None) -> Parser:
            return make_parser(fmt, names=names, regex=patterns)

        options["parser_factory"] = factory
    return options


def format_of(args: argparse.Namespace) -> str | None:
    """``--format``, or ``text`` when ``--regex`` is given."""
    fmt = getattr(args, "format", None) or getattr(args, "fmt", None)
    return fmt or ("text" if getattr(args, "regex", None) else None)


def int_in(lo: int, hi: int, unit: str = "") -> Callable[[str], int]:
    """An argparse type: an integer from ``lo`` to ``hi`` (``unit`` follows it in the error)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value}{unit} is not in {lo}..{hi}")
        return value

    return parse
