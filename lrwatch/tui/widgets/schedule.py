"""``SchedulePreview``: the remaining LR schedule as it is and as a planned change makes it.

A thin widget over :func:`lrwatch.tui.schedule_plot.preview_lines`. Give it the forecast when
it is known, or an ``ask`` callable (blocking: :func:`lrwatch.session.preview.ask_schedule`
bound to a run) that it runs in a thread worker when mounted; until the answer arrives it says
it is asking. Setting ``command`` (another mode) redraws the will-be curve; the confirmation
dialog and the autopilot's countdown both use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from rich.text import Text
from textual import work
from textual.reactive import reactive
from textual.widget import Widget

from lrwatch.session.commands import Command
from lrwatch.session.preview import Forecast
from lrwatch.tui.schedule_plot import HEIGHT, WIDTH, preview_lines

#: Blocking: the run's forecast, or a note saying why there is none.
Ask = Callable[[], Forecast | str]


class SchedulePreview(Widget):
    """As-is (dim) and will-be (bright) LR curves of the run's remaining schedule."""

    DEFAULT_CSS = """
    SchedulePreview { height: auto; width: 100%; margin-top: 1; }
    """

    forecast: reactive[Forecast | str | None] = reactive(None, layout=True)
    command: reactive[Command | None] = reactive(None, layout=True)

    def __init__(
        self,
        forecast: Forecast | str | None,
        command: Command,
        *,
        ask: Ask | None = None,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self._ask = ask
        self.set_reactive(SchedulePreview.forecast, forecast)
        self.set_reactive(SchedulePreview.command, command)

    def on_mount(self) -> None:
        """Ask the run, unless the forecast was given."""
        if self.forecast is None and self._ask is not None:
            self._fetch(self._ask)

    @work(thread=True, exclusive=True, exit_on_error=False, group="schedule")
    def _fetch(self, ask: Ask) -> None:
        try:
            answer = ask()
        except Exception as exc:  # whatever goes wrong, the dialog says it and stays usable
            answer = f"no preview: {type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):  # the dialog may be gone (answered already)
            self.app.call_from_thread(self._arrived, answer)

    def _arrived(self, answer: Forecast | str) -> None:
        self.forecast = answer

    def render(self) -> Text:
        """The preview's lines (a note while asking or when the run cannot say)."""
        if self.command is None:
            return Text("")
        width = self.content_region.width or WIDTH
        return Text("\n").join(preview_lines(self.forecast, self.command, width, HEIGHT))
