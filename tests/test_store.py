"""MetricStore / Series: storage, running stats, and the incremental min/max reduction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrwatch.records import Event, MetricBlock, Metrics
from lrwatch.store import MetricStore, Reduced, RunData, Series, reduce_points

FIELDS = ("x0", "x1", "ymin", "ymax", "first", "last", "nan", "inf", "count")


def brute(series: Series, columns: int, lo: int | None = None, hi: int | None = None) -> Reduced:
    """The reference: reduce_points on the points stably sorted by step."""
    order = np.argsort(series.steps, kind="stable")
    return reduce_points(series.steps[order], series.values[order], columns, lo, hi)


def assert_same(got: Reduced, want: Reduced) -> None:
    for name in FIELDS:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype, name
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), (name, a, b)


def test_reduce_exact_values() -> None:
    s = Series("loss")
    s.extend(np.arange(10), [5.0, 1.0, math.nan, 3.0, 4.0, math.inf, 2.0, 8.0, 0.5, 9.0])
    r = s.reduce(5)
    assert r.x0.tolist() == [0, 2, 4, 6, 8]
    assert r.x1.tolist() == [1, 3, 5, 7, 9]
    assert r.ymin.tolist() == [1.0, 3.0, 4.0, 2.0, 0.5]
    assert r.ymax.tolist() == [5.0, 3.0, 4.0, 8.0, 9.0]
    assert r.nan.tolist() == [False, True, False, False, False]
    assert r.inf.tolist() == [False, False, True, False, False]
    assert r.count.tolist() == [2, 2, 2, 2, 2]
    assert math.isnan(r.first[1]) and r.last[2] == math.inf


def test_reduce_column_of_only_nan_has_nan_min_max() -> None:
    s = Series()
    s.extend([0, 1, 2, 3], [1.0, math.nan, math.nan, 2.0])
    r = s.reduce(4)
    assert math.isnan(r.ymin[1]) and math.isnan(r.ymax[1]) and r.nan[1]
    assert r.count.tolist() == [1, 1, 1, 1]


def test_reduce_empty_and_out_of_range() -> None:
    s = Series()
    assert len(s.reduce(10)) == 0
    s.extend(np.arange(100), np.ones(100))
    assert len(s.reduce(0)) == 0
    assert len(s.reduce(10, 200, 300)) == 0
    assert len(s.reduce(10, 50, 40)) == 0
    assert s.reduce(10, 95, 200).count.sum() == 5


values_st = st.one_of(
    st.floats(-1e6, 1e6),
    st.sampled_from([math.nan, math.inf, -math.inf]),
)


@st.composite
def series_cases(draw: st.DrawFn) -> tuple[list[int], list[float], str]:
    n = draw(st.integers(0, 3000))
    kind = draw(st.sampled_from(["sorted", "resumed", "random", "dense"]))
    rnd = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if kind == "sorted":
        steps = np.sort(rnd.integers(-50, 5000, n))
    elif kind == "dense":
        steps = np.arange(n) * draw(st.integers(1, 5))
    elif kind == "resumed":
        cut = n // 2
        steps = np.r_[np.arange(cut), np.arange(n - cut) + cut // 3]
    else:
        steps = rnd.integers(0, 100, n)
    values = rnd.normal(size=n)
    values[rnd.random(n) < draw(st.sampled_from([0.0, 0.01, 0.3]))] = math.nan
    values[rnd.random(n) < 0.01] = math.inf
    values[rnd.random(n) < 0.01] = -math.inf
    # A few hand-picked values at random places, so hypothesis can shrink towards them.
    for v in draw(st.lists(values_st, max_size=3)):
        if n:
            values[rnd.integers(0, n)] = v
    return steps.tolist(), values.tolist(), draw(st.sampled_from(["append", "extend", "run"]))


def build(steps: list[int], values: list[float], how: str) -> Series:
    if how == "run":
        run = RunData("r")
        run.add(
            Metrics(step, {"loss": v, "lr": 1.0}) for step, v in zip(steps, values, strict=True)
        )
        return run.metric("loss")
    s = Series("loss")
    if how == "append":
        for step, v in zip(steps, values, strict=True):
            s.append(step, v)
    else:
        s.extend(steps, values)
    return s


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=series_cases(),
    columns=st.integers(1, 300),
    lo=st.one_of(st.none(), st.integers(-100, 5000)),
    hi=st.one_of(st.none(), st.integers(-100, 6000)),
)
def test_reduce_equals_brute_force(
    case: tuple[list[int], list[float], str], columns: int, lo: int | None, hi: int | None
) -> None:
    steps, values, how = case
    s = build(steps, values, how)
    assert s.steps.tolist() == steps
    assert np.array_equal(s.values, np.array(values, dtype=np.float64), equal_nan=True)
    assert_same(s.reduce(columns, lo, hi), brute(s, columns, lo, hi))
    # Grow it (the pyramid catches up lazily) and reduce again.
    s.extend(np.asarray(steps[-5:], dtype=np.int64) + 7, values[:5])
    for k in range(200):
        s.append((steps[-1] if steps else 0) + k, float(k % 7) if k != 50 else math.nan)
    assert_same(s.reduce(columns, lo, hi), brute(s, columns, lo, hi))
    assert_same(s.reduce(columns), brute(s, columns))


def test_growth_one_by_one_keeps_every_point() -> None:
    s = Series("x")
    n = 100_000
    for i in range(n):
        s.append(i * 2, float(i), 1000.0 + i)
        if i in (0, 255, 256, 4095, 4096, 70_000):
            assert len(s) == i + 1 and s.values[-1] == float(i) and s.steps[-1] == 2 * i
    assert len(s) == n
    assert np.array_equal(s.steps, np.arange(n) * 2)
    assert np.array_equal(s.values, np.arange(n, dtype=np.float64))
    assert np.array_equal(s.times, 1000.0 + np.arange(n))
    assert s.reduce(100).count.sum() == n
    with pytest.raises(ValueError):
        s.values[0] = 1.0  # views are read-only: steps/times may be shared between series


def test_times_default_to_nan() -> None:
    s = Series()
    s.append(1, 1.0)
    s.append(2, 2.0, 5.0)
    s.extend([3], [3.0])
    assert np.isnan(s.times[0]) and s.times[1] == 5.0 and np.isnan(s.times[2])


def test_single_nan_and_spike_among_ten_million_points_are_visible() -> None:
    n = 10_000_000
    rng = np.random.default_rng(1)
    values = rng.normal(1.0, 0.01, n)
    values[3_141_592] = math.nan
    values[8_000_001] = 1e6
    s = Series("loss")
    s.extend(np.arange(n), values)
    del values
    r = s.reduce(200)
    assert len(r) == 200 and r.count.sum() == n
    assert np.flatnonzero(r.nan).tolist() == [3_141_592 * 200 // n]
    assert np.flatnonzero(r.ymax > 100).tolist() == [8_000_001 * 200 // n]
    assert s.nonfinite == 1 and s.vmax == 1e6
    # A live update: the new NaN shows up in the last column.
    s.append(n, math.inf)
    r = s.reduce(200)
    assert r.inf[-1] and not r.inf[:-1].any()


def test_columns_line_up_across_series() -> None:
    a, b = Series("loss"), Series("val_loss")
    a.extend(np.arange(0, 10_000), np.ones(10_000))
    b.extend(np.arange(0, 10_000, 500) + 250, np.ones(20))
    lo, hi, cols = 0, 9_999, 40
    ra, rb = a.reduce(cols, lo, hi), b.reduce(cols, lo, hi)
    span = hi - lo + 1

    def col(x: np.ndarray) -> np.ndarray:
        return (x - lo) * cols // span

    assert np.array_equal(col(ra.x0), col(ra.x1)) and np.array_equal(col(rb.x0), col(rb.x1))
    assert set(col(rb.x0).tolist()) <= set(col(ra.x0).tolist())
    assert col(rb.x0).tolist() == [(250 + 500 * k) * cols // span for k in range(20)]


def test_resumed_run_keeps_both_passes() -> None:
    s = Series("loss")
    s.extend(np.arange(0, 1000), np.full(1000, 2.0))
    s.extend(np.arange(500, 1500), np.full(1000, 1.0))
    assert not s.monotonic
    r = s.reduce(3, 0, 1499)
    assert r.count.tolist() == [500, 1000, 500]
    assert r.ymin.tolist() == [2.0, 1.0, 1.0] and r.ymax.tolist() == [2.0, 2.0, 1.0]
    assert r.first[1] == 2.0 and r.last[1] == 1.0
    assert_same(r, brute(s, 3, 0, 1499))


def test_many_segments_fall_back_to_sorting() -> None:
    rng = np.random.default_rng(3)
    s = Series()
    s.extend(rng.integers(0, 1000, 5000), rng.normal(size=5000))
    assert not s.monotonic
    assert_same(s.reduce(77), brute(s, 77))
    s.append(2000, math.nan)
    assert_same(s.reduce(77), brute(s, 77))


def test_running_stats() -> None:
    s = Series()
    assert s.vmin is None and s.last_finite is None and s.summary()["first"] is None
    for v in [3.0, math.nan, 1.0, 7.0, math.inf]:
        s.append(len(s), v)
    assert (s.vmin, s.vmax, s.last_finite, s.nonfinite) == (1.0, 7.0, 7.0, 2)
    summ = s.summary()
    assert summ["count"] == 5 and summ["first"] == 3.0 and summ["last"] == math.inf
    assert summ["min"] == 1.0 and summ["max"] == 7.0 and summ["last_finite"] == 7.0
    s.extend([9, 10], [-2.0, math.nan])
    assert (s.vmin, s.last_finite, s.nonfinite) == (-2.0, -2.0, 3)
    assert s.finite_values().tolist() == [3.0, 1.0, 7.0, -2.0]


def test_rundata_add_metrics_and_events() -> None:
    run = MetricStore().run("r1", path="/tmp/x.jsonl", format="jsonl")
    header = Event("run", {"run": "r1", "control": "unix:/tmp/s.sock", "lr": [0.1]}, t=1.0)
    recs = [
        header,
        Event("run", {"run": "second header is not the header"}),
        *(Metrics(i, {"loss": 1.0 / (i + 1), "lr": 0.1}, t=2.0 + i) for i in range(10)),
        Event("lr_change", {"old": [0.1], "new": [0.05]}, step=10),
        Metrics(10, {"loss": 0.05, "lr": 0.05}, t=13.0, step_inferred=True),
        Event("end", {"status": "finished"}, t=14.0),
    ]
    assert run.add(recs) == len(recs)
    assert run.header == header.data and run.header is not header.data
    assert run.records == len(recs) and (run.first_step, run.last_step) == (0, 10)
    assert run.last_time == 14.0 and run.steps_inferred
    assert run.ended is not None and run.ended.data["status"] == "finished"
    assert [e.kind for e in run.events] == ["run", "run", "lr_change", "end"]
    loss, lr = run.series["loss"], run.series["lr"]
    assert loss.steps.tolist() == list(range(11)) and lr.values[-1] == 0.05
    assert loss.times.tolist() == [2.0 + i for i in range(10)] + [13.0]
    # Metrics that always arrive together share one step/time column.
    assert np.shares_memory(loss.steps, lr.steps)


def test_rundata_sparse_and_mixed_key_sets() -> None:
    """HF-style: train records, eval records, a key in both, a record missing a key."""
    run = RunData("hf")
    expected: dict[str, list[tuple[int, float]]] = {}

    def add(step: int, values: dict[str, float]) -> None:
        run.add([Metrics(step, values, t=float(step))])
        for k, v in values.items():
            expected.setdefault(k, []).append((step, v))

    for step in range(1, 400):
        add(step, {"loss": 1.0 / step, "lr": 1e-3, "epoch": step / 100})
        if step % 50 == 0:
            add(step, {"val_loss": 2.0 / step, "epoch": step / 100})
        if step % 97 == 0:
            add(step, {"loss": 0.5})  # a record without lr and epoch
    run.add([Metrics(400, {})])
    assert run.last_step == 400
    for name, pts in expected.items():
        s = run.series[name]
        assert s.steps.tolist() == [p[0] for p in pts], name
        assert s.values.tolist() == [p[1] for p in pts], name
        assert s.times.tolist() == [float(p[0]) for p in pts], name
        assert_same(s.reduce(33), brute(s, 33))


def test_series_of_one_run_reduce_independently_of_shared_columns() -> None:
    run = RunData("r")
    run.add(Metrics(i, {"a": float(i), "b": -float(i)}) for i in range(5000))
    a, b = run.series["a"], run.series["b"]
    a.append(5000, math.nan)  # a direct append takes a private copy of the shared columns
    run.add([Metrics(5001, {"a": 1.0, "b": 2.0})])
    assert len(a) == 5002 and len(b) == 5001
    assert a.steps[-2:].tolist() == [5000, 5001] and b.steps[-1] == 5001
    assert a.reduce(10).nan.tolist() == [False] * 9 + [True]
    assert_same(b.reduce(10), brute(b, 10))


def test_group_keeps_sharing_when_one_member_leaves() -> None:
    run = RunData("hf")
    for step in range(1, 301):
        run.add([Metrics(step, {"loss": 1.0 / step, "lr": 1e-3 * step, "epoch": step / 100})])
        if step % 100 == 0:
            run.add([Metrics(step, {"val_loss": 3.0 / step, "epoch": step / 100})])
    loss, lr, epoch = run.series["loss"], run.series["lr"], run.series["epoch"]
    assert np.shares_memory(loss.steps, lr.steps) and not np.shares_memory(loss.steps, epoch.steps)
    assert len(epoch) == 303 and epoch.steps[99:102].tolist() == [100, 100, 101]
    assert lr.values.tolist() == [1e-3 * s for s in range(1, 301)]
    assert run.series["val_loss"].steps.tolist() == [100, 200, 300]


def test_add_columns_equals_add_of_records() -> None:
    rng = np.random.default_rng(5)
    n = 10_000
    steps = np.arange(n) + 100
    cols = {"loss": rng.normal(size=n), "lr": np.full(n, 1e-3), "grad_norm": rng.random(n)}
    cols["loss"][[7, 4000]] = math.nan
    times = 1e9 + np.arange(n) * 0.1
    by_rows, by_cols = RunData("a"), RunData("b")
    half = n // 2

    def recs(lo: int, hi: int) -> list[Metrics]:
        return [
            Metrics(int(steps[i]), {k: float(v[i]) for k, v in cols.items()}, float(times[i]))
            for i in range(lo, hi)
        ]

    by_rows.add(recs(0, n))
    # Records, then a block, then records again: the group stays consistent.
    by_cols.add(recs(0, 100))
    sl = slice(100, half)
    assert (
        by_cols.add_columns(steps[sl], {k: v[sl] for k, v in cols.items()}, times[sl]) == half - 100
    )
    by_cols.add(recs(half, n))
    for run in (by_rows, by_cols):
        assert run.records == n and (run.first_step, run.last_step) == (100, n + 99)
        assert run.last_time == times[-1]
    for name in cols:
        a, b = by_rows.series[name], by_cols.series[name]
        assert np.array_equal(a.steps, b.steps) and np.array_equal(a.times, b.times)
        assert np.array_equal(a.values, b.values, equal_nan=True)
        assert a.summary() == b.summary() or name == "loss"
        assert_same(b.reduce(50), brute(b, 50))
    assert by_cols.series["loss"].nonfinite == 2
    # A block whose key set overlaps an existing group goes series by series.
    by_cols.add_columns([n + 100, n + 101], {"loss": [1.0, 2.0], "val_loss": [3.0, 4.0]})
    assert by_cols.series["loss"].values[-2:].tolist() == [1.0, 2.0]
    assert len(by_cols.series["lr"]) == n and by_cols.series["val_loss"].steps.tolist() == [
        n + 100,
        n + 101,
    ]


_KEYSETS = [("loss", "lr"), ("loss", "lr"), ("val_loss",), ("loss",), ("lr", "loss")]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, len(_KEYSETS) - 1), st.integers(1, 300), st.booleans()),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 3),
)
def test_metric_blocks_equal_their_rows(runs: list[tuple[int, int, bool]], seed: int) -> None:
    """Runs of records given as MetricBlocks or as Metrics (with events between) store alike."""
    rng = np.random.default_rng(seed)
    by_rows, by_blocks = RunData("a"), RunData("b")
    step = 0
    for i, (ks, n, timed) in enumerate(runs):
        keys = _KEYSETS[ks]
        steps = np.arange(step, step + n) - (50 if i % 4 == 3 else 0)  # some go backwards
        step += n
        cols = {k: rng.normal(size=n) for k in keys}
        for v in cols.values():
            v[rng.random(n) < 0.05] = math.nan
        times = 1.7e9 + steps * 0.5 if timed else None
        block = MetricBlock(steps.astype(np.int64), cols, times, step_inferred=i == 2)
        rows = list(block.rows())
        ev = Event("note", {"i": i}, int(steps[-1]), None if times is None else float(times[-1]))
        assert by_rows.add([*rows, ev]) == by_blocks.add([block, ev]) == n + 1
    for attr in ("records", "first_step", "last_step", "last_time", "steps_inferred"):
        assert getattr(by_rows, attr) == getattr(by_blocks, attr), attr
    assert by_rows.events == by_blocks.events
    assert set(by_rows.series) == set(by_blocks.series)
    for name, a in by_rows.series.items():
        b = by_blocks.series[name]
        assert np.array_equal(a.steps, b.steps) and np.array_equal(a.times, b.times, equal_nan=True)
        assert np.array_equal(a.values, b.values, equal_nan=True)
        assert repr(a.summary()) == repr(b.summary())  # NaN-safe
        assert_same(b.reduce(40), brute(b, 40))


def test_an_event_without_time_keeps_the_metrics_time() -> None:
    run = RunData("r")
    run.add([Metrics(1, {"loss": 1.0}, 1e9 + 5), Event("note", {}, 1, None)])
    assert run.last_time == 1e9 + 5
    run.add([Event("note", {}, 2, 1e9 + 9)])
    assert run.last_time == 1e9 + 9


# -- the cap on series per run (issue 17) ---------------------------------------------------


def test_series_past_the_cap_are_refused_and_counted() -> None:
    from lrwatch.records import Metrics
    from lrwatch.store import MAX_SERIES, RunData

    run = RunData("r")
    extra = 1000
    run.add([Metrics(i, {f"k{i}": 1.0, "loss": 2.0}) for i in range(MAX_SERIES + extra)])
    assert len(run.series) == MAX_SERIES
    assert len(run.series["loss"]) == MAX_SERIES + extra  # a kept name loses nothing
    assert run.names_refused == extra + 1 and run.values_dropped == extra + 1
    run.add([Metrics(1, {f"k{MAX_SERIES + 5}": 3.0})])  # refused before: not counted again
    assert run.names_refused == extra + 1 and run.values_dropped == extra + 2


def test_blocks_past_the_cap_are_refused_and_counted() -> None:
    import numpy as np

    from lrwatch.store import MAX_SERIES, RunData

    run = RunData("r")
    cols = {f"k{i}": np.ones(3) for i in range(MAX_SERIES + 10)}
    assert run.add_columns(np.arange(3), cols) == 3
    assert len(run.series) == MAX_SERIES
    assert run.names_refused == 10 and run.values_dropped == 30


def test_key_sets_past_the_group_cap_are_still_stored() -> None:
    from lrwatch.records import Metrics
    from lrwatch.store import MAX_GROUPS, RunData

    run = RunData("r")
    names = [f"m{i}" for i in range(20)]
    recs = []
    for i in range(MAX_GROUPS + 500):  # distinct key sets over 20 names
        keys = [n for j, n in enumerate(names) if (i >> j) & 1] or ["m0"]
        recs.append(Metrics(i, dict.fromkeys(keys, float(i))))
    run.add(recs)
    assert len(run._axes) <= MAX_GROUPS and run.names_refused == 0
    assert sum(len(s) for s in run.series.values()) == sum(len(r.values) for r in recs)


def test_len_counts_a_groups_pending_rows_without_flushing_them() -> None:
    """A chart or header may ask len() while a reader appends: it must change nothing."""
    run = RunData("exp")
    run.add([Metrics(i, {"loss": 1.0 / (i + 1), "lr": 1e-3}) for i in range(7)])
    axis = run.series["lr"]._axis
    assert len(axis.rows) == 7  # the group's rows are pending
    assert [len(s) for s in run.series.values()] == [7, 7]
    assert len(axis.rows) == 7  # and len() left them so
    assert [len(s.values) for s in run.series.values()] == [7, 7]  # reading them flushes
    assert not axis.rows
    run.add([Metrics(7, {"loss": 0.1})])  # a member going its own way
    assert {name: len(s) for name, s in run.series.items()} == {"loss": 8, "lr": 7}


def test_a_run_logging_system_metrics_makes_progress_only_with_training_records() -> None:
    """The sampler writes on while a training loop hangs: liveness must not count it."""
    from lrwatch.records import Metrics as M

    st = MetricStore()
    st.add("plain", [M(i, {"loss": 1.0}, 1000.0 + i) for i in range(5)])
    assert st.runs["plain"].progress_time() is None  # no system series: mtime tells the truth
    recs = [M(i, {"loss": 1.0, "lr": 1e-3}, 1000.0 + i) for i in range(5)]
    recs += [M(4, {"sys/cpu_percent": 50.0}, 1000.0 + 60 * k) for k in range(1, 10)]
    st.add("hung", recs)
    run = st.runs["hung"]
    assert run.last_time == 1540.0 and run.progress_time() == 1004.0
