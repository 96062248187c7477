"""``lrwatch inspect`` on the real framework logs in tests/fixtures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lrwatch.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROOT = FIXTURES.parents[1]


def _strict_json(text: str) -> Any:
    """Parse JSON, refusing the NaN/Infinity tokens that are not JSON."""

    def bad(token: str) -> None:
        raise ValueError(f"non-JSON token {token}")

    return json.loads(text, parse_constant=bad)


def _inspect_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    assert main(["inspect", "--json", *args]) == 0
    out = capsys.readouterr().out
    return _strict_json(out)


def _one(capsys: pytest.CaptureFixture[str], name: str) -> dict[str, Any]:
    doc = _inspect_json(capsys, str(FIXTURES / name))
    assert len(doc["runs"]) == 1
    return doc["runs"][0]


def test_nanogpt_log(capsys: pytest.CaptureFixture[str]) -> None:
    run = _one(capsys, "nanogpt_healthy.log")
    assert run["name"] == "nanogpt_healthy"
    assert run["format"] == "text"
    assert run["steps"] == [0, 300]
    assert run["steps_inferred"] is False
    m = run["metrics"]
    assert m["val_loss"]["count"] == 7  # "step N: train loss X, val loss Y" every 50 iters
    assert m["val_loss"]["first"] == 4.4687 and m["val_loss"]["last"] == 2.4844
    assert m["loss"]["count"] >= 301  # one per "iter N: loss X" line, 0..300
    assert m["loss"]["first"] == 4.4608
    assert m["loss"]["nonfinite"] == 0
    assert set(run) >= {"name", "path", "format", "records", "steps", "skipped_lines", "control"}


def test_lightning_csv_with_nan(capsys: pytest.CaptureFixture[str]) -> None:
    run = _one(capsys, "lightning_sgd_lr8_nan_metrics.csv")
    assert run["format"] == "csv"
    assert run["steps"] == [4, 599]
    loss, lr = run["metrics"]["loss"], run["metrics"]["lr"]
    assert loss["nonfinite"] > 0
    assert loss["last"] == "nan"  # non-finite floats are strings: valid JSON
    assert loss["first"] == pytest.approx(1.7373945713043213)
    assert lr["min"] == lr["max"] == 8.0


def test_trainer_state_json(capsys: pytest.CaptureFixture[str]) -> None:
    state = json.loads((FIXTURES / "hf_trainer_state.json").read_text())
    with_loss = [e for e in state["log_history"] if "loss" in e]
    run = _one(capsys, "hf_trainer_state.json")
    assert run["format"] == "hf_state"
    assert run["steps"] == [5, 200]
    assert run["steps_inferred"] is False
    assert run["metrics"]["loss"]["count"] == len(with_loss)
    assert run["metrics"]["loss"]["first"] == pytest.approx(with_loss[0]["loss"])
    assert run["metrics"]["lr"]["first"] == pytest.approx(with_loss[0]["learning_rate"])


def test_every_fixture_at_once_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(FIXTURES)]) == 0
    out = capsys.readouterr().out
    for name in ("nanogpt_healthy", "lightning_healthy", "hf_trainer_state", "hf_trainer_sgd_lr5"):
        assert f"run {name}" in out
    assert "format   tfevents" in out
    assert "metric" in out and "nonfinite" in out


def test_jsonl_with_control_header_nan_and_inf(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "run.jsonl"
    log.write_text(
        '{"kind": "run", "v": 1, "run": "r", "control": "unix:/tmp/r.sock", "lr": [0.1]}\n'
        '{"step": 1, "loss": 2.0, "lr": 0.1}\n'
        '{"step": 2, "loss": NaN, "lr": 0.1}\n'
        '{"step": 3, "loss": Infinity, "lr": 0.1}\n'
        "garbage line\n"
        '{"step": 4, "loss": 1.5, "lr": -Infinity}'  # no final newline: still read
    )
    run = _inspect_json(capsys, str(log))["runs"][0]
    assert run["format"] == "jsonl"
    assert run["control"] == "unix:/tmp/r.sock"
    assert run["steps"] == [1, 4]
    assert run["skipped_lines"] == 1
    loss = run["metrics"]["loss"]
    assert loss == {"count": 4, "first": 2.0, "last": 1.5, "min": 1.5, "max": 2.0, "nonfinite": 2}
    assert run["metrics"]["lr"]["last"] == "-inf"
    capsys.readouterr()
    assert main(["inspect", str(log)]) == 0
    assert "control  unix:/tmp/r.sock" in capsys.readouterr().out


def test_missing_path_and_unknown_format_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "/no/such/run.log"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["inspect", "--format", "bogus", str(FIXTURES / "nanogpt_healthy.log")]) == 2
    err = capsys.readouterr().err
    assert "unknown format 'bogus'" in err and "jsonl" in err


def test_forced_format(capsys: pytest.CaptureFixture[str]) -> None:
    run = _inspect_json(capsys, "--format", "text", str(FIXTURES / "nanogpt_healthy.log"))
    assert run["runs"][0]["format"] == "text"


def test_stdin_through_a_real_pipe() -> None:
    data = (FIXTURES / "nanogpt_healthy.log").read_bytes()
    proc = subprocess.run(
        [sys.executable, "-m", "lrwatch", "inspect", "--json", "-"],
        input=data,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    run = _strict_json(proc.stdout.decode())["runs"][0]
    assert run["name"] == "stdin" and run["path"] == "-"
    assert run["format"] == "text"
    assert run["steps"] == [0, 300]
    assert run["metrics"]["val_loss"]["count"] == 7


# -- a cap on metric names, shown by inspect (issue 17) -------------------------------------


def test_refused_names_are_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lrwatch.store import MAX_SERIES

    log = tmp_path / "keys.jsonl"
    log.write_text("".join(f'{{"step": {i}, "k{i}": 1}}\n' for i in range(MAX_SERIES + 7)))
    (run,) = _inspect_json(capsys, str(log))["runs"]
    assert len(run["metrics"]) == MAX_SERIES
    assert run["names_refused"] == 7 and run["values_dropped"] == 7
    assert run["names_refused_exact"] is True
    assert main(["inspect", str(log)]) == 0
    out = capsys.readouterr().out
    assert f"refused  7 metric names past the cap of {MAX_SERIES} series (7 values dropped)" in out


def test_many_distinct_keys_peak_rss_in_a_separate_process(tmp_path: Path) -> None:
    """100,000 distinct metric names (1.4 MB of JSONL): ~840 MB peak RSS with a series per
    name; ~100 MB with the cap (of which ~45 MB is the interpreter and its imports)."""
    from tests.formats import bounded

    log = tmp_path / "keys.jsonl"
    log.write_bytes(bounded.distinct_keys_jsonl(100_000))
    rss, out = bounded.inspect_peak(log)
    (run,) = out["runs"]
    assert run["records"] == 100_000 and run["values_dropped"] == 100_000 - len(run["metrics"])
    assert run["names_refused"] > 0
    assert rss < 400 << 20, rss / 2**20
