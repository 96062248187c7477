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


def test_warmup_into_a_too_high_lr_is_flagged_while_the_lr_still_rises() -> None:
    # A real torch run recorded through lrwatch.Monitor: momentum SGD warmed up linearly over
    # 80 steps to LR 0.7. The loss fell from 1.58 to ~0.3 by step 27, then climbed back while
    # the LR kept rising. Its batch noise is large (0.09-0.77 around the best), and the window
    # around the best also holds the fast descent: judged against that spread, the climb was
    # not "clear" until it was back above the start, after warmup (step 86).
    recs = []
    for line in (FIX / "lrwatch_warmup_blowup.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "loss" in rec:
            recs.append(Metrics(rec["step"], {"loss": rec["loss"], "lr": rec["lr"]}))
    engine = Engine()
    first = None
    for rec in recs:
        engine.feed([rec])
        found = [f for f in engine.findings if f.symptom == "divergence"]
        if found and first is None:
            first = (rec.step, rec.values["lr"], found[0].severity)
    assert first is not None
    step, lr, severity = first
    assert step <= 60 and lr < 0.7 and severity == "warning"  # during warmup
    assert engine.findings[0].severity == "error"  # and an error once all progress is gone
