"""The runs table's rows, sorted, filtered and drawn (pure functions, no app)."""

from __future__ import annotations

import math

from lrwatch.records import Event, Metrics
from lrwatch.session.control import ControlInfo
from lrwatch.sources.peek import Peek
from lrwatch.store import MetricStore
from lrwatch.tui.runs import (
    COLUMNS,
    UNJUDGED,
    RunRow,
    cell_text,
    matches,
    run_row,
    sort_rows,
    widths,
)
from tests.tui.helpers import finding


def _store() -> MetricStore:
    st = MetricStore()
    recs: list = [Event("run", {"run": "a", "t": 1000.0}, None, 1000.0)]
    for i in range(100):
        values = {"loss": 2.0 - i * 0.01, "lr": 1e-3, "sys/gpu0/util": 20.0, "sys/gpu1/util": 40.0}
        recs.append(Metrics(i, values, 1000.0 + i))
    recs.append(Event("end", {"status": "crashed"}, 99, 1100.0))
    st.add("a", recs)
    return st


def test_a_row_tells_state_step_smoothed_loss_best_lr_gpu_and_the_worst_open_finding() -> None:
    run = _store().runs["a"]
    open_warning = finding(50, "warning")
    resolved_error = finding(20, "error", resolved=True)
    row = run_row(
        run,
        now=2000.0,
        last_write=1100.0,
        control=ControlInfo(),
        findings=[resolved_error, open_warning],
    )
    assert row.state == "crashed" and row.step == 99
    # The mean of the last 25 losses (2.0 - 0.75 … 2.0 - 0.99), not the last raw value.
    assert math.isclose(row.loss or 0, 2.0 - 0.87, rel_tol=1e-9)
    assert math.isclose(row.best or 0, 2.0 - 0.99) and row.lr == 1e-3
    assert row.gpu == 30.0  # two GPUs, averaged
    assert (row.finding, row.severity) == ("lr_too_high", 1)  # the resolved error is over
    assert not row.controllable and not row.peeked


def test_a_run_not_judged_yet_says_so_and_a_clean_one_says_none() -> None:
    run = _store().runs["a"]
    kw = {"now": 2000.0, "last_write": 1100.0, "control": ControlInfo()}
    unjudged = run_row(run, findings=None, **kw)  # type: ignore[arg-type]
    clean = run_row(run, findings=[], **kw)  # type: ignore[arg-type]
    assert unjudged.severity == UNJUDGED and cell_text(unjudged, "finding").plain == "…"
    assert clean.severity == 0 and cell_text(clean, "finding").plain == "—"


def test_a_run_whose_log_is_still_being_read_shows_its_peek_dimmed() -> None:
    st = MetricStore()
    run = st.run("big", path="/x/big.jsonl")
    peek = Peek(10_000_000, last_step=9999, loss=0.5, lr=3e-4, status="finished")
    row = run_row(
        run, now=5000.0, last_write=100.0, control=ControlInfo(), findings=None, peek=peek
    )
    assert (row.state, row.step, row.loss, row.lr, row.peeked) == (
        "finished",
        9999,
        0.5,
        3e-4,
        True,
    )
    assert cell_text(row, "best").plain == "…"  # the minimum needs the whole log
    assert "dim" in str(cell_text(row, "loss").style)
    quiet = Peek(100, last_step=3)
    row = run_row(
        run, now=5000.0, last_write=100.0, control=ControlInfo(), findings=None, peek=quiet
    )
    assert row.state == "idle"  # no end record, no write for over an hour


def _rows() -> list[RunRow]:
    return [
        RunRow("b-run", "live", 10, loss=0.5, finding="loss_spike", severity=1),
        RunRow("a-run", "crashed", 20, loss=None, finding="nan_inf", severity=2),
        RunRow("c-run", "finished", 30, loss=0.2, severity=0),
        RunRow("d-run", "idle", 5, loss=0.5, severity=UNJUDGED),
        RunRow("e-run", "finished", 7, loss=math.nan, severity=0),
    ]


def test_sorting_puts_unknown_values_last_either_way_and_ties_in_name_order() -> None:
    by_loss = [r.name for r in sort_rows(_rows(), "loss")]
    assert by_loss == ["c-run", "b-run", "d-run", "a-run", "e-run"]
    down = [r.name for r in sort_rows(_rows(), "loss", reverse=True)]
    assert down[:3] == ["b-run", "d-run", "c-run"] and set(down[3:]) == {"a-run", "e-run"}
    # Findings: the worst first, then the clean runs, the ones not judged yet last.
    assert [r.name for r in sort_rows(_rows(), "finding")] == [
        "a-run",
        "b-run",
        "c-run",
        "e-run",
        "d-run",
    ]
    assert [r.name for r in sort_rows(_rows(), "state")][:2] == ["a-run", "b-run"]


def test_the_filter_matches_names_states_and_symptoms_and_excludes_with_a_minus() -> None:
    rows = _rows()
    assert [r.name for r in rows if matches(r, "crashed")] == ["a-run"]
    assert [r.name for r in rows if matches(r, "SPIKE")] == ["b-run"]
    assert [r.name for r in rows if matches(r, "run -finished -idle")] == ["b-run", "a-run"]
    assert all(matches(r, "") for r in rows)


def test_narrow_tables_drop_the_optional_columns_and_keep_the_name_readable() -> None:
    wide = widths(160)
    assert all(w > 0 for w in wide) and sum(wide) + len(COLUMNS) - 1 == 160
    narrow = widths(76)
    dropped = {c.key for c, w in zip(COLUMNS, narrow, strict=True) if w == 0}
    assert {"gpu", "steps_per_s"} <= dropped and narrow[0] >= 12
    assert sum(narrow) + sum(1 for w in narrow[1:] if w) <= 76


def test_a_blown_up_run_shows_nan_not_its_last_good_loss_and_rates_fit_their_column() -> None:
    st = MetricStore()
    st.add(
        "boom", [Metrics(i, {"loss": 1.0 if i < 9 else math.nan}, 1000.0 + i) for i in range(10)]
    )
    row = run_row(
        st.runs["boom"], now=1010.0, last_write=1010.0, control=ControlInfo(), findings=[]
    )
    assert row.loss is not None and math.isnan(row.loss)
    cell = cell_text(row, "loss")
    assert cell.plain == "nan" and "red" in str(cell.style)
    rates = {
        v: cell_text(RunRow("r", "live", steps_per_s=v), "steps_per_s").plain
        for v in (0.25, 48.086, 512.4, 49_000.0)
    }
    assert rates == {0.25: "0.25", 48.086: "48.1", 512.4: "512", 49_000.0: "4.9e4"}
    assert all(len(text) <= 6 for text in rates.values())
