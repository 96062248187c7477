"""Pure functions behind the header, findings cards, chart specs and LR commands."""

from __future__ import annotations

import math

import pytest

from lrwatch.records import Event, Metrics
from lrwatch.session.commands import (
    ack_text,
    error_text,
    parse_lr,
    plan_action,
    plan_scale,
    plan_set,
)
from lrwatch.store import MetricStore
from lrwatch.tui.cards import (
    describe_action,
    finding_label,
    fix_question,
    render_cards,
    sort_findings,
)
from lrwatch.tui.chart import render_chart
from lrwatch.tui.smooth import EmaCache
from lrwatch.tui.summary import ControlInfo, render_header, run_state, summarize
from lrwatch.tui.view import ViewState, loss_spec, lr_markers, lr_spec, step_range

from .helpers import finding


def test_summary_of_a_live_run(store: MetricStore) -> None:
    run = store.runs["exp1"]
    s = summarize(run, now=1700.0, last_write=1690.0, control=ControlInfo())
    assert (s.state, s.step, s.lrs) == ("live", 599, [3e-4])
    assert s.steps_per_s == pytest.approx(1.0)
    assert s.best_loss is not None and s.best_loss < s.last_loss + 0.2  # type: ignore[operator]
    text = render_header(s).plain
    assert "live" in text and "599" in text and "read-only" in text and "lrwatch run" in text


def test_states(store: MetricStore) -> None:
    run = store.runs["exp1"]
    assert run_state(run, now=5000.0, last_write=1000.0) == "idle"
    assert run_state(run, now=5000.0, last_write=1000.0, alive=True) == "stalled"
    run.add([Event("pause", {}, 600)])
    assert run_state(run, 1700.0, 1700.0) == "paused"
    run.add([Event("resume", {}, 600)])
    assert run_state(run, 1700.0, 1700.0) == "live"
    run.add([Event("end", {"status": "crashed"}, 600)])
    assert run_state(run, 1700.0, 1700.0) == "crashed"


def test_header_shows_control_state() -> None:
    from lrwatch.tui.summary import RunSummary

    s = RunSummary("r", "live", 1, None, None, None, None, [1e-3, 2e-3])
    s.control = ControlInfo("unix:/x.sock", True)
    assert "✓ unix:/x.sock" in render_header(s).plain and "1e-3 2e-3" in render_header(s).plain
    s.control = ControlInfo("unix:/x.sock", False, "connection refused")
    assert "✗ connection refused" in render_header(s).plain


def test_header_fits_narrow_screens_without_wrapping() -> None:
    from lrwatch.tui.summary import RunSummary

    s = RunSummary("lr-too-high", "live", 224, 15.0, 14.0, 8.9e-3, 8.9e-3, [0.111], skipped=7)
    s.control = ControlInfo("unix:/tmp/lrwatch-demo-6cdtkbku/logs/lr-too-high.sock", True)
    wide = render_header(s, width=200).plain.splitlines()
    assert "steps/s 15.0" in wide[0] and "unix:/tmp/lrwatch-demo" in wide[1]
    narrow = render_header(s, width=80).plain.splitlines()
    assert len(narrow) == 2 and all(len(line) <= 80 for line in narrow)
    assert "15.0/s" in narrow[0] and "best 8.9e-3" in narrow[0]
    assert "✓ lr-too-high.sock" in narrow[1] and "7 unreadable lines" in narrow[1]
    tiny = render_header(s, width=40).plain.splitlines()
    assert len(tiny) == 2 and all(len(line) <= 40 for line in tiny) and tiny[0].endswith("…")


def test_specs_window_markers_and_overlay(store: MetricStore) -> None:
    run = store.runs["exp1"]
    view = ViewState(window=100)
    assert step_range([run], view) == (500, 599)
    assert [m.label for m in lr_markers(run)] == ["3e-3→3e-4"]
    spec = loss_spec([run], ViewState(), EmaCache())
    assert [t.label for t in spec.traces] == ["raw", "smoothed 0.9", "val"]
    assert lr_spec([run], ViewState()).log_y
    store.add("exp2", [])
    store.runs["exp2"].metric("loss").extend([0, 1], [1.0, 2.0])
    both = loss_spec(list(store.runs.values()), ViewState(), EmaCache())
    assert {(t.tag, t.label) for t in both.traces} >= {("1", "exp1"), ("2", "exp2")}


def test_follow_off_freezes_the_right_edge(store: MetricStore) -> None:
    view = ViewState(follow=False, frozen_hi=300, window=100)
    assert step_range([store.runs["exp1"]], view) == (201, 300)


def test_cards_sorted_coloured_and_actionable() -> None:
    fs = sort_findings(
        [finding(5, "info"), finding(9, "error"), finding(7, "warning", resolved=True)]
    )
    assert [f.severity for f in fs] == ["error", "info", "warning"]
    text = render_cards(fs, 0, 34, 40)
    assert "ERROR lr_too_high since 9" in text.plain
    assert "[a] ÷10" in text.plain and "resolved" in text.plain
    assert any("red" in str(span.style) for span in text.spans)
    assert "no findings" in render_cards([], 0, 30, 10).plain


