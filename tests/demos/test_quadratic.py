"""The quadratic demo is real torch autograd + SGD and matches the closed form exactly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lrwatch.demos.registry import get
from lrwatch.demos.runner import run_scenario
from lrwatch.demos.scenarios.quadratic import closed_form_loss


def _losses(path: Path) -> dict[int, float]:
    out = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if "kind" not in rec:
            out[rec["step"]] = rec["loss"]
    return out


def test_losses_after_100_steps_match_the_closed_form(tmp_path: Path) -> None:
    paths = run_scenario(get("quadratic"), tmp_path, steps=100, pace=0, out=lambda _: None)
    assert set(paths) == {"lr=0.1", "lr=1.5", "lr=0.01"}
    final = {label: _losses(p)[100] for label, p in paths.items()}
    # The numbers the issue quotes, and the exact formula 4·(1 − 2·lr)^(2t).
    assert final["lr=0.1"] == pytest.approx(1.66e-19, rel=1e-2)
    assert final["lr=0.01"] == pytest.approx(0.0703, rel=1e-3)
    assert final["lr=1.5"] == pytest.approx(6.43e60, rel=1e-2)
    for label, lr in (("lr=0.1", 0.1), ("lr=1.5", 1.5), ("lr=0.01", 0.01)):
        losses = _losses(paths[label])
        assert len(losses) == 100
        for step, loss in losses.items():
            assert loss == pytest.approx(closed_form_loss(lr, step), rel=1e-6), (label, step)


def test_each_run_logs_header_lr_and_end(tmp_path: Path) -> None:
    paths = run_scenario(get("quadratic"), tmp_path, steps=5, pace=0, out=lambda _: None)
    lines = [json.loads(x) for x in paths["lr=1.5"].read_text().splitlines()]
    assert lines[0]["kind"] == "run" and lines[0]["lr"] == [1.5]
    assert lines[0]["control"].startswith("unix:")
    assert [r["lr"] for r in lines[1:-1]] == [1.5] * 5
    assert lines[-1] == {**lines[-1], "kind": "end", "status": "finished"}
