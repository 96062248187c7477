"""The chart after a rewind: the abandoned branch dimmed, the live branch as usual, a
marker at the rewind point (rendered strips: the cells' styles, not only the text)."""

from __future__ import annotations

from rich.text import Text

from lrwatch.formats.jsonl import JsonlParser
from lrwatch.store import MetricStore, RunData
from lrwatch.tui.chart import GUTTER, render_chart
from lrwatch.tui.smooth import EmaCache
from lrwatch.tui.view import ViewState, loss_spec, lr_spec, step_range
from tests.rewind_logs import header, losses, spike_and_rewind

WIDTH, HEIGHT = 88, 16


def run_of(lines: list[str]) -> RunData:
    store = MetricStore()
    store.add("r", JsonlParser().feed(("\n".join(lines) + "\n").encode()))
    return store.runs["r"]


def cells(lines: list[Text], style: str) -> list[tuple[int, int]]:
    """(row, plot column) of every cell drawn in ``style``."""
    out = []
    for r, line in enumerate(lines):
        for span in line.spans:
            if str(span.style) == style:
                out += [(r, c - GUTTER) for c in range(span.start, span.end)]
    return out


def step_of(col: int, lo: int, hi: int) -> float:
    return lo + col * (hi - lo + 1) / (WIDTH - GUTTER)


def test_the_abandoned_branch_is_dim_and_the_live_one_bright() -> None:
    run = run_of(spike_and_rewind(n=300, spike_at=250, to=200))
    view = ViewState()
    spec = loss_spec([run], view, EmaCache())
    lines = render_chart(spec, WIDTH, HEIGHT)
    lo, hi = spec.lo, spec.hi
    dim = cells(lines[1:-1], "dim cyan")
    assert dim, "the abandoned segment is drawn"
    # Only right of the rewind point (one cell of slack for the column edges).
    assert min(step_of(c, lo, hi) for _, c in dim) >= 200 - (hi - lo) / (WIDTH - GUTTER)
    live = cells(lines[1:-1], "bold cyan")
    assert max(step_of(c, lo, hi) for _, c in live) > 300  # the new branch goes on
    assert any(step_of(c, lo, hi) < 150 for _, c in live)
    # The rewind's marker, labelled, and the legend says what dim means.
    assert "⟲ 300→200 ×0.1" in lines[1].plain
    assert cells(lines[1:2], "bold magenta")
    assert "abandoned" in lines[0].plain


def test_the_blow_up_does_not_set_the_y_range() -> None:
    run = run_of(spike_and_rewind(n=300, spike_at=250, to=200))
    lines = render_chart(loss_spec([run], ViewState(), EmaCache()), WIDTH, HEIGHT)
    labels = " ".join(line.plain[: GUTTER - 1] for line in lines[1:-1])
    assert "1e3" not in labels and "2e3" not in labels  # the abandoned 2,550 is off-range
    assert any(
        ch == "▲" for _, c in cells(lines[1:2], "dim cyan") for ch in lines[1].plain[c + GUTTER]
    )


def test_the_lr_panel_dims_the_abandoned_lr_too() -> None:
    run = run_of(spike_and_rewind(n=300, spike_at=250, to=200))
    spec = lr_spec([run], ViewState())
    assert [t.style for t in spec.traces if t.style.startswith("dim")] == ["dim magenta"]
    assert any(m.label.startswith("⟲") for m in spec.markers)


def test_right_after_the_rewind_the_range_still_shows_the_abandoned_branch() -> None:
    run = run_of([*spike_and_rewind(300, 250, 200)[:-110]])  # up to the rewind record
    assert run.last_step == 200
    assert step_range([run], ViewState()) == (1, 300)


def test_no_rewind_no_dim_cells() -> None:
    run = run_of([header(), *losses(range(1, 301))])
    lines = render_chart(loss_spec([run], ViewState(), EmaCache()), WIDTH, HEIGHT)
    assert not cells(lines, "dim cyan") and "abandoned" not in lines[0].plain
