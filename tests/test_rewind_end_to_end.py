"""A real training process rewinds over its control socket; everything that reads its log
(store, rules, chart, inspect) sees one live branch and the abandoned one beside it."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

from lrwatch.cli import main
from lrwatch.control.client import ControlClient
from lrwatch.formats.jsonl import JsonlParser
from lrwatch.rules import Engine
from lrwatch.sources import read_runs
from lrwatch.tui.chart import render_chart
from lrwatch.tui.smooth import EmaCache
from lrwatch.tui.view import ViewState, loss_spec
from tests.control.ctlhelp import records, wait_for

SCRIPT = Path(__file__).parent / "tui" / "scripts" / "train_snap.py"


def _blown_up(log: Path) -> bool:
    """The loss since the LR change went past 100x the run's first loss (or to NaN/Inf)."""
    recs = records(log)
    at = [i for i, r in enumerate(recs) if r.get("kind") == "lr_change"]
    first = next(r["loss"] for r in recs if "loss" in r)
    return bool(at) and any(
        not math.isfinite(r["loss"]) or r["loss"] > 100 * first
        for r in recs[at[-1] :]
        if "loss" in r
    )


def _metrics_after(log: Path, kind: str) -> int:
    """Metric records written after the last record of ``kind`` (-1 while there is none)."""
    recs = records(log)
    at = [i for i, r in enumerate(recs) if r.get("kind") == kind]
    return -1 if not at else sum(1 for r in recs[at[-1] :] if "loss" in r)


def test_a_real_rewind_reads_as_one_live_branch_and_an_abandoned_one(tmp_path: Path) -> None:
    log, stop = tmp_path / "snap.jsonl", tmp_path / "stop"
    proc = subprocess.Popen([sys.executable, str(SCRIPT), str(log), str(stop), "0.05", "50"])
    try:
        wait_for(lambda: sum("loss" in r for r in records(log)) >= 120, what="120 steps")
        with ControlClient.from_log(log) as client:
            assert client.request("scale_lr", factor=24.0)["ok"]  # a blow-up after step 100
            wait_for(lambda: _blown_up(log), what="the blow-up")
            reply = client.request("rewind", to_step=100, scale_lr=0.5)
            assert reply["ok"], reply
        wait_for(lambda: _metrics_after(log, "rewind") >= 40, what="the new branch")
    finally:
        stop.touch()
        proc.wait(timeout=60)
    (rw,) = [r for r in records(log) if r.get("kind") == "rewind"]
    frm, to = rw["step"], rw["to_step"]
    assert to == 100 and frm > 140

    run = read_runs([str(log)]).runs["snap"]
    loss = run.series["loss"]
    assert loss.monotonic and loss.steps[0] == 1
    assert (loss.steps[:to] == range(1, to + 1)).all()
    assert loss.vmax is not None and loss.vmax < run.abandoned["loss"][0].vmax  # type: ignore[operator]
    assert run.abandoned["loss"][0].steps.tolist() == list(range(to + 1, frm + 1))
    assert [(r.from_step, r.to_step, r.factor) for r in run.rewinds] == [(frm, to, 0.5)]

    engine = Engine(run="snap")
    engine.feed(JsonlParser().feed(log.read_bytes()))
    after = [f for f in engine.findings if f.step > to and f.step <= frm]
    assert after, [(f.id, f.step, f.resolved_step, f.evidence) for f in engine.findings]
    assert all(
        f.evidence.get("resolved_because") == f"resolved by rewind to step {to}" for f in after
    )

    lines = render_chart(loss_spec([run], ViewState(), EmaCache()), 88, 16)
    assert any(str(s.style) == "dim cyan" for line in lines for s in line.spans)
    assert f"⟲ {frm}→{to} ×0.5" in "".join(line.plain for line in lines[1:3])
    assert main(["inspect", str(log)]) == 0
