"""Real framework logs, parsed by a few lines here so the engine is tested on its own."""

from __future__ import annotations

import ast
import csv
import json
import re
from pathlib import Path

from lrwatch.records import Metrics, canonical_name
from lrwatch.rules import Engine, Finding

FIX = Path(__file__).resolve().parents[1] / "fixtures"


def lightning_csv(name: str) -> list[Metrics]:
    out = []
    with open(FIX / name) as fh:
        for row in csv.DictReader(fh):
            values = {
                canonical_name(k): float(v)
                for k, v in row.items()
                if v != "" and k not in ("step", "epoch", "val_acc")
            }
            out.append(Metrics(int(row["step"]), values))
    return out


def hf_state() -> list[Metrics]:
    history = json.loads((FIX / "hf_trainer_state.json").read_text())["log_history"]
    out = []
    for entry in history:
        values = {
            canonical_name(k): float(v)
            for k, v in entry.items()
            if canonical_name(k) in ("loss", "val_loss", "lr", "grad_norm")
        }
        if values:
            out.append(Metrics(int(entry["step"]), values))
    return out


def hf_console(name: str, logging_steps: int = 5) -> list[Metrics]:
    """HF prints dicts without a step: count the train logs (what the text reader infers)."""
    out, step = [], 0
    for m in re.finditer(r"\{'[^{}]*\}", (FIX / name).read_text()):
        entry = ast.literal_eval(m.group(0))
        if "loss" in entry:
            step += logging_steps
        values = {
            canonical_name(k): float(v)
            for k, v in entry.items()
            if canonical_name(k) in ("loss", "val_loss", "lr", "grad_norm")
        }
        if values:
            out.append(Metrics(step, values, step_inferred=True))
    return out


def nanogpt() -> list[Metrics]:
    out = []
    for line in (FIX / "nanogpt_healthy.log").read_text().splitlines():
        if m := re.match(r"iter (\d+): loss ([\d.]+)", line):
            out.append(Metrics(int(m[1]), {"loss": float(m[2])}))
        elif m := re.match(r"step (\d+): train loss ([\d.]+), val loss ([\d.]+)", line):
            out.append(Metrics(int(m[1]), {"val_loss": float(m[3])}))
    return out


def diagnose(recs: list[Metrics]) -> list[Finding]:
    engine = Engine()
    engine.feed(recs)
    return engine.findings


def test_lightning_lr8_goes_nan_and_is_an_error_with_a_tenfold_cut() -> None:
    findings = diagnose(lightning_csv("lightning_sgd_lr8_nan_metrics.csv"))
    errors = [f for f in findings if f.severity == "error"]
    assert errors and errors[0].symptom in ("nan_inf", "divergence")
    nan = next(f for f in findings if f.symptom == "nan_inf")
    assert nan.step == 29 and "8.0e+00 → 8.0e-01" in nan.suggestion
    assert nan.action == {"op": "set_lr", "value": 0.8}
    # the NaN val loss is the same problem: no second error for it
    assert [f.symptom for f in errors] == ["nan_inf"]


def test_healthy_fixtures_have_no_error_level_finding() -> None:
    runs = {
        "lightning": lightning_csv("lightning_healthy_metrics.csv"),
        "hf_state": hf_state(),
        "hf_console": hf_console("hf_trainer_console.log"),
        "nanogpt": nanogpt(),
    }
    for name, recs in runs.items():
        assert len(recs) > 20, name
        bad = [(f.symptom, f.severity) for f in diagnose(recs) if f.severity != "info"]
        assert bad == [], name


def test_hf_sgd_lr5_is_not_an_error() -> None:
    # SGD at LR 5 with clipping: an unstable first steps, then a plateau well above the Adam run.
    findings = diagnose(hf_console("hf_trainer_sgd_lr5.stdout"))
    assert not [f for f in findings if f.severity == "error"]
