"""``lrwatch diagnose PATH...``: run the rule engine over logs and report, CI-friendly.

Per run: the findings in step order with their evidence and the fix, then a one-line verdict.
Exit 0 when nothing reached ``--fail-on`` (default: error), 1 when something did, 2 on usage or
input errors (missing path, unknown format, bad rules file), 3 when some run gave no training
loss at all (nothing to judge: the verdict says "no loss found", never "healthy").
``--json`` prints one object:
``{"runs": [{"name", "path", "format", "verdict", "loss", "findings": [...]}]}``.
``--follow`` keeps reading as the logs grow, printing each finding as it changes, until every
run wrote ``end`` (or Ctrl+C), then reports as above.
``--report FILE.html`` also writes the picture, the findings and the ``inspect`` summary as one
self-contained HTML file (the one ``lrwatch plot -o FILE.html`` writes; docs/plot.md).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

from lrwatch.commands._args import (
    add_fail_on_argument,
    add_format_argument,
    add_loss_arguments,
    add_paths_argument,
    add_regex_argument,
    add_rules_argument,
    format_of,
    source_options,
)
from lrwatch.sources.errors import SourceError

#: Exit codes.
OK, FAILED, USAGE, NO_LOSS = 0, 1, 2, 3


def register(subparsers: Any) -> None:
    """Add the ``diagnose`` subcommand."""
    p = subparsers.add_parser(
        "diagnose",
        help="diagnose learning-rate problems in logs (no UI; exit 1 when a finding reaches "
        "--fail-on, default error; 3 when a run has no loss)",
        description="Read logs to the end, run the rule engine and report findings with fixes.",
    )
    add_paths_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument(
        "--follow",
        action="store_true",
        help="keep reading as the logs grow and print each finding as it opens, escalates or "
        "resolves; stop when every run wrote its end record, or on Ctrl+C, then report",
    )
    p.add_argument(
        "--report",
        default=None,
        metavar="FILE.html",
        help="also write a self-contained HTML report: the charts, the findings, the inspect "
        "summary (as lrwatch plot -o FILE.html)",
    )
    add_rules_argument(p)
    add_fail_on_argument(p)
    add_format_argument(p)
    add_loss_arguments(p)
    add_regex_argument(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Diagnose every run; see the module docstring for exit codes."""
    from lrwatch.rules import ConfigError, load_config

    live = (_json_change if args.json else _LiveReport().change) if args.follow else None
    try:
        config = load_config(args.rules)
        options = source_options(args, config)
        paths, fmt = list(args.paths), format_of(args)
        store = _report_store(args)
        results = diagnose_paths(paths, fmt, config, args.follow, live, store=store, **options)
    except (ConfigError, SourceError, re.error) as exc:
        print(f"lrwatch diagnose: error: {exc}", file=sys.stderr)
        return USAGE
    if store is not None and not _write_report(args.report, store, results):
        return USAGE
    if args.json:
        print(json.dumps({"runs": results}, allow_nan=False))
    else:
        render(results)
    if failing(results, args.fail_on):
        return FAILED
    return NO_LOSS if any(r["loss"] is None for r in results) else OK


def _report_store(args: argparse.Namespace) -> Any:
    """A store to keep the records in when ``--report`` asks for a picture (else None)."""
    if not getattr(args, "report", None):
        return None
    from lrwatch.store import MetricStore

    return MetricStore()


def _write_report(path: str, store: Any, results: list[dict[str, Any]]) -> bool:
    """``--report``: the HTML of ``lrwatch plot -o FILE.html``; False (said) when it failed."""
    from lrwatch.commands._report import write_picture

    try:
        write_picture(path, store, results, fmt="html")
    except OSError as exc:
        print(f"lrwatch diagnose: error: cannot write {path}: {exc}", file=sys.stderr)
        return False
    return True


