from __future__ import annotations

import numpy as np

from lrwatch.numfmt import fmt_num
from lrwatch.scale import log_ticks, nice_ticks, robust_range, spans_decades
from lrwatch.store import MetricStore, Series
from lrwatch.tui.chart import ChartSpec, Marker, Trace, render_chart


def _series(values: np.ndarray) -> Series:
    s = Series("y")
    s.extend(np.arange(len(values)), values)
    return s


def test_render_has_requested_size_axes_and_legend() -> None:
    s = _series(np.linspace(1, 2, 500))
    lines = render_chart(ChartSpec("loss", [Trace(s, "cyan", "raw")], 0, 499), 60, 10)
    assert len(lines) == 10
    assert all(len(line.plain) <= 60 for line in lines)
    assert lines[0].plain.startswith("loss") and "raw" in lines[0].plain
    assert "0" in lines[-1].plain and "400" in lines[-1].plain  # x tick labels
    assert any("┤" in line.plain for line in lines[1:-1])  # y ticks
    assert any(ch in line.plain for line in lines for ch in "⠁⠂⠄⡀⢀⣀⠉⠒⠤")


def test_one_outlier_does_not_squash_the_range() -> None:
    v = np.linspace(2.0, 1.0, 1000)
    v[500] = 1e6
    lines = render_chart(ChartSpec("loss", [Trace(_series(v), "c")], 0, 999), 80, 12)
    labels = " ".join(line.plain[:7] for line in lines[1:-1])
    assert "1e6" not in labels and "5e5" not in labels
    assert "▲" in lines[1].plain  # the clipped spike is marked at the top edge


def test_robust_range_keeps_ordinary_extremes() -> None:
    mins = [np.linspace(1, 2, 100)]
    lo, hi = robust_range(mins, [m + 0.1 for m in mins]) or (0, 0)
    assert lo <= 1.0 and hi >= 2.1


def test_nan_and_inf_are_marked_and_lr_change_labelled() -> None:
    v = np.ones(300)
    v[100] = np.nan
    v[200] = np.inf
    spec = ChartSpec("loss", [Trace(_series(v), "c")], 0, 299, markers=[Marker(150, "3e-3→3e-4")])
    lines = render_chart(spec, 70, 8)
    text = "\n".join(line.plain for line in lines)
    assert text.count("×") >= 2 + 1  # two marks plus the legend's "× NaN/Inf"
    assert "3e-3→3e-4" in lines[1].plain
    assert any("│" in line.plain[8:] for line in lines[1:-1])


def test_log_scale_ticks_are_decades() -> None:
    s = _series(np.logspace(-5, -2, 400))
    lines = render_chart(ChartSpec("lr", [Trace(s, "m")], 0, 399, log_y=True), 60, 10)
    labels = [line.plain[:7].strip() for line in lines[1:-1] if line.plain[:7].strip()]
    assert {"1e-5", "1e-4", "1e-3"} & set(labels)
    assert "(log)" in lines[0].plain


def test_redraw_cost_does_not_depend_on_points_drawn() -> None:
    """10k and 1M points render to the same-size output and both show the whole curve."""
    st = MetricStore()
    for name, n in (("small", 10_000), ("big", 1_000_000)):
        st.run(name).metric("loss").extend(np.arange(n), np.linspace(5, 1, n))
        lines = render_chart(
            ChartSpec("loss", [Trace(st.runs[name].series["loss"], "c")], 0, n - 1), 60, 8
        )
        assert len(lines) == 8
        assert lines[1].plain[8] != " " and lines[-2].plain[-1] != " "


def test_empty_chart_says_so() -> None:
    lines = render_chart(
        ChartSpec("loss", [Trace(Series("l"), "c")], 0, 1, empty_note="no loss"), 40, 6
    )
    assert "no loss" in lines[1].plain


def test_ticks_and_labels() -> None:
    assert nice_ticks(0, 1000, 5) == [0, 200, 400, 600, 800, 1000]
    assert log_ticks(-4.5, -1.2, 5) == [-4.0, -3.0, -2.0]
    assert fmt_num(0.0003) == "3e-4" and fmt_num(2.3456) == "2.346" and fmt_num(12345) == "1.2e4"


def test_a_marker_near_the_right_edge_is_labelled_on_its_left() -> None:
    s = _series(np.linspace(1, 2, 100))
    spec = ChartSpec("lr", [Trace(s, "c")], 0, 99, markers=[Marker(95, "3e-3→3e-4")])
    top = render_chart(spec, 60, 8)[1].plain
    assert "3e-3→3e-4│" in top or "3e-3→3e-4" in top.rstrip()[-12:]


def test_every_chart_gets_at_least_two_y_labels() -> None:
    s = _series(np.linspace(0.35, 3.6, 300))
    lines = render_chart(ChartSpec("loss", [Trace(s, "c")], 0, 299), 60, 8)
    labels = [line.plain[:7].strip() for line in lines[1:-1] if line.plain[7] == "┤"]
    assert len(labels) >= 2, labels


def test_sparse_points_are_joined_by_lines() -> None:
    s = Series("val")
    s.extend(np.arange(0, 600, 100), [3.0, 2.5, 2.0, 1.8, 1.7, 1.65])
    lines = render_chart(ChartSpec("val", [Trace(s, "c")], 0, 500), 60, 8)
    plot = [line.plain[8:] for line in lines[1:-1]]
    drawn = [any(row[x] != " " for row in plot) for x in range(len(plot[0]))]
    assert all(drawn), "".join("#" if d else "." for d in drawn)


