"""The store at a ``rewind`` record: the abandoned branch is kept aside, the live series
goes on from the rewind point as one monotonic branch."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from lrwatch.branches import MAX_ABANDONED
from lrwatch.formats.jsonl import JsonlParser
from lrwatch.records import Event, Metrics
from lrwatch.sources import read_runs
from lrwatch.store import MetricStore, RunData, Series, reduce_points
from tests.rewind_logs import header, losses, metric, rewind, spike_and_rewind, write
from tests.test_store import assert_same, brute


def parsed(lines: list[str]) -> RunData:
    """The lines through the JSONL parser into a store, one record at a time."""
    store = MetricStore()
    store.add("r", JsonlParser().feed(("\n".join(lines) + "\n").encode()))
    return store.runs["r"]


def test_points_after_the_rewind_point_become_the_abandoned_segment() -> None:
    run = parsed(spike_and_rewind(n=60, spike_at=50, to=40))
    loss = run.series["loss"]
    assert loss.steps.tolist() == list(range(1, 71))
    assert loss.monotonic
    assert loss.values[40:].max() < 5.0  # the live branch: no spike in it
    cut = run.abandoned["loss"]
    assert len(cut) == 1 and cut[0].steps.tolist() == list(range(41, 61))
    assert cut[0].values.max() == 50.0 * 11
    assert run.abandoned["lr"][0].values.tolist() == [0.1] * 20
    assert run.series["lr"].values[-1] == 0.01
    # Best and last values are the live branch's; a reduction sees it alone.
    assert loss.vmax == loss.values.max() < 50.0
    assert loss.last_finite == loss.values[-1]
    assert_same(loss.reduce(16), brute(loss, 16))
    assert [(r.from_step, r.to_step, r.factor, r.by) for r in run.rewinds] == [
        (60, 40, 0.1, "unix")
    ]
    assert run.last_step == 70


def test_the_last_step_goes_back_to_the_rewind_point_until_new_steps_come() -> None:
    run = parsed([header(), *losses(range(1, 31)), rewind(30, 20)])
    assert run.last_step == 20
    assert len(run.series["loss"]) == 20


def test_rewinds_stack() -> None:
    lines = [header(), *losses(range(1, 31)), rewind(30, 20)]
    lines += [*losses(range(21, 36)), rewind(35, 10), *losses(range(11, 16))]
    run = parsed(lines)
    assert run.series["loss"].steps.tolist() == list(range(1, 16))
    assert [s.steps.tolist() for s in run.abandoned["loss"]] == [
        list(range(21, 31)),
        list(range(11, 36)),
    ]
    assert [(r.from_step, r.to_step) for r in run.rewinds] == [(30, 20), (35, 10)]


def test_a_nan_of_the_abandoned_branch_no_longer_counts() -> None:
    lines = [header(), *losses(range(1, 21)), metric(21, math.nan), metric(22, math.inf)]
    run = parsed([*lines, rewind(22, 20), *losses(range(21, 25))])
    loss = run.series["loss"]
    assert loss.nonfinite == 0 and np.isfinite(loss.values).all()
    assert run.abandoned["loss"][0].nonfinite == 2
    assert not loss.reduce(8).nan.any()


def test_steps_going_back_without_a_rewind_record_are_kept_as_before() -> None:
    run = parsed([header(), *losses(range(1, 31)), *losses(range(21, 41))])
    loss = run.series["loss"]
    assert len(loss) == 50 and not loss.monotonic
    assert run.abandoned == {} and run.rewinds == []
    assert run.last_step == 40


def test_a_rewind_record_without_a_valid_to_step_is_a_plain_event() -> None:
    for bad in ("x", -1, True, None, 1.5):
        run = parsed([header(), *losses(range(1, 11)), rewind(10, 5, to_step=bad)])
        assert len(run.series["loss"]) == 10 and run.rewinds == []
        assert [e.kind for e in run.events] == ["run", "rewind"]


def test_a_rewind_past_the_last_step_cuts_nothing() -> None:
    run = parsed([header(), *losses(range(1, 11)), rewind(10, 10)])
    assert len(run.series["loss"]) == 10 and run.abandoned == {}
    assert len(run.rewinds) == 1


def test_series_of_every_layout_are_cut() -> None:
    """A group in group mode stays one, a member that left it and a series that shares
    rows outside group mode are cut too, and appends after the rewind go on as before."""
    run = RunData("r")
    run.add([Metrics(s, {"loss": 1.0, "lr": 0.1}) for s in range(1, 11)])
    run.add([Metrics(s, {"val_loss": 2.0}) for s in range(2, 11, 2)])  # its own group
    run.add([Metrics(s, {"loss": 1.0, "acc": 0.5}) for s in (11, 12)])  # acc: shared rows
    assert not run.series["acc"]._own and run.series["acc"]._axis.members is None
    run.add([Event("rewind", {"to_step": 6}, step=12)])
    group = run.series["lr"]._axis
    assert group.members is not None  # still in group mode: appends stay cheap
    run.add([Metrics(s, {"loss": 0.5, "lr": 0.01}) for s in range(7, 13)])
    assert run.series["loss"].steps.tolist() == list(range(1, 13))
    assert run.series["lr"].steps.tolist() == list(range(1, 13))
    assert run.series["val_loss"].steps.tolist() == [2, 4, 6]
    assert run.abandoned["val_loss"][0].steps.tolist() == [8, 10]
    assert run.abandoned["loss"][0].steps.tolist() == [7, 8, 9, 10, 11, 12]
    assert len(run.series["acc"]) == 0 and run.abandoned["acc"][0].steps.tolist() == [11, 12]
    run.add([Metrics(13, {"loss": 0.4, "acc": 0.6})])
    assert run.series["acc"].steps.tolist() == [13]


def test_reduce_after_a_rewind_equals_brute_force_on_a_large_series() -> None:
    """The min/max pyramid is cut with the values: its summaries stay exact."""
    rng = np.random.default_rng(3)
    n, to = 300_000, 123_456
    run = RunData("r")
    run.add_columns(np.arange(n), {"loss": rng.normal(1.0, 0.1, n)})
    loss = run.series["loss"]
    loss.reduce(100)  # builds the pyramid over all n points
    run.add([Event("rewind", {"to_step": to}, step=n - 1)])
    run.add_columns(np.arange(to + 1, to + 5000), {"loss": rng.normal(0.5, 0.1, 4999)})
    assert loss.monotonic and len(loss) == to + 1 + 4999
    for lo, hi in ((None, None), (100_000, 125_000), (123_000, 124_000)):
        assert_same(loss.reduce(97, lo, hi), brute(loss, 97, lo, hi))
    whole = reduce_points(loss.steps, loss.values, 50)
    assert_same(loss.reduce(50), whole)
    assert loss.vmax == loss.values.max() and loss.vmin == loss.values.min()


def test_abandoned_segments_are_capped_per_metric() -> None:
    lines = [header(), *losses(range(1, 3))]
    for _ in range(MAX_ABANDONED + 5):
        lines += [*losses(range(2, 4)), rewind(3, 2)]
    run = parsed(lines)
    segs = run.abandoned["loss"]
    assert len(segs) == MAX_ABANDONED
    assert sum(len(s) for s in segs) == MAX_ABANDONED + 5  # no point lost
    assert len(run.rewinds) == MAX_ABANDONED + 5


def test_a_log_read_from_a_file_is_one_run_with_every_record(tmp_path: Path) -> None:
    """The real reading path (tail, block mode, ingest): one run, nothing dropped."""
    lines = spike_and_rewind(n=3000, spike_at=2900, to=2500)
    store = read_runs([str(write(tmp_path / "run.jsonl", lines))])
    assert list(store.runs) == ["run"]
    run = store.runs["run"]
    assert run.records == len(lines)
    assert run.series["loss"].steps.tolist() == list(range(1, 3011))
    assert run.abandoned["loss"][0].steps.tolist() == list(range(2501, 3001))
    assert [e.kind for e in run.events] == ["run", "rewind"]


def test_tail_copies_points_and_times() -> None:
    s = Series("x")
    for i in range(10):
        s.append(i, float(i), 100.0 + i)
    t = s.tail(7)
    assert t.steps.tolist() == [7, 8, 9] and t.times.tolist() == [107.0, 108.0, 109.0]
    assert len(s) == 10
