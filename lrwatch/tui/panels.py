"""The panels beyond loss, LR and grad norm: any metric a run logs, and the system panel.

Pure like :mod:`lrwatch.tui.view`: a panel's name (``metric:acc``, ``system``) and the runs in,
a :class:`~lrwatch.tui.chart.ChartSpec` out. System metrics are series named ``sys/…``
(:data:`~lrwatch.records.SYSTEM_PREFIX`); they are matched by their name's parts
(``gpu<N>/util``, ``…used…`` beside ``…total…``), not by a fixed list, so a new one charts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

from lrwatch.records import SYSTEM_PREFIX, gpu_of_util
from lrwatch.store import RunData, Series
from lrwatch.tui.chart import ChartSpec, Trace
from lrwatch.tui.smooth import EmaCache
from lrwatch.tui.view import ViewState, build_chart, colours, series_traces, step_range

#: A panel of one metric is named this prefix and the metric's name.
METRIC_PREFIX = "metric:"
#: The system panel (GPU util, CPU %, memory % on a 0-100 axis).
SYSTEM = "system"
#: Series the fixed panels draw already (not offered in the metric picker).
FIXED_METRICS = ("loss", "val_loss", "grad_norm")


def metric_chart(name: str) -> str:
    """The panel name that draws metric ``name``."""
    return METRIC_PREFIX + name


def is_fixed(name: str) -> bool:
    """Whether a fixed panel (loss, LR, grad norm) draws series ``name``."""
    return name in FIXED_METRICS or name == "lr" or name.startswith("lr/")


def metric_names(runs: Iterable[RunData]) -> list[str]:
    """Every series the runs have points of that no fixed panel draws: the run's own metrics
    by name, then the system ones (``sys/…``)."""
    names = {n for r in runs for n, s in r.series.items() if len(s) and not is_fixed(n)}
    return sorted(names, key=system_last)


def system_last(name: str) -> tuple[bool, str]:
    """Sort key of metric names: a run's own metrics by name, then the system ones."""
    return name.startswith(SYSTEM_PREFIX), name


def has_system(runs: Iterable[RunData]) -> bool:
    """Whether any of the runs has system metrics."""
    return any(n.startswith(SYSTEM_PREFIX) and len(s) for r in runs for n, s in r.series.items())


def metric_spec(name: str, runs: list[RunData], view: ViewState) -> ChartSpec:
    """Metric ``name`` per run (overlaid runs by colour and tag, as on the grad-norm panel).

    Log-y follows the view where every value is positive; ``auto`` decides by the range.
    """
    traces = series_traces(runs, name, view, colours(view)[3])
    lo, hi = step_range(runs, view)
    positive = all((t.series.vmin or 0.0) > 0 for t in traces)
    note = f"no {name} logged yet"
    return ChartSpec(name, traces, lo, hi, view.log_y and positive, [], note, auto_log=view.auto_y)


def _percent(name: str, used: Series, total: Series) -> Series:
    """``used`` as a percentage of ``total`` (the total read at each of used's steps)."""
    u_steps, u_vals = used.steps, used.values
    t_steps, t_vals = total.steps, total.values
    if len(t_steps) == len(u_steps) and np.array_equal(t_steps, u_steps):
        tot = t_vals  # written in the same records: the usual case
    else:
        tot = np.interp(u_steps, t_steps, t_vals) if len(t_steps) else np.full(len(u_steps), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = np.where(tot > 0, 100.0 * u_vals / tot, np.nan)
    return Series.adopt(name, np.array(u_steps, dtype=np.int64), pct.astype(np.float64))


def _label(name: str) -> str:
    """``sys/gpu0/mem_used_mb`` -> ``gpu0 mem``; ``sys/host_mem_used_mb`` -> ``host mem``."""
    stem = name[len(SYSTEM_PREFIX) :].split("used")[0]
    return " ".join(p for p in re.split(r"[/_]+", stem) if p)


def system_traces(run: RunData) -> list[tuple[str, Series]]:
    """The percentages the system panel draws, labelled: GPU util per GPU, the process's
    CPU %, and each ``…used…`` series as a percentage of its ``…total…`` sibling."""
    sys_names = sorted(n for n, s in run.series.items() if n.startswith(SYSTEM_PREFIX) and len(s))
    utils, cpus, mems = [], [], []
    for n in sys_names:
        rest = n[len(SYSTEM_PREFIX) :]
        if gpu := gpu_of_util(n):
            utils.append((gpu, run.series[n]))
        elif rest.startswith("cpu") and ("percent" in rest or rest.endswith("%")):
            cpus.append(("cpu", run.series[n]))
        elif "used" in rest and (total := run.series.get(n.replace("used", "total"))) is not None:
            mems.append((_label(n), _percent(n + "%", run.series[n], total)))
    return utils + cpus + mems


def system_spec(runs: list[RunData], view: ViewState) -> ChartSpec | None:
    """The system panel of the current run (of the first shown one when it is not among them):
    every percentage on one 0-100 axis. None when the run has no system metrics."""
    run = next((r for r in runs if r.name == view.current), runs[0] if runs else None)
    if run is None:
        return None
    palette = colours(view)
    traces = [
        Trace(s, palette[(i + 2) % len(palette)], label)
        for i, (label, s) in enumerate(system_traces(run))
    ]
    if not traces:
        return None
    lo, hi = step_range(runs, view)
    title = "system %" if len(runs) == 1 else f"system % · {run.name}"
    spec = ChartSpec(title, traces, lo, hi, False, [], "no system metrics yet")
    spec.y_range, spec.legend_rows = (0.0, 100.0), 2
    return spec


def build_panel(
    chart: str, runs: list[RunData], view: ViewState, ema: EmaCache
) -> ChartSpec | None:
    """The spec of any panel: a fixed one (:func:`~lrwatch.tui.view.build_chart`), the system
    panel, or ``metric:NAME`` (None: nothing to draw)."""
    if not runs:
        return None
    if chart.startswith(METRIC_PREFIX):
        return metric_spec(chart[len(METRIC_PREFIX) :], runs, view)
    if chart == SYSTEM:
        return system_spec(runs, view)
    return build_chart(chart, runs, view, ema)
