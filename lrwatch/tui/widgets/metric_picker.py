"""The metric picker: tick a metric to add its panel under the fixed ones, untick to remove it.

Each toggle takes effect at once (the dialog stays open); the list is made when it opens, so
metrics that appear later are offered the next time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, SelectionList
from textual.widgets.selection_list import Selection

from lrwatch.tui.panels import system_last


def picker_entries(offered: Sequence[str], picked: Sequence[str]) -> list[str]:
    """What the picker lists: every offered metric, plus picked ones no run has (yet), the
    run's own metrics first and the system ones (``sys/…``) last."""
    return sorted(set(offered) | set(picked), key=system_last)


class MetricPicker(ModalScreen[None]):
    """Pick the metric panels: space (or enter) toggles one, esc closes.

    ``on_change`` is called with the picked metrics, in the list's order, after every toggle.
    """

    DEFAULT_CSS = """
    MetricPicker { align: center middle; }
    MetricPicker > Vertical {
        width: 60; max-width: 95%; height: auto; max-height: 90%; padding: 0 1;
        border: thick $accent; background: $surface;
    }
    MetricPicker SelectionList { height: auto; max-height: 20; border: none; }
    MetricPicker .hint { color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,M,q", "close", "Close"),
    ]

    def __init__(
        self,
        offered: Sequence[str],
        picked: Sequence[str],
        on_change: Callable[[list[str]], None],
    ) -> None:
        super().__init__()
        self.entries = picker_entries(offered, picked)
        self.picked = set(picked)
        self.on_change = on_change

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "Metrics"
            if self.entries:
                yield SelectionList[str](
                    *(Selection(n, n, n in self.picked) for n in self.entries), id="metrics"
                )
                yield Label("space/enter: add or remove its panel · esc: close", classes="hint")
            else:
                yield Label("no other metrics logged yet (loss, LR and grad norm are shown)")
                yield Label("esc: close", classes="hint")

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged[str]) -> None:
        """A metric was ticked or unticked: hand the new choice over at once."""
        chosen = set(event.selection_list.selected)
        if chosen != self.picked:
            self.picked = chosen
            self.on_change([n for n in self.entries if n in chosen])

    def action_close(self) -> None:
        """Close the picker (the panels stay as picked)."""
        self.dismiss(None)