def test_lr_commands_are_planned_with_old_and_new() -> None:
    cmd = plan_scale(0.5, [3e-3, 6e-3], "pin")
    assert cmd.args == {"factor": 0.5, "mode": "pin"} and cmd.new == [1.5e-3, 3e-3]
    assert "g0 3e-3 → 1.5e-3" in cmd.prompt("exp1") and "pin" in cmd.prompt("exp1")
    cmd = plan_set(1e-4, [1e-3], "rescale")
    assert cmd.op == "set_lr" and "1e-3 → 1e-4" in cmd.prompt("exp1")
    cmd = plan_action({"op": "scale_lr", "factor": 0.1}, [3e-3], "rescale")
    assert cmd is not None and cmd.new == pytest.approx([3e-4])
    assert describe_action({"op": "scale_lr", "factor": 0.1}) == "÷10"
    reply = {"ok": True, "step": 130, "old": [3e-3], "new": [3e-4]}
    assert ack_text(cmd, reply) == "scale_lr applied at step 130: 3e-3 → 3e-4"
    assert "out_of_range" in error_text(
        {"ok": False, "error": {"code": "out_of_range", "message": "x"}}
    )


@pytest.mark.parametrize("text", ["abc", "-1", "0", "nan", "inf", "100"])
def test_bad_lr_input_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_lr(text)


def test_good_lr_input() -> None:
    assert parse_lr(" 3e-4 ") == 3e-4


OPTIMIZERS = [
    "sgd-0.1",
    "sgd-lr1",
    "momentum-0.01",
    "momentum-lr1",
    "adam-0.001",
    "adam-lr1",
    "rmsprop-0.001",
    "rmsprop-lr1",
    "adagrad-0.01",
    "adagrad-lr1",
]


def _ten_runs() -> list:
    st = MetricStore()
    for k, name in enumerate(OPTIMIZERS):
        recs = [
            Metrics(i, {"loss": 2 * math.exp(-i / (50 + 20 * k)) + 0.1 * k}) for i in range(300)
        ]
        recs += [Metrics(i, {"val_loss": 2.2 + 0.1 * k}) for i in range(0, 300, 50)]
        st.add(name, recs)
    return list(st.runs.values())


def test_ten_overlaid_runs_each_have_a_tag_colour_and_a_legend_entry_at_80_columns() -> None:
    runs = _ten_runs()
    view = ViewState(overlay=True, current="adam-lr1")
    lines = render_chart(loss_spec(runs, view, EmaCache()), 50, 14)  # the loss panel at 80x24
    legend = " ".join(line.plain for line in lines[:3])
    tags = "1234567890"
    for tag in tags:
        assert f" {tag} " in f" {legend} ", legend  # every run has an entry
    assert "adam-lr1" in legend and "┄ val" in legend
    plot = [line.plain[8:] for line in lines[3:-1]]
    assert set(tags) <= set("".join(plot)), plot  # and its tag at the end of its line
    styles = {tr.style for tr in loss_spec(runs, view, EmaCache()).traces if tr.tag}
    assert len(styles) == 10  # ten distinct colours (the current run bold)


def test_without_colour_the_current_run_is_bold_and_the_legend_says_so() -> None:
    runs = _ten_runs()
    view = ViewState(overlay=True, current="adam-lr1", mono=True)
    spec = loss_spec(runs, view, EmaCache())
    tagged = {tr.label: tr.style for tr in spec.traces if tr.tag}
    assert tagged["adam-lr1"] == "bold"
    assert all(st == "grey50" for name, st in tagged.items() if name != "adam-lr1")
    legend = " ".join(line.plain for line in render_chart(spec, 80, 16)[:3])
    assert "bold: run 6" in legend


def test_val_loss_is_dashed_with_dots_so_it_differs_without_colour() -> None:
    st = MetricStore()
    st.add("r", [Metrics(i, {"val_loss": 1.0}) for i in range(0, 1000, 100)])
    spec = loss_spec(list(st.runs.values()), ViewState(), EmaCache())
    (val,) = spec.traces
    assert val.dashed and val.points
    lines = render_chart(spec, 68, 8)
    row = next(line.plain[8:] for line in lines[1:-1] if "•" in line.plain)
    assert row.count("•") >= 8  # one per evaluation
    assert "  " in row.strip()  # gaps: a dashed line, not the solid one of the train loss
    assert "┄ val" in lines[0].plain


def test_an_lr_decayed_to_almost_zero_is_drawn_to_its_end_not_clipped() -> None:
    st = MetricStore()
    n = 400
    st.add(
        "cos",
        [
            Metrics(i, {"lr": 0.1 * (1 + math.cos(math.pi * i / n)) / 2 + 1e-7})
            for i in range(n + 1)
        ],
    )
    lines = render_chart(lr_spec(list(st.runs.values()), ViewState()), 60, 10)
    text = "\n".join(line.plain for line in lines)
    assert "▼" not in text and "▲" not in text


def test_a_names_the_finding_whose_fix_it_asks_to_apply() -> None:
    f = finding(1200, "error")
    assert finding_label(f) == "lr_too_high since 1,200"
    question = fix_question(f"{f.severity} {finding_label(f)}", "Change the LR of run r: …")
    assert question.startswith("Fix for error lr_too_high since 1,200:\nChange the LR")
