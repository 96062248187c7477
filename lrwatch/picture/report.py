"""One self-contained HTML page: the picture inline, each run's verdict and findings (with
their evidence and fix), and a plain-text summary per run.

Nothing is fetched: no external font, script, style sheet or image. The page's colours are the
picture's CSS variables, so it follows ``prefers-color-scheme`` (``auto``) unless a theme is
forced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from lrwatch.picture.annotate import ICONS
from lrwatch.picture.svg import FONT, css_palettes


@dataclass
class RunSection:
    """What the page says about one run (plain values: the commands layer fills it)."""

    name: str
    path: str
    verdict: str
    findings: list[dict[str, Any]] = field(default_factory=list)
    #: Per finding (same order): its evidence as ``key=value, ...`` text.
    evidence: list[str] = field(default_factory=list)
    summary: str = ""  #: ``lrwatch inspect``'s text for the run


def html_page(
    title: str, svg: str, runs: Sequence[RunSection], theme: str = "auto", mono: bool = False
) -> str:
    """The page. ``svg``: the picture written with CSS variables (``to_svg(..., "auto",
    style=False)``); ``theme``: ``auto``, ``dark`` or ``light``."""
    body = "".join(_run_html(r) for r in runs)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en" data-theme="{escape(theme)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="'
        + ("dark light" if theme == "auto" else escape(theme))
        + '">\n'
        f"<title>{escape(title)}</title>\n<style>{_css(theme, mono)}</style>\n</head>\n"
        f'<body>\n<figure class="plot">{svg}</figure>\n'
        f"{body}</body>\n</html>\n"
    )


def _css(theme: str, mono: bool) -> str:
    return css_palettes(mono, theme=theme) + (
        f"body{{margin:0;padding:16px 24px;background:var(--lw-bg);color:var(--lw-text);"
        f"font-family:{FONT};font-size:14px;line-height:1.45}}"
        "h2{font-size:16px;margin:24px 0 4px}"
        "figure.plot{margin:0}figure.plot svg{display:block;max-width:100%;height:auto}"
        ".path,.muted{color:var(--lw-muted)}.verdict{font-weight:bold;margin:4px 0 8px}"
        ".finding{border-left:3px solid var(--lw-muted);padding:2px 0 2px 10px;margin:8px 0}"
        ".finding.error{border-color:var(--lw-error)}.finding.warning{border-color:"
        "var(--lw-warning)}.finding.info{border-color:var(--lw-info)}"
        ".sev.error{color:var(--lw-error)}.sev.warning{color:var(--lw-warning)}"
        ".sev.info{color:var(--lw-info)}.resolved{color:var(--lw-grad)}"
        "pre{background:var(--lw-panel);padding:8px 12px;overflow-x:auto;font-size:12px}"
        "details summary{cursor:pointer;color:var(--lw-muted)}"
    )


def _run_html(run: RunSection) -> str:
    items = "".join(
        _finding_html(f, run.evidence[i] if i < len(run.evidence) else "")
        for i, f in enumerate(run.findings)
    )
    summary = (
        f"<details open><summary>inspect</summary><pre>{escape(run.summary)}</pre></details>\n"
        if run.summary
        else ""
    )
    return (
        f'<section class="run">\n<h2>{escape(run.name)} <span class="path">'
        f"{escape(run.path)}</span></h2>\n"
        f'<p class="verdict">verdict: {escape(run.verdict)}</p>\n{items}{summary}</section>\n'
    )


def _finding_html(f: dict[str, Any], evidence: str) -> str:
    sev = str(f.get("severity", "info"))
    span = f"step {f['step']}"
    if f.get("last_step") not in (None, f["step"]):
        span += f"–{f['last_step']}"
    resolved = (
        f' <span class="resolved">resolved at step {f["resolved_step"]}</span>'
        if f.get("resolved")
        else ""
    )
    lines = [
        f'<div class="finding {escape(sev)}"><div><span class="sev {escape(sev)}">'
        f"{ICONS.get(sev, 'i')} {escape(sev)}</span> <b>{escape(str(f['symptom']))}</b> "
        f"{escape(span)}{resolved}</div>",
        f"<div>{escape(str(f.get('message', '')))}</div>",
    ]
    if evidence:
        lines.append(f'<div class="muted">evidence: {escape(evidence)}</div>')
    if f.get("suggestion"):
        lines.append(f"<div><b>fix:</b> {escape(str(f['suggestion']))}</div>")
    return "\n".join(lines) + "</div>\n"