def diagnose_paths(
    paths: list[str],
    fmt: str | None,
    config: Any,
    follow: bool = False,
    on_change: Callable[[str, list[Any]], object] | None = None,
    store: Any = None,
    **source_options: Any,
) -> list[dict[str, Any]]:
    """Read every run to its end, feeding records to one engine per run, in order.

    ``follow``: keep following the logs (new lines, new files in a directory) until every
    run wrote its ``end`` record or the user interrupts; ``on_change(run, findings)`` gets the
    findings each batch opened, escalated or resolved (and stalls), as they happen. Reading is
    :class:`lrwatch.sources.follow.Follower`'s, the loop ``watch`` runs.
    ``store``: a :class:`~lrwatch.store.MetricStore` that also keeps every record read (for
    a picture: ``lrwatch plot``, ``--report``); None keeps none.
    ``source_options`` go to :func:`lrwatch.sources.open_runs` (``stdin_fd``...).
    """
    from lrwatch.commands._judge import Judge
    from lrwatch.sources import open_runs
    from lrwatch.sources.follow import Follower

    # Block mode: plain metric rows come as numpy columns (MetricBlock), which Engine.feed
    # walks without building a record per row (the per-line records cost most of the time).
    source_options.setdefault("blocks", True)
    runset = open_runs(paths, fmt, follow=follow, **source_options)
    judge = Judge(config, follow, on_change)
    try:
        try:
            Follower.of(runset).run(store, judge.stop, judge)
        except KeyboardInterrupt:
            if not follow:
                raise
        if judge.problem:
            raise SourceError(judge.problem)
        return [
            _result(
                name,
                src,
                judge.engine(name),
                judge.counts.get(name, 0),
                runset.chooser(name),
                name in judge.with_loss,
            )
            for name, src in runset.sources.items()
        ]
    finally:
        runset.close()


def _result(
    name: str, src: Any, engine: Any, records: int, chooser: Any, found: bool
) -> dict[str, Any]:
    """One run's report; ``found``: a training loss was read (``chooser`` says which)."""
    findings = [f.to_dict() for f in engine.findings]
    train, val = chooser.train, chooser.val
    result = {
        "name": name,
        "path": src.path,
        "format": src.format,
        "records": records,
        "skipped_lines": src.skipped,
        "verdict": verdict(findings, records, found, _not_enough(engine)),
        "loss_points": engine.points,
        "val_points": engine.val_points,
        "loss": (train.describe() if train is not None else "loss") if found else None,
        "val_loss": val.describe() if val is not None else None,
        "findings": findings,
    }
    if not found:
        result["unread_lines"] = list(getattr(src, "unread", []))
    return result


def _rank(severity: str) -> int:
    from lrwatch.rules import severity_rank

    return severity_rank(severity)


def failing(results: list[dict[str, Any]], fail_on: str) -> bool:
    """Whether any finding (resolved or not: it happened) reaches ``fail_on``."""
    line = _rank(fail_on)
    return any(_rank(f["severity"]) >= line for r in results for f in r["findings"])


def _not_enough(engine: Any) -> str:
    from lrwatch.rules.coverage import not_enough

    return not_enough(engine.points, engine.val_points, engine.config)


def verdict(
    findings: list[dict[str, Any]], records: int, has_loss: bool = True, not_enough: str = ""
) -> str:
    """One line: the worst problem, that the run looks healthy, or that there was nothing to
    judge (no records, or no training loss among them: never "healthy"). ``not_enough``
    (:func:`lrwatch.rules.coverage.not_enough`): checks the run had too few points for; a
    run without problems is then not called healthy either."""
    if records == 0 or not has_loss:
        what = "no loss found" if records else "no records read"
        return f"{what}: nothing to judge (see lrwatch inspect; --loss NAME, --regex)"
    if not_enough and all(_rank(f["severity"]) == 0 for f in findings):
        infos = f" ({len(findings)} info)" if findings else ""
        return f"no problems so far{infos}; {not_enough}"
    if not findings:
        return "healthy: no problems found"
    worst = max(findings, key=lambda f: (_rank(f["severity"]), -f["step"]))
    by_sev: dict[str, int] = {}
    for f in findings:
        by_sev[f["severity"]] = by_sev.get(f["severity"], 0) + 1
    counts = ", ".join(f"{n} {s}" for s, n in sorted(by_sev.items(), key=lambda kv: -_rank(kv[0])))
    if _rank(worst["severity"]) == 0:
        return f"healthy ({counts}): nothing needs action"
    return f"{worst['severity']}: {worst['symptom']} from step {worst['step']} ({counts})"


