"""What the rules could not judge yet: a run with few logged points is "not enough points to
judge X", never "healthy".

Each check needs a number of logged points before it can fire at all (its window or patience
in docs/rules.md). A run with no findings that has fewer points than a check needs has not
passed that check: it has not taken it. ``lrwatch diagnose`` and the UI's findings panel say
so instead of calling the LR healthy.
"""

from __future__ import annotations

from lrwatch.rules.config import RuleConfig

#: Train-loss points below which nothing but NaN/inf and a blow-up can be judged.
FIRST_CHECKS = "spikes and divergence"


def needed(config: RuleConfig | None = None) -> list[tuple[str, str, int]]:
    """``(check, series, points)``: logged points of ``series`` each check needs, cheapest
    first (``series`` is ``loss`` or ``val_loss``)."""
    cfg = config or RuleConfig()
    osc = cfg.oscillation
    out = [
        (FIRST_CHECKS, "loss", cfg.loss_spike.min_points),
        ("oscillation", "loss", min(osc.window, 2 * osc.swing_window)),
        ("slow progress", "loss", cfg.slow_progress.window),
        ("a plateau", "loss", cfg.plateau.patience + cfg.plateau.hold),
        ("overfitting", "val_loss", cfg.overfitting.min_evals + cfg.overfitting.patience),
    ]
    on = {
        FIRST_CHECKS: cfg.loss_spike.enabled or cfg.divergence.enabled,
        "oscillation": osc.enabled,
        "slow progress": cfg.slow_progress.enabled,
        "a plateau": cfg.plateau.enabled,
        "overfitting": cfg.overfitting.enabled,
    }
    return [row for row in out if on[row[0]]]


def unjudged(
    loss_points: int, val_points: int, config: RuleConfig | None = None
) -> list[tuple[str, int]]:
    """The checks (and the points each needs) that ``loss_points`` train-loss points and
    ``val_points`` evaluations are too few for. Overfitting counts only when the run has
    evaluations at all (a run without val loss cannot be judged on it, ever)."""
    have = {"loss": loss_points, "val_loss": val_points}
    return [
        (check, points)
        for check, series, points in needed(config)
        if have[series] < points and not (series == "val_loss" and val_points == 0)
    ]


def not_enough(loss_points: int, val_points: int, config: RuleConfig | None = None) -> str:
    """'' when every check had its points; else what could not be judged yet, e.g.
    'not enough points yet to judge slow progress (needs 100 loss points), a plateau (200)'."""
    missing = unjudged(loss_points, val_points, config)
    if not missing:
        return ""
    parts = []
    for check, points in missing:
        unit = "evaluations" if check == "overfitting" else "loss points"
        parts.append(f"{check} ({'needs ' if not parts else ''}{points} {unit})")
    return "not enough points yet to judge " + ", ".join(parts)
