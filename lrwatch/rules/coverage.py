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
    osc, over = cfg.oscillation, cfg.overfitting
    rows = [
        (
            FIRST_CHECKS,
            "loss",
            cfg.loss_spike.min_points,
            cfg.loss_spike.enabled or cfg.divergence.enabled,
        ),
        ("oscillation", "loss", min(osc.window, 2 * osc.swing_window), osc.enabled),
        ("slow progress", "loss", cfg.slow_progress.window, cfg.slow_progress.enabled),
        ("a plateau", "loss", cfg.plateau.patience + cfg.plateau.hold, cfg.plateau.enabled),
        ("overfitting", "val_loss", over.min_evals + over.patience, over.enabled),
    ]
    return [(check, series, points) for check, series, points, on in rows if on]


def unjudged(
    loss_points: int, val_points: int, config: RuleConfig | None = None
) -> list[tuple[str, int]]:
    """The checks (and the points each needs) that ``loss_points`` train-loss points and
    ``val_points`` evaluations are too few for. Overfitting counts only when the run has
    evaluations at all (a run without val loss cannot be judged on it, ever)."""
    return [(check, points) for check, _, points in _missing(loss_points, val_points, config)]


def not_enough(loss_points: int, val_points: int, config: RuleConfig | None = None) -> str:
    """'' when every check had its points; else what could not be judged yet, e.g.
    'not enough points yet to judge slow progress (needs 100 loss points), a plateau (200)'."""
    parts = [
        f"{check} ({'needs ' if i == 0 else ''}{points} "
        f"{'evaluations' if series == 'val_loss' else 'loss points'})"
        for i, (check, series, points) in enumerate(_missing(loss_points, val_points, config))
    ]
    return "not enough points yet to judge " + ", ".join(parts) if parts else ""


def _missing(
    loss_points: int, val_points: int, config: RuleConfig | None
) -> list[tuple[str, str, int]]:
    have = {"loss": loss_points, "val_loss": val_points}
    return [
        (check, series, points)
        for check, series, points in needed(config)
        if have[series] < points and not (series == "val_loss" and val_points == 0)
    ]