def _json_change(run: str, findings: list[Any]) -> None:
    """``--follow --json``: one line per changed finding, as it happens."""
    for f in findings:
        print(json.dumps({"run": run, "finding": f.to_dict()}, allow_nan=False), flush=True)


class _LiveReport:
    """``--follow``: a line per finding as it opens, escalates or resolves (the fix with it)."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
        self.said: dict[str, tuple[str, bool]] = {}  # id -> (severity, resolved) last printed

    def change(self, run: str, findings: list[Any]) -> None:
        from rich.markup import escape

        for f in findings:
            state = (f.severity, f.resolved)
            if self.said.get(f.id) == state:
                continue
            self.said[f.id] = state
            clock = time.strftime("%H:%M:%S")
            head = f"[dim]{clock}[/] [bold]{escape(run)}[/]"
            if f.resolved:
                self.console.print(
                    f"{head} [green]✓ resolved[/] {f.symptom} (since step {f.step}) "
                    f"at step {f.resolved_step}"
                )
                continue
            sev = f.severity
            self.console.print(
                f"{head} [{_STYLE[sev]}]{_ICON[sev]} {sev}[/] [bold]{f.symptom}[/] "
                f"since step {f.step}: {escape(f.message)}"
            )
            if f.suggestion:
                self.console.print(f"      [bold]fix:[/] {escape(f.suggestion)}")


_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
_ICON = {"error": "✗", "warning": "!", "info": "i"}


def render(results: list[dict[str, Any]]) -> None:
    """The human report, with Rich (imported here: headless modules stay rich-free)."""
    from rich.console import Console
    from rich.markup import escape

    # Piped (CI logs, grep): no hard wrapping at 80 columns.
    console = Console(highlight=False, soft_wrap=not sys.stdout.isatty())
    for i, r in enumerate(results):
        if i:
            console.print()
        fmt = f", {r['format']}" if r["format"] else ""
        console.print(f"[bold]{escape(r['name'])}[/]  [dim]{escape(r['path'])}{fmt}[/]")
        for f in r["findings"]:
            _render_finding(console, f)
        worst = max((_rank(f["severity"]) for f in r["findings"]), default=-1)
        style = {2: "bold red", 1: "yellow"}.get(worst, "green")
        if r.get("loss") is None:
            style = "yellow"
            for line in r.get("unread_lines") or []:
                console.print(f"  [dim]not understood: {escape(line)}[/]")
        console.print(f"  [{style}]verdict: {escape(r['verdict'])}[/]")


def _render_finding(console: Any, f: dict[str, Any]) -> None:
    from rich.markup import escape

    from lrwatch.rules.finding import evidence_text

    sev = f["severity"]
    span = f"step {f['step']}"
    if f["last_step"] != f["step"]:
        span += f"–{f['last_step']}"
    status = f"  [green]resolved at step {f['resolved_step']}[/]" if f["resolved"] else ""
    console.print(
        f"  [{_STYLE[sev]}]{_ICON[sev]} {sev:<7}[/] [bold]{f['symptom']}[/]  {span}{status}"
    )
    console.print(f"      {escape(f['message'])}")
    evidence = evidence_text(f["evidence"])
    if evidence:
        console.print(f"      [dim]evidence: {escape(evidence)}[/]")
    if f["suggestion"]:
        console.print(f"      [bold]fix:[/] {escape(f['suggestion'])}")
