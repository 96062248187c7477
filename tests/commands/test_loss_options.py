"""Which metric is the loss: inspect says which and why, --loss/--val-loss and the TOML's
[metrics] override it, and a run with no loss is never called healthy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lrwatch.cli import main

REAL = Path(__file__).resolve().parents[1] / "fixtures" / "real"
YOLO = REAL / "yolo" / "wheat_weed_yolov8_results.csv"


def _inspect(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["inspect", "--json", *args]) == 0
    (run,) = json.loads(capsys.readouterr().out)["runs"]
    return run


def test_inspect_says_which_metric_is_the_loss_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    run = _inspect(capsys, str(YOLO))
    assert run["loss"] == (
        "train/box_loss + train/cls_loss + train/dfl_loss (the sum of the logged loss parts)"
    )
    assert run["val_loss"].startswith("val/box_loss + val/cls_loss + val/dfl_loss")
    assert run["metrics"]["loss"]["first"] == pytest.approx(1.1267 + 1.17186 + 1.15737)
    assert main(["inspect", str(YOLO)]) == 0
    text = capsys.readouterr().out
    assert "  loss     train/box_loss + train/cls_loss + train/dfl_loss" in text


def test_loss_flags_and_toml_override_the_choice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _inspect(capsys, str(YOLO), "--loss", "train/box_loss", "--val-loss", "val/box_loss")
    assert run["loss"] == "train/box_loss (chosen with --loss)"
    assert run["metrics"]["loss"]["first"] == pytest.approx(1.1267)
    assert run["metrics"]["val_loss"]["count"] == 20
    rules = tmp_path / "rules.toml"
    rules.write_text('[metrics]\nloss = "train/cls_loss"\n')
    run = _inspect(capsys, str(YOLO), "--rules", str(rules))
    assert run["metrics"]["loss"]["first"] == pytest.approx(1.17186)
    rules.write_text("[metrics]\nloss = 3\n")
    assert main(["inspect", "--rules", str(rules), str(YOLO)]) == 2
    assert "expected a string" in capsys.readouterr().err


def _no_loss_log(tmp_path: Path) -> Path:
    log = tmp_path / "custom.log"
    log.write_text("".join(f"it {i}: objective {3 - i / 10:.3f} rate 0.1\n" for i in range(30)))
    return log


def test_no_loss_is_its_own_verdict_and_exit_code(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _no_loss_log(tmp_path)
    assert main(["diagnose", "--json", str(log)]) == 3
    (result,) = json.loads(capsys.readouterr().out)["runs"]
    # Nothing in it has a step or a loss: not one record, and not "healthy".
    assert result["loss"] is None and result["verdict"].startswith("no records read")
    assert main(["diagnose", str(log)]) == 3
    assert "healthy" not in capsys.readouterr().out
    assert main(["inspect", str(log)]) == 0
    text = capsys.readouterr().out
    assert "no training loss found" in text and "| it 0: objective 3.000 rate 0.1" in text
    assert "nothing was read as a metric" in text and "--regex" in text


def test_a_custom_pattern_or_a_name_reads_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _no_loss_log(tmp_path)
    run = _inspect(capsys, str(log), "--regex", r"it (?P<step>\d+): objective (?P<loss>\S+)")
    assert run["format"] == "text" and run["metrics"]["loss"]["count"] == 30
    assert run["steps"] == [0, 29]
    steps = tmp_path / "steps.log"
    steps.write_text("".join(f"step {i} objective {3 - i / 10:.3f}\n" for i in range(30)))
    assert main(["diagnose", str(steps)]) == 3
    assert main(["inspect", str(steps)]) == 0
    assert "metrics read: objective; name the loss with --loss NAME" in capsys.readouterr().out
    assert main(["diagnose", "--loss", "objective", str(steps)]) == 0
    capsys.readouterr()
    assert main(["inspect", "--regex", "(?P<step", str(log)]) == 2


def test_a_run_that_ends_in_nan_is_read_and_flagged(capsys: pytest.CaptureFixture[str]) -> None:
    log = REAL / "produced" / "keras" / "fit_v1_nan_pipe.log"
    assert main(["diagnose", "--json", str(log)]) == 1
    (result,) = json.loads(capsys.readouterr().out)["runs"]
    assert any(f["symptom"] == "nan_inf" and f["severity"] == "error" for f in result["findings"])
