"""Parsers for the benchmarks that print only text (``rules_cost``, ``dist_sync``,
``ui_render``, ``find_lr_compare``): each turns the script's stdout into the dict that
``run_all.py`` saves as ``benchmarks/out/<name>.json`` and ``summary.py`` reads.

Each parser gets the stdout of every invocation of its script (``rules_cost`` runs at two
sizes) and raises ``ParseError`` when a line it needs is missing, so a changed output format
shows up as a failed benchmark instead of a wrong number.
"""

from __future__ import annotations

import re
from typing import Any


class ParseError(ValueError):
    """A text-only benchmark printed something its parser does not recognise."""


def _num(s: str) -> float:
    return float(s.replace(",", ""))


def _latency(
    rate: str, median: str, p95: str, mx: str, keys: str, ingested: str, offered: str
) -> dict:
    """One key-latency row of ui_render's output, as numbers."""
    return {
        "rate_asked": int(_num(rate)),
        "median_ms": _num(median),
        "p95_ms": _num(p95),
        "max_ms": _num(mx),
        "keys": int(keys),
        "ingested_rps": _num(ingested),
        "offered_rps": _num(offered),
    }


def _search(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    m = re.search(pattern, text, flags)
    if m is None:
        raise ParseError(f"no line matching {pattern!r}")
    return m


def parse_rules_cost(outputs: list[str]) -> dict[str, Any]:
    """``rules_cost.py`` at two sizes -> µs/record for engine and baselines at each size."""
    sizes = []
    for text in outputs:
        n = _num(_search(r"generated ([\d,]+) records", text).group(1))
        sizes.append(
            {
                "records": int(n),
                "bare_loop_us": _num(_search(r"bare loop[^\d]*([\d.]+) µs/record", text)[1]),
                "store_us": _num(_search(r"RunData\.add[^\d]*([\d.]+) µs/record", text)[1]),
                "engine_us": _num(_search(r"Engine\.feed\s+([\d.]+) µs/record", text)[1]),
                "findings": int(_search(r"findings: (\d+)", text)[1]),
            }
        )
    return {"bench": "rules_cost", "sizes": sizes}


def parse_dist_sync(outputs: list[str]) -> dict[str, Any]:
    """``dist_sync.py`` -> µs/step per variant (rank 0's table)."""
    text = outputs[0]
    rows = {
        m[1].strip(): _num(m[2])
        for m in re.finditer(
            r"^\s+((?:DDP step|exchange)[^\n]*?)\s+([\d.]+)(?:\s+\(|\s*$)", text, re.M
        )
    }
    if "DDP step, no sync (baseline)" not in rows:
        raise ParseError("no baseline row in dist_sync output")
    steps = int(_search(r"(\d+) steps x", text)[1])
    return {"bench": "dist_sync", "steps": steps, "us_per_step": rows}


def parse_ui_render(outputs: list[str]) -> dict[str, Any]:
    """``ui_render.py`` -> redraw ms per size, first screen s, key latency with rules off/on."""
    text = outputs[0]
    redraw = [
        {"points": int(_num(m[1])), "loss_panel_ms": _num(m[2]), "raw_trace_ms": _num(m[3])}
        for m in re.finditer(
            r"redraw\s+([\d,]+) pts: loss panel\s+([\d.]+) ms \(raw trace only\s+([\d.]+) ms", text
        )
    ]
    first = _search(r"first full screen, ([\d,]+) points[^:]*: ([\d.]+) s", text)
    latency = {}
    for m in re.finditer(
        r"key→screen at ([\d,]+) rec/s offered, rules (on|off)\s*: median (\d+) ms, p95 (\d+) ms,"
        r" max (\d+) ms over (\d+) keys; ingested ([\d,]+) rec/s \(offered ([\d,]+)\)",
        text,
    ):
        latency[f"rules_{m[2]}"] = _latency(m[1], *m.groups()[2:])
    # Another process appends JSONL to a followed log: the real path, one record per line
    # ("records") or block mode ("blocks").
    for m in re.finditer(
        r"file follow, (blocks|records)\s*, ([\d,]+) lines/s written: key→screen median (\d+) ms,"
        r" p95 (\d+) ms, max (\d+) ms over (\d+) keys; ingested ([\d,]+) rec/s"
        r" \(written ~([\d,]+) lines/s\)",
        text,
    ):
        latency[f"file_follow_{m[1]}"] = _latency(m[2], *m.groups()[2:])
    if not latency:
        raise ParseError("no key→screen line in ui_render output")
    return {
        "bench": "ui_render",
        "redraw": redraw,
        "first_screen": {"points": int(_num(first[1])), "seconds": _num(first[2])},
        "latency": latency,
    }


def parse_find_lr(outputs: list[str]) -> dict[str, Any]:
    """``find_lr_compare.py``'s Markdown table -> per seed and method: (suggested LR, loss)."""
    text = outputs[0]
    header = _search(r"^\| seed \|(.*)\|\s*$", text, re.M)
    methods = [c.strip() for c in header[1].split("|")]
    seeds = []
    for m in re.finditer(r"^\| (\d+) \|(.*)\|\s*$", text, re.M):
        cells = [c.strip() for c in m[2].split("|")]
        row: dict[str, Any] = {"seed": int(m[1])}
        for name, cell in zip(methods, cells, strict=True):
            pair = re.match(r"([\d.e+-]+) → ([\d.]+|nan)", cell)
            row[name] = {"lr": float(pair[1]), "loss": float(pair[2])} if pair else None
        seeds.append(row)
    if not seeds:
        raise ParseError("no seed rows in find_lr_compare output")
    real = "the real package" in text.splitlines()[0]
    return {
        "bench": "find_lr_compare",
        "torch_lr_finder_real": real,
        "methods": methods,
        "seeds": seeds,
    }
