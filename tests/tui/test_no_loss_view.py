"""A run with no training loss: the loss panel says how to name one, and nothing is "healthy"."""

from __future__ import annotations

from lrwatch.records import Metrics
from lrwatch.store import RunData
from lrwatch.tui.cards import render_cards
from lrwatch.tui.view import no_loss_note


def test_the_loss_panel_names_what_was_read_or_not_understood() -> None:
    run = RunData("r")
    run.unread = ["it=1 obj=3.0"]
    note = no_loss_note(run)
    assert note.startswith("no loss logged yet") and "  it=1 obj=3.0" in note
    assert "--regex" in note
    run.add([Metrics(1, {"objective": 3.0, "lr": 0.1})])
    note = no_loss_note(run)
    assert note.splitlines() == [
        "no training loss found in this log",
        "metrics read: objective",
        "name the loss: lrwatch watch LOG --loss NAME  (a+b sums parts)",
    ]


def test_no_findings_without_a_loss_is_not_healthy() -> None:
    assert "healthy" in render_cards([], 0, 40, 5).plain
    text = render_cards([], 0, 40, 5, judging=False).plain
    assert "nothing to judge" in text and "healthy" not in text
