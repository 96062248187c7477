"""``lrwatch diagnose`` and ``lrwatch inspect`` on a log with a rewind (the real CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrwatch.cli import main
from tests.rewind_logs import header, losses, metric, rewind, spike_and_rewind, write


def test_diagnose_reports_the_spike_and_its_resolution_by_the_rewind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = write(tmp_path / "run.jsonl", spike_and_rewind(n=300, spike_at=250, to=200))
    main(["diagnose", "--json", str(log)])
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    spike = next(f for f in run["findings"] if f["symptom"] == "loss_spike")
    assert spike["step"] == 250 and spike["resolved"] and spike["resolved_step"] == 300
    assert spike["evidence"]["resolved_because"] == "resolved by rewind to step 200"
    main(["diagnose", str(log)])
    out = capsys.readouterr().out
    assert "loss_spike" in out and "resolved by rewind to step 200" in out


def test_inspect_lists_rewinds_next_to_lr_changes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change = json.dumps(
        {"kind": "lr_change", "step": 20, "old": [0.1], "new": [0.05], "mode": "rescale",
         "by": "autopilot", "finding": "r/plateau@10", "reason": "plateau", "id": "c1"}
    )  # fmt: skip
    lines = [header(), *losses(range(1, 21)), change, *losses(range(21, 41), lr=0.05)]
    lines += [rewind(40, 30, factor=0.5, by="autopilot"), metric(31, 1.0, 0.025)]
    log = write(tmp_path / "run.jsonl", lines)
    assert main(["inspect", "--json", str(log)]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    assert [(c["kind"], c["step"], c.get("to_step"), c["by"]) for c in run["changes"]] == [
        ("lr_change", 20, None, "autopilot"),
        ("rewind", 40, 30, "autopilot"),
    ]
    assert run["changes"][1]["factor"] == 0.5
    assert run["steps"] == [1, 31]
    assert run["metrics"]["loss"]["count"] == 31
    assert main(["inspect", str(log)]) == 0
    out = capsys.readouterr().out
    assert (
        "step 20  lr 0.1 → 0.05 (rescale)  by autopilot (finding r/plateau@10; reason plateau)"
        in out
    )
    assert "step 40  rewind 40 → 30 ×0.5 (rescale), lr 0.1 → 0.05  by autopilot" in out
