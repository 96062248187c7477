"""Any metric as a panel, the system panel, and the auto log-y in the app (pure and Pilot)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import SelectionList

from lrwatch.records import Metrics
from lrwatch.store import MetricStore
from lrwatch.tui.app import LRWatchApp
from lrwatch.tui.panels import (
    build_panel,
    has_system,
    metric_names,
    metric_spec,
    system_spec,
    system_traces,
)
from lrwatch.tui.prefs import ViewPrefs, dir_key
from lrwatch.tui.smooth import EmaCache
from lrwatch.tui.view import ViewState
from lrwatch.tui.widgets.charts import ChartPanel
from lrwatch.tui.widgets.metric_picker import MetricPicker, picker_entries

from .helpers import until

SYS = {
    "sys/gpu0/util": 40.0,
    "sys/gpu1/util": 90.0,
    "sys/gpu0/mem_used_mb": 20_000.0,
    "sys/gpu0/mem_total_mb": 80_000.0,
    "sys/host_mem_used_mb": 48_000.0,
    "sys/host_mem_total_mb": 64_000.0,
    "sys/cpu_percent": 75.0,
    "sys/rss_mb": 900.0,
}


def _record(i: int, system: bool = True) -> dict[str, float]:
    rec = {"loss": 2.0 - i * 0.001, "lr": 1e-3, "acc": 0.1 + i * 0.001, "tokens_per_s": 1e3}
    return {**rec, **SYS} if system else rec


def _store(runs: dict[str, bool]) -> MetricStore:
    """Runs by name; True: the run logs system metrics too."""
    st = MetricStore()
    for name, system in runs.items():
        st.add(name, [Metrics(i, _record(i, system), 1000.0 + i) for i in range(200)])
    return st


# ---- pure ---------------------------------------------------------------------------------


def test_metric_names_offer_every_series_but_the_fixed_ones_system_last() -> None:
    st = _store({"a": True})
    names = metric_names(st.runs.values())
    assert names[:2] == ["acc", "tokens_per_s"]
    assert "loss" not in names and "lr" not in names
    assert names[2:] == sorted(SYS) and has_system(st.runs.values())
    # A picked metric no run has (yet) is still listed, so it can be unpicked.
    assert picker_entries(["acc", "sys/rss_mb"], ["zz"]) == ["acc", "zz", "sys/rss_mb"]


def test_a_metric_panel_per_run_with_its_name_and_log_y_only_where_positive() -> None:
    st = _store({"a": False, "b": False})
    runs = list(st.runs.values())
    one = metric_spec("acc", runs[:1], ViewState())
    assert one.title == "acc" and len(one.traces) == 1 and not one.log_y and one.auto_log
    both = metric_spec("acc", runs, ViewState(current="a"))
    assert [t.tag for t in both.traces] == ["1", "2"] and both.traces[0].style.startswith("bold")
    assert metric_spec("acc", runs, ViewState(y_scale="log")).log_y
    st.add("a", [Metrics(300, {"acc": -1.0}, 1300.0)])
    assert not metric_spec("acc", runs, ViewState(y_scale="log")).log_y
    assert not metric_spec("acc", runs, ViewState(y_scale="lin")).auto_log
    missing = metric_spec("mfu", runs, ViewState())
    assert missing.traces == [] and "no mfu" in missing.empty_note


def test_system_panel_draws_percentages_of_the_current_run() -> None:
    st = _store({"a": True, "b": False})
    traces = dict(system_traces(st.runs["a"]))
    assert list(traces) == ["gpu0", "gpu1", "cpu", "gpu0 mem", "host mem"]
    assert traces["gpu0 mem"].values[0] == pytest.approx(25.0)
    assert traces["host mem"].values[-1] == pytest.approx(75.0)
    spec = system_spec([st.runs["a"]], ViewState())
    assert spec is not None and spec.y_range == (0.0, 100.0) and spec.title == "system %"
    # Overlaid: the current run's, named; a run without system metrics draws no panel.
    both = system_spec(list(st.runs.values()), ViewState(current="a"))
    assert both is not None and both.title == "system % · a"
    assert system_spec([st.runs["b"]], ViewState()) is None
    assert build_panel("system", [st.runs["b"]], ViewState(), EmaCache()) is None


def test_memory_percent_reads_the_total_at_each_step_when_logged_apart() -> None:
    st = MetricStore()
    st.add("a", [Metrics(0, {"sys/gpu0/mem_total_mb": 1000.0}, 1.0)])
    st.add("a", [Metrics(i, {"sys/gpu0/mem_used_mb": 10.0 * i}, 1.0 + i) for i in range(1, 5)])
    (label, pct), *_ = system_traces(st.runs["a"])
    assert label == "gpu0 mem" and list(pct.values) == pytest.approx([1.0, 2.0, 3.0, 4.0])


# ---- the app ------------------------------------------------------------------------------


def _chart_text(app: LRWatchApp, chart: str) -> str:
    panel = next(p for p in app.charts_w if p.chart == chart)
    return panel.render().plain


def _write_log(path: Path, steps: range, system: bool = True) -> None:
    with path.open("a") as f:
        for i in steps:
            f.write(json.dumps({"step": i, **_record(i, system)}) + "\n")


async def test_picked_metrics_are_mounted_live_and_remembered_per_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    log = tmp_path / "runs" / "r1.jsonl"
    log.parent.mkdir()
    _write_log(log, range(100))
    app = LRWatchApp(paths=[str(log)])
    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: "r1" in app.store.runs and app.charts_w[3].display)
        await until(pilot, lambda: "system %" in _chart_text(app, "system"))
        assert "gpu1" in _chart_text(app, "system") and "host mem" in _chart_text(app, "system")
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, MetricPicker))
        picker = app.screen.query_one(SelectionList)
        assert picker.get_option_at_index(0).value == "acc"
        await pilot.press("space")  # tick acc: its panel appears under the fixed ones
        await until(pilot, lambda: any(p.chart == "metric:acc" for p in app.charts_w))
        assert app.picked == ["acc"]
        await pilot.press("down", "space")  # and tokens_per_s below it
        await until(pilot, lambda: app.picked == ["acc", "tokens_per_s"])
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, MetricPicker))
        await until(pilot, lambda: _chart_text(app, "metric:acc").startswith("acc"))
        panels = list(app.charts_box.query(ChartPanel))
        assert [p.chart for p in panels][-2:] == ["metric:acc", "metric:tokens_per_s"]
        # Written at once, for the directory the logs are in.
        key = dir_key([str(log)])
        assert ViewPrefs(key).load_metrics() == (["acc", "tokens_per_s"], None)
        # A metric that appears later (written by another process) is offered next time.
        line = json.dumps({"step": 100, "loss": 1.0, "mfu": 0.4})
        code = f"open({str(log)!r}, 'a').write({line!r} + '\\n')"
        subprocess.run([sys.executable, "-c", code], check=True)
        await until(pilot, lambda: "mfu" in app.store.runs["r1"].series)
        await pilot.press("M")
        await until(pilot, lambda: isinstance(app.screen, MetricPicker))
        options = app.screen.query_one(SelectionList)
        values = [options.get_option_at_index(i).value for i in range(options.option_count)]
        assert values[:3] == ["acc", "mfu", "tokens_per_s"]
        await pilot.press("space")  # untick acc: its panel goes
        await until(pilot, lambda: all(p.chart != "metric:acc" for p in app.charts_w))
        await until(pilot, lambda: len(app.charts_box.query(".metric")) == 1)
        await pilot.press("escape")
    # Another session on the same directory starts with the same panels.
    again = LRWatchApp(paths=[str(log)])
    async with again.run_test(size=(100, 40)) as pilot:
        await until(pilot, lambda: "r1" in again.store.runs)
        assert [p.chart for p in again.charts_w][4:] == ["metric:tokens_per_s"]


async def test_a_corrupt_views_file_is_a_status_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "state" / "lrwatch").mkdir(parents=True)
    (tmp_path / "state" / "lrwatch" / "views.json").write_text("{oops")
    log = tmp_path / "r1.jsonl"
    _write_log(log, range(20), system=False)
    app = LRWatchApp(paths=[str(log)])
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: "ignored" in app.status_w.render().plain)  # type: ignore[union-attr]
        await until(pilot, lambda: "r1" in app.store.runs)
        assert not app.charts_w[3].display  # no system metrics: no system panel


async def test_a_1e15_excursion_draws_the_loss_log_y_until_l_forces_an_axis() -> None:
    st = MetricStore()
    loss = [2.0] * 100 + [1e15] * 50 + [0.5] * 100
    st.add("x", [Metrics(i, {"loss": v, "lr": 1e-3}, 1000.0 + i) for i, v in enumerate(loss)])
    app = LRWatchApp(st, clock=lambda: 1300.0)
    async with app.run_test(size=(100, 30)) as pilot:
        title = lambda: _chart_text(app, "loss").splitlines()[0]  # noqa: E731
        status = lambda: app.status_w.render().plain  # type: ignore[union-attr]  # noqa: E731
        await until(pilot, lambda: "(log, auto)" in title())
        assert "auto-y" in status()
        await pilot.press("l")
        await until(pilot, lambda: "(log)" in title() and "log-y" in status())
        await pilot.press("l")
        await until(pilot, lambda: "(log" not in title() and "lin-y" in status())
        await pilot.press("L")
        await until(pilot, lambda: "(log, auto)" in title() and "auto-y" in status())
        assert not math.isnan(app.store.runs["x"].series["loss"].values[-1])
