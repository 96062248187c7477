"""Finding cards and LR-action wording (pure; the findings widget draws these).

Findings come from :mod:`lrwatch.rules`; only their public attributes are read here
(``symptom severity step evidence message suggestion action confidence resolved``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from lrwatch.lrchange import LRChange
from lrwatch.numfmt import fmt_num

SEVERITY_STYLES = {"error": "red", "warning": "yellow", "info": "blue"}
_ORDER = {"error": 0, "warning": 1, "info": 2}


def sort_findings(findings: Sequence[Any]) -> list[Any]:
    """Open findings first, then by severity, newest first."""
    return sorted(
        findings,
        key=lambda f: (
            bool(getattr(f, "resolved", False)),
            _ORDER.get(getattr(f, "severity", "info"), 3),
            -(getattr(f, "step", 0) or 0),
        ),
    )


def describe_action(action: Mapping[str, Any] | None) -> str:
    """``×0.1``, ``set 3e-3``, ``pause`` …: an action in a few characters."""
    if not action:
        return ""
    change = action if isinstance(action, LRChange) else LRChange.from_wire(action)
    return change.describe() if change is not None else str(action.get("op"))


def finding_label(f: Any) -> str:
    """``divergence since 1,200``: a finding named in a sentence (refusals, confirmations)."""
    step = getattr(f, "step", None)
    symptom = str(getattr(f, "symptom", "finding"))
    return f"{symptom} since {step:,}" if isinstance(step, int) else symptom


def fix_question(why: str, prompt: str) -> str:
    """The confirmation of ``a``: which finding's fix (``why``), then the change it makes."""
    return f"Fix for {why}:\n{prompt}" if why else prompt


def render_card(f: Any, selected: bool, width: int, controllable: bool = True) -> Text:
    """One finding as a few lines: severity bar, symptom, since-step, evidence, fix.

    ``controllable``: ``a`` can send the fix to the run. A read-only run (no control socket)
    gets the fix as advice, without an ``[a]`` that would only be refused.
    """
    sev = getattr(f, "severity", "info")
    colour = SEVERITY_STYLES.get(sev, "")  # "": the theme's text colour, light or dark
    resolved = bool(getattr(f, "resolved", False))
    bar_style = f"bold {colour}".strip() if not resolved else "dim"
    inner = max(width - 2, 8)
    t = Text()
    head = Text()
    head.append(f"{sev.upper()} " if not resolved else "resolved ", style=bar_style)
    head.append(str(getattr(f, "symptom", "?")), style="bold" if not resolved else "dim")
    step = getattr(f, "step", None)
    if step is not None:
        head.append(f" since {step:,}", style="dim")
    lines = [head]
    msg = getattr(f, "message", "")
    if msg:
        lines.append(Text(str(msg)))
    ev = getattr(f, "evidence", None)
    if ev:
        lines.append(Text(_evidence(ev), style="dim"))
    fix = getattr(f, "suggestion", "")
    act = describe_action(getattr(f, "action", None))
    if fix or act:
        line = Text("fix: " if controllable else "advice: ", style="dim")
        line.append(str(fix or f"LR {act}"))
        if act and not resolved and controllable:
            line.append(f"  [a] {act}", style="bold reverse" if selected else "bold")
        lines.append(line)
    marker = "▶" if selected else "▌"
    # Narrow panels (80 columns) get the gist; the selected card is shown in full.
    caps = [99, 99, 99, 99] if selected else [2, 2, 1, 2]
    for i, ln in enumerate(lines):
        parts = list(ln.wrap(measuring_console(), inner))
        cap = caps[min(i, 3)] if i else 99
        if len(parts) > cap:
            parts = parts[:cap]
            parts[-1].truncate(inner - 1)
            parts[-1].append("…")
        for j, part in enumerate(parts):
            t.append(marker if (i == 0 and j == 0) else "▌", style=bar_style)
            t.append(" ")
            t.append_text(part)
            t.append("\n")
    return t


def _evidence(ev: Any) -> str:
    if isinstance(ev, dict):
        return " · ".join(
            f"{k} {fmt_num(v) if isinstance(v, float) else v}" for k, v in list(ev.items())[:4]
        )
    return str(ev)


_CONSOLE: Any = None


def measuring_console() -> Any:
    """A quiet Rich console for measuring text (Text.wrap needs one)."""
    # Text.wrap needs a Console only for measuring; one quiet instance is enough.
    global _CONSOLE
    if _CONSOLE is None:
        import io

        from rich.console import Console

        _CONSOLE = Console(width=200, no_color=True, file=io.StringIO())
    return _CONSOLE


def render_cards(
    findings: Sequence[Any],
    selected: int,
    width: int,
    height: int,
    judging: bool = True,
    not_enough: str = "",
    controllable: bool = True,
) -> Text:
    """The cards that fit in ``height`` lines, scrolled so the selected one is visible.

    ``judging``: the run has a training loss; without one there is nothing to call healthy.
    ``not_enough``: the checks the run has too few points for (then it is not "healthy").
    ``controllable``: the run takes LR changes (else no card offers ``[a]``).
    """
    if not findings:
        if not judging:
            return Text(" no training loss yet: nothing to judge", style="dim italic")
        if not_enough:
            return Text(f" no findings so far; {not_enough}", style="dim italic")
        return Text(" no findings: the LR looks healthy so far", style="dim italic")
    cards = [render_card(f, i == selected, width, controllable) for i, f in enumerate(findings)]
    sizes = [len(c.plain.splitlines()) + 1 for c in cards]
    start = 0
    while start < selected and sum(sizes[start : selected + 1]) > height:
        start += 1
    out = Text()
    used = 0
    for card, size in zip(cards[start:], sizes[start:], strict=True):
        if used + size > height and used:
            break
        out.append_text(card)
        out.append("\n")
        used += size
    if start:
        out = Text(f" ↑ {start} more", style="dim") + Text("\n") + out
    return out
