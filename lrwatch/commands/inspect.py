"""``lrwatch inspect PATH...``: a headless summary of what lrwatch reads from logs.

Like ``tensorboard --inspect``: per run its path, detected format, records, step range,
skipped lines, control endpoint, the LR changes and rewinds the run wrote (who asked, and
why), and per metric count / first / last / min / max / non-finite. ``--json`` prints one
JSON object (non-finite floats as "nan"/"inf"/"-inf").
"""

from __future__ import annotations

import argparse
import json
import math
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
    source_options,
)
from lrwatch.losschoice import REGEX_EXAMPLE
from lrwatch.records import CANONICAL

#: Per-metric keys of the summary, in output order.
METRIC_KEYS = ("count", "first", "last", "min", "max", "nonfinite")
#: Changes (``lr_change`` and ``rewind`` records) listed in the text output; the rest counted.
MAX_CHANGES_SHOWN = 20
#: Attribution fields a change record may carry (docs/protocol.md).
_WHO = ("by", "via", "finding", "reason")


def register(subparsers: Any) -> None:
    """Add the ``inspect`` subcommand."""
    p = subparsers.add_parser(
        "inspect",
        help="summarize what lrwatch reads from logs (no UI)",
        description="Read logs once to the end and summarize each run and metric.",
    )
    add_paths_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_format_argument(p)
    add_loss_arguments(p)
    add_regex_argument(p)
    add_rules_argument(p, "([metrics] names the losses)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Read the runs and print their summary; exit 2 for a missing path or unknown format."""
    from lrwatch.rules import ConfigError, load_config
    from lrwatch.sources import SourceError, read_runs

    try:
        options = source_options(args, load_config(args.rules))
        store = read_runs(list(args.paths), format_of(args), **options)
    except (SourceError, ConfigError, re.error) as exc:
        print(f"lrwatch inspect: error: {exc}", file=sys.stderr)
        return 2
    runs = [summarize(run) for run in store.runs.values()]
    if args.json:
        print(json.dumps({"runs": runs}, allow_nan=False))
    else:
        print(render(runs))
    return 0


def summarize(run: Any) -> dict[str, Any]:
    """The JSON-ready summary of one :class:`~lrwatch.store.RunData`."""
    header = run.header or {}
    steps = None if run.first_step is None else [run.first_step, run.last_step]
    events: dict[str, int] = {}
    for ev in run.events:
        events[ev.kind] = events.get(ev.kind, 0) + 1
    metrics = {}
    for name in _metric_order(run.series):
        summary = run.series[name].summary()
        metrics[name] = {key: _json_value(summary.get(key)) for key in METRIC_KEYS}
    return {
        "name": run.name,
        "path": run.path,
        "format": run.format,
        "records": run.records,
        "steps": steps,
        "steps_inferred": bool(run.steps_inferred),
        "skipped_lines": run.skipped,
        "control": header.get("control"),
        "events": events,
        "loss": run.loss_choice or None,
        "val_loss": run.val_loss_choice or None,
        "unread_lines": list(run.unread) if "loss" not in run.series else [],
        # Metric names past the store's cap (MAX_SERIES per run) and the values they lost;
        # "names_refused_exact" is false when the count is only a lower bound.
        "names_refused": getattr(run, "names_refused", 0),
        "names_refused_exact": bool(getattr(run, "names_refused_exact", True)),
        "values_dropped": getattr(run, "values_dropped", 0),
        "changes": changes(run.events),
        "metrics": metrics,
    }


def changes(events: list[Any]) -> list[dict[str, Any]]:
    """The ``lr_change`` and ``rewind`` records, in log order: step, LRs (group 0 first),
    a rewind's target step, factor and mode, and who asked (by, via, finding, reason)."""
    out = []
    for ev in events:
        if ev.kind not in ("lr_change", "rewind"):
            continue
        data = ev.data
        item: dict[str, Any] = {"kind": ev.kind, "step": ev.step}
        if ev.kind == "rewind":
            item["to_step"] = data.get("to_step")
            item["factor"] = data.get("factor")
        item["old"], item["new"] = data.get("old"), data.get("new")
        item["mode"] = data.get("mode")
        item.update({k: data[k] for k in _WHO if isinstance(data.get(k), str)})
        out.append({k: _json_deep(v) for k, v in item.items()})
    return out


def _json_deep(value: Any) -> Any:
    """:func:`_json_value`, through lists too (the LRs of every group)."""
    if isinstance(value, list):
        return [_json_deep(v) for v in value]
    return _json_value(value)


def _metric_order(series: dict[str, Any]) -> list[str]:
    """Canonical metrics first (loss, val_loss, lr, grad_norm), then the rest by name."""
    first = [n for n in CANONICAL if n in series]
    return first + sorted(n for n in series if n not in CANONICAL)


def _json_value(value: Any) -> Any:
    """Floats that JSON cannot hold become the strings "nan", "inf", "-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def render(runs: list[dict[str, Any]]) -> str:
    """Plain aligned text for a terminal or a log (no colour, no rich)."""
    return "\n\n".join(_render_run(r) for r in runs)


def _render_run(r: dict[str, Any]) -> str:
    steps = r["steps"]
    step_text = "-" if steps is None else f"{steps[0]} .. {steps[1]}"
    if r["steps_inferred"]:
        step_text += " (inferred: the log carries no step)"
    events = ", ".join(f"{k} {v}" for k, v in sorted(r["events"].items())) or "-"
    lines = [
        f"run {r['name']}",
        f"  path     {r['path']}",
        f"  format   {r['format']}",
        f"  records  {r['records']}",
        f"  steps    {step_text}",
        f"  skipped  {r['skipped_lines']} lines",
        f"  events   {events}",
    ]
    if r["names_refused"]:
        lines.append(_refused_line(r))
    if r["control"]:
        lines.append(f"  control  {r['control']}")
    if r["loss"]:
        lines.append(f"  loss     {r['loss']}")
    if r["val_loss"]:
        lines.append(f"  val loss {r['val_loss']}")
    lines += _change_lines(r["changes"])
    lines += _metric_table(r["metrics"])
    if "loss" not in r["metrics"]:
        lines += no_loss_help(r["unread_lines"], r["metrics"])
    return "\n".join(lines)


def _change_lines(items: list[dict[str, Any]]) -> list[str]:
    """``changes  step 120  lr 0.1 → 0.01  by unix`` and ``step 300  rewind 300 → 200
    ×0.1 (rescale)  by autopilot (finding ..., reason ...)``, one line each."""
    out = []
    for i, c in enumerate(items[:MAX_CHANGES_SHOWN]):
        head = "  changes  " if i == 0 else " " * 11
        out.append(f"{head}step {_cell(c['step'])}  {_change_text(c)}{_who(c)}")
    if len(items) > MAX_CHANGES_SHOWN:
        out.append(f"{' ' * 11}... {len(items) - MAX_CHANGES_SHOWN} more (--json lists all)")
    return out


def _change_text(c: dict[str, Any]) -> str:
    lrs = f"lr {_lr(c.get('old'))} → {_lr(c.get('new'))}"
    mode = f" ({c['mode']})" if c.get("mode") else ""
    if c["kind"] != "rewind":
        return lrs + mode
    factor = c.get("factor")
    times = f" ×{factor:.3g}" if isinstance(factor, int | float) else ""
    return f"rewind {_cell(c['step'])} → {_cell(c.get('to_step'))}{times}{mode}, {lrs}"


def _lr(value: Any) -> str:
    """Group 0's LR of an ``old``/``new`` list (``-`` when absent)."""
    if isinstance(value, list):
        value = value[0] if value else None
    return _cell(value)


def _who(c: dict[str, Any]) -> str:
    by = c.get("by") or c.get("via")
    why = [f"{k} {c[k]}" for k in ("finding", "reason") if c.get(k)]
    return (f"  by {by}" if by else "") + (f" ({'; '.join(why)})" if why else "")


def _refused_line(r: dict[str, Any]) -> str:
    from lrwatch.store import MAX_SERIES

    names = (
        f"{r['names_refused']}" if r["names_refused_exact"] else f"at least {r['names_refused']}"
    )
    return (
        f"  refused  {names} metric names past the cap of {MAX_SERIES} series"
        f" ({r['values_dropped']} values dropped)"
    )


def no_loss_help(unread: list[str], metrics: dict[str, Any]) -> list[str]:
    """What to tell a user whose log gave no training loss: what was not understood, and how
    to point lrwatch at the loss."""
    out = ["  no training loss found"]
    if unread:
        out.append("  lines with numbers that were not understood:")
        out += [f"    | {line}" for line in unread]
    if metrics:
        names = ", ".join(list(metrics)[:8])
        out.append(f"  metrics read: {names}; name the loss with --loss NAME (a+b sums parts)")
    else:
        out.append("  nothing was read as a metric; a custom line pattern reads any text log:")
    out.append(f"    {REGEX_EXAMPLE}  (named groups: step, metrics)")
    return out


def _metric_table(metrics: dict[str, dict[str, Any]]) -> list[str]:
    if not metrics:
        return ["  (no metrics)"]
    rows = [["metric", *METRIC_KEYS]]
    rows += [[name, *(_cell(m[k]) for k in METRIC_KEYS)] for name, m in metrics.items()]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=False)
        ]
        out.append("  " + "  ".join(cells).rstrip())
    return out
