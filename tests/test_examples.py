"""Every script in demos/ runs briefly as a real subprocess and writes a valid lrwatch log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = {
    "plain_torch.py": {"world_size": 1},
    "nanogpt_style.py": {"world_size": 1},
    "hf_trainer.py": {"world_size": 1},
    "lightning_module.py": {"world_size": 1},
    "ddp_gloo.py": {"world_size": 2},
}
STEPS = 12


def test_every_demo_script_is_covered() -> None:
    assert {p.name for p in (ROOT / "demos").glob("*.py")} == set(EXAMPLES)


@pytest.mark.parametrize("script", list(EXAMPLES))
def test_example_runs_and_logs(script: str, tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, str(ROOT / "demos" / script), "--steps", str(STEPS), "--log", str(log)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    header, end = records[0], records[-1]
    assert header["kind"] == "run" and header["control"], header
    assert header["world_size"] == EXAMPLES[script]["world_size"]
    assert end["kind"] == "end" and end["status"] == "finished"
    losses = {r["step"]: r["loss"] for r in records if "loss" in r}
    assert sorted(losses) == list(range(1, STEPS + 1)), "one loss per optimizer step"
    assert any("lr" in r for r in records), "the LR is logged"
