"""The Finding record the engine reports, and the wording helpers for concrete LR fixes."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lrwatch.lrchange import LRChange

#: Severity names in increasing order; a finding only ever escalates along this list.
SEVERITIES = ("info", "warning", "error")


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for error (unknown names rank as info)."""
    try:
        return SEVERITIES.index(severity)
    except ValueError:
        return 0


@dataclass
class Finding:
    """One diagnosed problem of one run, updated in place while it is ongoing.

    ``step`` is the onset, ``last_step`` the newest step that still showed the symptom.
    ``action`` is machine-readable for one-key apply: an :class:`~lrwatch.lrchange.LRChange`
    (a mapping of its wire form, ``{"op": "scale_lr", "factor": 0.1}`` or
    ``{"op": "set_lr", "value": 3e-3}``) or ``None``. ``id`` is stable for one run, symptom and
    onset, so a UI can keep its selection while the finding escalates or resolves.
    """

    symptom: str
    severity: str
    step: int
    last_step: int
    evidence: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    suggestion: str = ""
    action: LRChange | None = None
    confidence: float = 0.5
    resolved: bool = False
    resolved_step: int | None = None
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite floats become the strings "NaN", "Infinity")."""
        return {
            "id": self.id,
            "symptom": self.symptom,
            "severity": self.severity,
            "step": self.step,
            "last_step": self.last_step,
            "message": self.message,
            "suggestion": self.suggestion,
            "action": _json_safe(self.action),
            "evidence": _json_safe(self.evidence),
            "confidence": round(float(self.confidence), 3),
            "resolved": self.resolved,
            "resolved_step": self.resolved_step,
        }


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        if math.isnan(value):
            return "NaN"
        return "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, Mapping):  # a dict, or an LRChange (its wire form)
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def evidence_text(evidence: Mapping[str, Any]) -> str:
    """A finding's evidence as one line, ``key=value, ...`` (floats to 4 significant digits,
    ``None`` left out): what ``diagnose`` prints and its HTML report shows."""
    parts = []
    for key, value in evidence.items():
        if value is None:
            continue
        if isinstance(value, float):
            value = f"{value:.4g}" if math.isfinite(value) else str(value)
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def fmt_lr(lr: float) -> str:
    """An LR as users write it in configs: ``3.0e-03``."""
    return f"{lr:.1e}"


def fmt_num(x: float) -> str:
    """A metric value with 3 significant digits, readable at a glance.

    ``0.412``, ``13.9``, ``1234``, ``3.31e7``, ``6.2e-4`` (no ``e+07`` noise); NaN/inf spelled
    out as Python prints them.
    """
    if not math.isfinite(x):
        return str(x)
    a = abs(x)
    if a == 0:
        return "0"
    if 1e-3 <= a < 1e3:
        return f"{x:.3g}"
    if 1e3 <= a < 1e4:
        return f"{x:.0f}"
    mantissa, exp = f"{x:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}"


def fmt_ratio(r: float) -> str:
    """A ratio as a factor: ``4×``, ``13.9×``, ``520×``, ``3.3e7×`` (compact when huge)."""
    if not math.isfinite(r):
        return "∞×" if r > 0 else "?×"
    if r >= 1e4:
        mantissa, exp = f"{r:.1e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exp)}×"
    if r >= 100:
        return f"{r:.0f}×"
    return f"{r:.3g}×"


def times(factor: float) -> str:
    """``10×`` for 10 or 0.1: the size of a change, either way."""
    k = factor if factor >= 1 else 1.0 / factor
    return f"{k:.3g}×"


def lr_change_text(lr: float | None, factor: float) -> str:
    """'reduce LR 10×: 3.0e-02 → 3.0e-03', or relative wording when the LR is unknown."""
    verb = "reduce" if factor < 1 else "raise"
    if lr is None or not math.isfinite(lr) or lr <= 0:
        return f"{verb} the learning rate {times(factor)}"
    return f"{verb} LR {times(factor)}: {fmt_lr(lr)} → {fmt_lr(lr * factor)}"


def scale_action(factor: float) -> LRChange:
    """The machine action for a relative LR change (works whether or not the LR is known)."""
    return LRChange.scale(round(factor, 6))


def set_action(lr: float | None, factor: float) -> LRChange:
    """``set_lr`` to ``lr * factor`` (3 significant digits) when the LR is known, else a
    ``scale_lr`` action."""
    if lr is None or not math.isfinite(lr) or lr <= 0:
        return scale_action(factor)
    return LRChange.set(float(f"{lr * factor:.3g}"))


def clamp01(x: float) -> float:
    """Clamp a confidence into [0.05, 0.99] (NaN becomes 0.5)."""
    if math.isnan(x):
        return 0.5
    return max(0.05, min(0.99, x))
