"""``lrwatch diagnose``: report, JSON shape, exit codes, through the real sources.

Until the format readers are registered, the end-to-end tests hand the sources a minimal
lrwatch-JSONL line parser (``parser_factory``); everything else (files, sources, engine,
report) is the real thing.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from lrwatch.cli import main
from lrwatch.commands.diagnose import diagnose_paths, failing, render, verdict
from lrwatch.records import Event, Metrics, Record, canonical_name
from lrwatch.rules import RuleConfig, load_config


class LineJsonl:
    """lrwatch JSONL, one object per line (NaN tokens allowed by json.loads)."""

    def __init__(self, names: Any = None, **options: Any) -> None:
        self.skipped = 0
        self.steps_inferred = False
        self._buf = b""

    def feed(self, data: bytes) -> list[Record]:
        buf = self._buf + data
        cut = buf.rfind(b"\n")
        self._buf = buf[cut + 1 :] if cut >= 0 else buf
        return [r for line in buf[: max(cut, 0)].splitlines() if (r := self._line(line))]

    def flush(self) -> list[Record]:
        out = [r for r in [self._line(self._buf)] if r]
        self._buf = b""
        return out

    def restart(self) -> None:
        self._buf = b""

    def _line(self, line: bytes) -> Record | None:
        if not line.strip():
            return None
        obj = json.loads(line)
        if "kind" in obj:
            return Event(obj.pop("kind"), obj, step=obj.get("step"))
        step = obj.pop("step")
        return Metrics(step, {canonical_name(k): float(v) for k, v in obj.items()})


OPTS = {"parser_factory": lambda fmt, names=None: LineJsonl(), "detector": lambda p, h: "jsonl"}


def write_run(
    path: Path, losses: list[float], lr: float = 0.1, nan_from: int | None = None
) -> Path:
    """An lrwatch JSONL log: header, one metric record per step, end record."""
    lines = [json.dumps({"kind": "run", "v": 1, "run": path.stem, "lr": [lr]})]
    for step, loss in enumerate(losses):
        value = math.nan if nan_from is not None and step >= nan_from else loss
        lines.append(json.dumps({"step": step, "loss": value, "lr": lr}))
    lines.append(json.dumps({"kind": "end", "status": "finished"}))
    path.write_text("\n".join(lines) + "\n")
    return path


def healthy(n: int = 300) -> list[float]:
    return [0.3 + 2.0 / (1 + s / 20) + 0.01 * math.sin(s * 1.7) for s in range(n)]


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    good = write_run(tmp_path / "good.jsonl", healthy())
    bad = write_run(tmp_path / "bad.jsonl", healthy(), lr=0.5, nan_from=150)
    return good, bad


def diagnose(paths: list[Path], config: RuleConfig | None = None) -> list[dict]:
    return diagnose_paths([str(p) for p in paths], None, config or RuleConfig(), **OPTS)


def test_json_shape_findings_and_failing(runs) -> None:
    good, bad = runs
    results = diagnose([good, bad])
    json.dumps({"runs": results}, allow_nan=False)  # exactly one JSON-safe object
    by_name = {r["name"]: r for r in results}
    assert set(by_name) == {"good", "bad"}
    assert by_name["good"]["findings"] == [] and by_name["good"]["records"] == 302
    (f,) = by_name["bad"]["findings"]
    assert f["symptom"] == "nan_inf" and f["severity"] == "error" and f["step"] == 150
    assert f["action"] == {"op": "set_lr", "value": 0.05}
    assert "5.0e-01 → 5.0e-02" in f["suggestion"]
    assert {"message", "evidence", "suggestion", "step", "severity"} <= set(f)
    assert by_name["bad"]["path"] == str(bad)
    assert failing(results, "error") and not failing([by_name["good"]], "info")


def test_human_report_shows_evidence_fix_and_verdict(runs, capsys) -> None:
    good, bad = runs
    render(diagnose([good, bad]))
    out = capsys.readouterr().out
    assert "verdict: healthy: no problems found" in out
    assert "nan_inf" in out and "step 150" in out
    assert "evidence:" in out and "fix:" in out and "5.0e-02" in out
    assert "verdict: error: nan_inf from step 150" in out


def test_spike_episode_is_a_warning_and_rules_file_disables_it(tmp_path: Path) -> None:
    losses = healthy(600)
    for s in range(400, 405):
        losses[s] *= 4.0
    log = write_run(tmp_path / "spiky.jsonl", losses)
    results = diagnose([log])
    assert [f["symptom"] for f in results[0]["findings"]] == ["loss_spike"]
    assert failing(results, "warning") and not failing(results, "error")
    rules = tmp_path / "rules.toml"
    rules.write_text("[loss_spike]\nenabled = false\n")
    assert diagnose([log], load_config(str(rules)))[0]["findings"] == []


def test_usage_errors_exit_2(tmp_path: Path, runs, capsys) -> None:
    good, _ = runs
    assert main(["diagnose", str(tmp_path / "missing.jsonl")]) == 2
    bad_rules = tmp_path / "r.toml"
    bad_rules.write_text("[divergence]\nfactr = 3\n")
    assert main(["diagnose", "--rules", str(bad_rules), str(good)]) == 2
    err = capsys.readouterr().err
    assert "missing.jsonl" in err and "factr" in err
    with pytest.raises(SystemExit) as exc:
        main(["diagnose", "--fail-on", "fatal", str(good)])
    assert exc.value.code == 2


def test_verdict_helpers() -> None:
    warn = {"severity": "warning", "symptom": "plateau", "step": 10}
    info = {"severity": "info", "symptom": "loss_spike", "step": 3}
    assert verdict([], 5).startswith("healthy")
    assert verdict([], 0).startswith("no records")
    assert verdict([info], 5).startswith("healthy (1 info)")
    assert verdict([info, warn], 5).startswith("warning: plateau from step 10")


def test_a_short_run_is_not_called_healthy(tmp_path: Path) -> None:
    """40 logged points: too few to judge slow progress or a plateau, and the verdict says so."""
    (r,) = diagnose([write_run(tmp_path / "short.jsonl", [5.46 - 0.001 * s for s in range(40)])])
    assert r["loss_points"] == 40 and r["val_points"] == 0
    assert r["verdict"].startswith("no problems so far; not enough points yet to judge")
    assert "slow progress" in r["verdict"] and "healthy" not in r["verdict"]