def _y_labels(lines: list) -> dict[int, str]:  # type: ignore[type-arg]
    return {i: line.plain[:7].strip() for i, line in enumerate(lines[1:-1]) if line.plain[7] == "┤"}


def test_a_constant_lr_is_labelled_once_on_its_line() -> None:
    s = _series(np.full(300, 8.0))
    lines = render_chart(ChartSpec("lr", [Trace(s, "c")], 0, 299, log_y=True), 60, 9)
    labels = _y_labels(lines)
    assert list(labels.values()) == ["8"], labels  # not 7.21 / 8.88 around a line at 8
    (row,) = labels
    assert lines[1 + row].plain[8:].strip(" ") != ""  # the line is drawn on the labelled row


def test_close_tick_values_get_enough_digits_to_differ() -> None:
    # A cosine decay from 3e-3 seen early: the range spans 2.96e-3 .. 3e-3.
    s = _series(3e-3 * (1 + np.cos(np.pi * np.arange(200) / 6000)) / 2)
    lines = render_chart(ChartSpec("lr", [Trace(s, "c")], 0, 199, log_y=True), 60, 8)
    labels = list(_y_labels(lines).values())
    assert len(labels) >= 2 and len(set(labels)) == len(labels), labels
    assert all(len(x) <= 7 for x in labels)


def test_no_color_keeps_weight_and_greys_but_drops_hues() -> None:
    from rich.text import Text

    from lrwatch.tui.mono import monochrome

    t = Text("lr ")
    t.append("3e-3", style="bold magenta")
    t.append(" raw", style="grey42")
    t.append(" ✗ lost", style="bold red")
    m = monochrome(t)
    styles = [span.style for span in m.spans]
    assert m.plain == t.plain
    assert styles[0].bold and styles[0].color is None  # magenta was unreadable as grey
    assert styles[1].color is not None and styles[1].color.name == "grey42"
    assert styles[2].bold and styles[2].color is None


# ---- auto log-y ---------------------------------------------------------------------------


def _excursion() -> Series:
    """A loss that blows up to 1e15 for 60 steps and recovers to below its start."""
    v = np.concatenate([np.linspace(2.0, 1.7, 100), np.full(60, 1e15), np.linspace(0.5, 0.44, 140)])
    return _series(v)


def _plot_rows(lines: list) -> list[str]:
    return [line.plain[8:] for line in lines[1:-1]]


def test_a_1e15_excursion_draws_log_y_by_itself_and_says_so() -> None:
    s = _excursion()
    lin = render_chart(ChartSpec("loss", [Trace(s, "c")], 0, 299), 60, 10)
    auto = render_chart(ChartSpec("loss", [Trace(s, "c")], 0, 299, auto_log=True), 60, 10)
    assert lin[0].plain.strip() == "loss"
    assert auto[0].plain.startswith("loss (log, auto)")
    # Linear: the whole recovery lies in the bottom row, a flat line at 0.
    rows = _plot_rows(lin)
    assert all(not row[32:].strip() for row in rows[:-1]) and rows[-1][32:].strip()
    # Log: the start (2.0) is drawn above the recovery (0.5) (in a higher row or higher dots
    # of the same row; linear draws both as the same bottom dots), and the ticks are decades.
    rows = _plot_rows(auto)
    first = next((i, row[0]) for i, row in enumerate(rows) if row[:1].strip())
    last = next((i, row[-1]) for i, row in enumerate(rows) if row[-1:].strip())
    assert first != last and "1e8" in "".join(line.plain[:8] for line in auto)


def test_auto_log_y_stays_linear_for_a_lone_spike_negative_values_or_a_forced_axis() -> None:
    v = np.linspace(2.0, 1.0, 300)
    v[150] = 1e15  # cut by the robust range: the linear chart reads well
    spike = render_chart(ChartSpec("loss", [Trace(_series(v), "c")], 0, 299, auto_log=True), 60, 8)
    assert "(log" not in spike[0].plain and "▲" in "".join(line.plain for line in spike)
    w = np.concatenate([np.full(100, -1.0), np.full(100, 1e6)])  # not positive: no log axis
    neg = render_chart(ChartSpec("m", [Trace(_series(w), "c")], 0, 199, auto_log=True), 60, 8)
    assert "(log" not in neg[0].plain
    forced = render_chart(ChartSpec("loss", [Trace(_excursion(), "c")], 0, 299, True), 60, 8)
    assert forced[0].plain.startswith("loss (log)")


def test_auto_log_y_reads_only_the_visible_window() -> None:
    s = _excursion()
    spec = ChartSpec("loss", [Trace(s, "c")], 200, 299, auto_log=True)  # after the recovery
    assert "(log" not in render_chart(spec, 60, 8)[0].plain


def test_spans_decades_over_finite_positive_columns() -> None:
    assert spans_decades([np.array([1e-3, np.nan])], [np.array([2.0, np.inf])])
    assert not spans_decades([np.array([1e-2, np.nan])], [np.array([2.0, np.inf])])
    assert not spans_decades([np.array([0.0, 1.0])], [np.array([1e9, 1e9])])
    assert not spans_decades([np.array([np.nan])], [np.array([np.nan])])


def test_a_fixed_y_range_is_drawn_as_given() -> None:
    s = _series(np.full(100, 50.0))
    spec = ChartSpec("system %", [Trace(s, "c", "gpu0")], 0, 99, y_range=(0.0, 100.0))
    rows = _plot_rows(render_chart(spec, 60, 10))
    drawn = [i for i, row in enumerate(rows) if row.strip()]
    assert drawn and 2 <= drawn[0] <= 5  # half way up an 8-row plot, not a flat line's middle
