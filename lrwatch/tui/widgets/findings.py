"""The findings panel: one card per finding, a selection, drawn by :func:`render_cards`.

It also carries a short hint (:meth:`FindingsPanel.show_hint`; the demo's guidance) above
the cards, in the panel's own rows: a toast drawn over the screen hid the grad-norm chart
and the status line at 80×24.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from lrwatch.tui.cards import measuring_console, render_cards, sort_findings
from lrwatch.tui.mono import monochrome

#: Records the rules must lag before the panel says so.
NOTE_BEHIND = 10_000
#: Seconds a selection made by hand (j/k) stays put; after that, and before any, the
#: selection follows the newest open finding of the highest severity, so that `a` applies
#: the fix of what matters now, not of a card that resolved while new ones came in above it.
HAND_HOLD = 30.0


class FindingsPanel(Widget):
    """Findings of the current run, open ones first; ``selected`` indexes the sorted list."""

    DEFAULT_CSS = """
    FindingsPanel { width: 25%; min-width: 30; border-left: vkey $primary 50%; padding: 0 0 0 1; }
    FindingsPanel.-hidden { display: none; }
    """

    selected: reactive[int] = reactive(0)
    #: Whether the run has a training loss the rules can judge (else "no loss to judge").
    judging: reactive[bool] = reactive(True)
    #: What the rules had too few points for (lrwatch.rules.coverage.not_enough), or "".
    not_enough: reactive[str] = reactive("")
    #: Whether the run takes LR changes; a read-only run's cards give advice, not ``[a]``.
    controllable: reactive[bool] = reactive(True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.findings: list[Any] = []
        self._selected_id: str | None = None
        self.note = ""  #: how far the rule engine is behind, when it is
        self.clock: Callable[[], float] = time.monotonic
        self._held_at: float | None = None  #: when the selection was last moved by hand
        self._source: list[Any] | None = None  #: the list last given to set_findings
        self._by_hand = False  #: the held selection was made with j/k (not by select_id)
        self.hint = ""  #: the hint shown above the cards ("" for none)
        self._hint_timer: Timer | None = None

    def show_hint(self, text: str, seconds: float | None = None) -> None:
        """Show ``text`` (Rich markup) above the cards, for ``seconds`` (None: until replaced).

        It takes rows from the cards, which scroll to keep the selected one in view.
        """
        if self._hint_timer is not None:
            self._hint_timer.stop()
            self._hint_timer = None
        self.hint = text
        if seconds is not None and text:
            self._hint_timer = self.set_timer(seconds, self.clear_hint)
        self.refresh()

    def clear_hint(self) -> None:
        """Take the hint away."""
        self.show_hint("")

    @property
    def held(self) -> bool:
        """The user chose the selected card in the last :data:`HAND_HOLD` seconds."""
        return self._held_at is not None and self.clock() - self._held_at < HAND_HOLD

    def set_findings(self, findings: list[Any]) -> None:
        """Replace the list; the selection follows the top card unless held by hand.

        The top card (:func:`sort_findings`) is the newest open finding of the highest
        severity. A card chosen by hand in the last :data:`HAND_HOLD` seconds stays selected
        while it is in the list; one chosen by the app (:meth:`select_id`) only while it is
        open (a fix the app pointed at must not stay selected once it is stale).
        """
        if findings is self._source and not (self._held_at is not None and not self.held):
            return  # the same list (the app passes it again on every data redraw)
        self._source = findings
        self.findings = sort_findings(findings)
        ids = [getattr(f, "id", None) for f in self.findings]
        keep = self.held and self._selected_id in ids
        if keep and not self._by_hand:
            keep = not getattr(self.findings[ids.index(self._selected_id)], "resolved", False)
        if keep:
            self.selected = ids.index(self._selected_id)
        else:
            self.selected, self._held_at = 0, None
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
        """Select the next (+1) or previous (-1) card (by hand: it stays selected a while)."""
        if self.findings:
            self.selected = (self.selected + delta) % len(self.findings)
            self._held_at, self._by_hand = self.clock(), True
            self._remember()

    def forget_hold(self) -> None:
        """Let the selection follow the top card again (another run's list is shown)."""
        self._held_at = None

    def select_id(self, finding_id: str) -> bool:
        """Select the card of ``finding_id`` (held while it is open); False if absent."""
        ids = [getattr(f, "id", None) for f in self.findings]
        if finding_id not in ids:
            return False
        self.selected = ids.index(finding_id)
        self._held_at, self._by_hand = self.clock(), False
        self._remember()
        return True

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
        if self.hint:
            # At most half the rows: the selected card (and its [a]) must stay in view.
            hint = hint_lines(self.hint, self.size.width, max(1, rows // 2))
            title.append("\n")
            title.append_text(Text("\n").join(hint))
            rows -= len(hint)
        body = render_cards(
            self.findings,
            self.selected,
            self.size.width,
            rows,
            self.judging,
            self.not_enough,
            self.controllable,
        )
        text = title + Text("\n") + body
        return monochrome(text) if self.app.no_color else text


def hint_lines(markup: str, width: int, limit: int) -> list[Text]:
    """``markup`` wrapped to ``width`` cells behind a bar, at most ``limit`` lines (… cut)."""
    body = Text.from_markup(markup)
    lines: list[Text] = []
    for part in body.split("\n"):
        lines += list(part.wrap(measuring_console(), max(width - 2, 8)))
    if len(lines) > limit:
        lines = lines[:limit]
        lines[-1].truncate(max(width - 3, 7))
        lines[-1].append("…")
    return [Text("▎ ", style="bold magenta") + line for line in lines]


def _count(n: int) -> str:
    """``950``, ``12k``, ``1.2M``."""
    if n >= 1_000_000:
        return f"{n / 1e6:.1f}M"
    return f"{n // 1000}k" if n >= 10_000 else f"{n:,}"
