"""What the rules had too few points for (lrwatch.rules.coverage)."""

from __future__ import annotations

from lrwatch.commands.diagnose import verdict
from lrwatch.rules import RuleConfig
from lrwatch.rules.coverage import needed, not_enough, unjudged


def test_each_check_needs_its_window() -> None:
    cfg = RuleConfig()
    got = {check: points for check, _, points in needed(cfg)}
    assert got["slow progress"] == cfg.slow_progress.window
    assert got["a plateau"] == cfg.plateau.patience + cfg.plateau.hold
    assert got["overfitting"] == cfg.overfitting.min_evals + cfg.overfitting.patience


def test_forty_points_cannot_judge_slow_progress_or_a_plateau() -> None:
    missing = dict(unjudged(40, 0))
    assert set(missing) == {"oscillation", "slow progress", "a plateau"}
    text = not_enough(40, 0)
    assert text.startswith("not enough points yet to judge oscillation (needs 64 loss points)")
    assert "slow progress (100 loss points)" in text


def test_overfitting_counts_only_for_runs_with_evaluations() -> None:
    assert "overfitting" not in dict(unjudged(1000, 0))
    assert dict(unjudged(1000, 2))["overfitting"] == 6
    assert not_enough(1000, 6) == ""


def test_a_disabled_check_is_not_waited_for() -> None:
    cfg = RuleConfig()
    cfg.plateau.enabled = False
    assert "a plateau" not in dict(unjudged(40, 0, cfg))


def test_verdict_is_never_healthy_on_too_few_points() -> None:
    info = {"severity": "info", "symptom": "plateau", "step": 3}
    short = verdict([], 40, True, not_enough(40, 0))
    assert short.startswith("no problems so far; not enough points yet to judge")
    assert "healthy" not in short
    assert verdict([info], 40, True, not_enough(40, 0)).startswith("no problems so far (1 info)")
    warn = {"severity": "warning", "symptom": "divergence", "step": 30}
    assert verdict([warn], 40, True, not_enough(40, 0)).startswith("warning: divergence")
    assert verdict([], 1000, True, not_enough(1000, 0)) == "healthy: no problems found"
