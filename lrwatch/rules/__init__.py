"""Rule engine: flags training symptoms (divergence, NaN, spikes, plateaus...) with a fix.

Headless: imports neither textual, rich nor torch. Typical use::

    engine = Engine(load_config(None))
    for batch in batches:
        for finding in engine.feed(batch):   # new or changed findings
            print(finding.severity, finding.message, finding.suggestion)

Symptom ids, criteria and defaults are documented in docs/rules.md.
"""

from __future__ import annotations

from lrwatch.rules.config import ConfigError, RuleConfig, load_config
from lrwatch.rules.engine import Engine
from lrwatch.rules.finding import SEVERITIES, Finding, severity_rank

#: The symptom ids the engine can report.
SYMPTOMS = (
    "nan_inf",
    "val_nan",
    "divergence",
    "loss_spike",
    "oscillation",
    "slow_progress",
    "stuck_high_lr",
    "plateau",
    "overfitting",
    "grad_explosion",
    "stalled",
)

__all__ = [
    "SEVERITIES",
    "SYMPTOMS",
    "ConfigError",
    "Engine",
    "Finding",
    "RuleConfig",
    "load_config",
    "severity_rank",
]
