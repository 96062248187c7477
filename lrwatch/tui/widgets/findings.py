"""The findings panel: one card per finding, a selection, drawn by :func:`render_cards`."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from lrwatch.tui.cards import render_cards, sort_findings
from lrwatch.tui.mono import monochrome

#: Records the rules must lag before the panel says so.
NOTE_BEHIND = 10_000


class FindingsPanel(Widget):
    """Findings of the current run, open ones first; ``selected`` indexes the sorted list."""

    DEFAULT_CSS = """
    FindingsPanel { width: 25%; min-width: 30; border-left: vkey $primary 50%; padding: 0 0 0 1; }
    FindingsPanel.-hidden { display: none; }
    """

    selected: reactive[int] = reactive(0)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.findings: list[Any] = []
        self._selected_id: str | None = None
        self.note = ""  #: how far the rule engine is behind, when it is

    def set_findings(self, findings: list[Any]) -> None:
        """Replace the list, keeping the selection on the same finding when it is still there."""
        self.findings = sort_findings(findings)
        ids = [getattr(f, "id", None) for f in self.findings]
        if self._selected_id in ids:
            self.selected = ids.index(self._selected_id)
        else:
            self.selected = min(self.selected, max(len(self.findings) - 1, 0))
        self._remember()
        self.refresh()

    def set_note(self, behind: int, skipped: int) -> None:
        """Say that the rules lag the charts by ``behind`` records, or skipped some."""
        # A few batches in flight are normal; only a real lag is worth a line.
        parts = [f"rules {_count(behind)} recs behind"] if behind >= NOTE_BEHIND else []
        if skipped:  # lrwatch diagnose checks every record
            parts.append(f"{_count(skipped)} unchecked")
        self.note = " · ".join(parts)
        self.refresh()

    def move(self, delta: int) -> None:
        """Select the next (+1) or previous (-1) card."""
        if self.findings:
            self.selected = (self.selected + delta) % len(self.findings)
            self._remember()

    def _remember(self) -> None:
        cur = self.current
        self._selected_id = getattr(cur, "id", None) if cur is not None else None

    @property
    def current(self) -> Any | None:
        """The selected finding, if any."""
        return self.findings[self.selected] if self.findings else None

    def render(self) -> Text:
        """The cards that fit, the selected one visible."""
        title = Text(f"findings ({len(self.findings)})", style="bold")
        rows = self.size.height - 1
        if self.note:
            title.append(f"\n{self.note[: self.size.width]}", style="yellow")
            rows -= 1
        body = render_cards(self.findings, self.selected, self.size.width, rows)
        text = title + Text("\n") + body
        return monochrome(text) if self.app.no_color else text


def _count(n: int) -> str:
    """``950``, ``12k``, ``1.2M``."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    return f"{n // 1000}k" if n >= 10_000 else f"{n:,}"
