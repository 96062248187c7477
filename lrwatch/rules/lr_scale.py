"""How large an LR is for its optimizer: the landmarks the rules judge an LR by.

An LR of 1e-3 is a normal Adam LR and a small SGD one: a rule that blames the LR for what the
loss does must know which. The optimizer comes from the run header (``optimizer``), a
Lightning ``lr-SGD`` column, or is unknown (then the landmarks are the cautious ones).
LRs are compared at 6 significant digits (:func:`_as_logged`).
"""

from __future__ import annotations

import functools

#: Optimizer names that make the adaptive (Adam-like) family; "sgd" in a name is SGD.
_ADAPTIVE = ("adam", "rmsprop", "adagrad", "lamb", "lion", "nadam", "radam", "adafactor")

#: LRs above which an optimizer family is rarely stable: a loss that does not move at such an
#: LR is likelier stuck because it is too high, never a reason to raise it further.
_LARGE_LR = {"adaptive": 1e-2, "sgd": 1.0}
#: LRs at or below which a flat loss is blamed on the LR even when batch noise hides whether
#: it moves at all (fine-tuning uses such Adam LRs, but then the loss does move).
_SMALL_LR = {"adaptive": 1e-4, "sgd": 1e-3}


@functools.lru_cache(maxsize=64)
def _family(optimizer: str | None) -> str | None:
    name = (optimizer or "").lower()
    if any(k in name for k in _ADAPTIVE):
        return "adaptive"
    return "sgd" if "sgd" in name else None


def lr_is_large(optimizer: str | None, lr: float | None) -> bool:
    """Whether ``lr`` is large for ``optimizer`` (Adam-like ≥ 1e-2, SGD ≥ 1; unknown: ≥ 1)."""
    if lr is None:
        return False
    return _as_logged(lr) >= _LARGE_LR[_family(optimizer) or "sgd"]


#: LRs below which an optimizer family does not make a loss swing widely (Adam-like 1e-3 is
#: its usual default; SGD below 0.05 moves weights too little); an unknown optimizer: 1e-2.
_SWING_LR = {"adaptive": 1e-3, "sgd": 5e-2, None: 1e-2}


#: LRs below which an optimizer family barely trains anything from scratch or fine-tunes
#: visibly (AdamW 1e-6, SGD 1e-4); an unknown optimizer: below 1e-5 (tiny for both).
_TINY_LR = {"adaptive": 1e-5, "sgd": 1e-3, None: 1e-5}


def lr_is_tiny(optimizer: str | None, lr: float | None) -> bool:
    """Whether ``lr`` is tiny for ``optimizer``: a loss that does not move there is blamed
    on the LR from a few points on (False when the LR is unknown)."""
    return lr is not None and _as_logged(lr) < _TINY_LR[_family(optimizer)]


#: LRs from which an optimizer family counts as running at a normal LR (not small):
#: Adam-like 3e-4 (its usual range is 3e-4 to 3e-3), SGD 1e-2; an unknown optimizer: 3e-4.
_NORMAL_LR = {"adaptive": 3e-4, "sgd": 1e-2, None: 3e-4}


def lr_is_normal(optimizer: str | None, lr: float | None) -> bool:
    """Whether ``lr`` is at least a normal LR for ``optimizer`` (False when unknown): a loss
    that learns slowly there is not evidence of a too-low LR."""
    return lr is not None and _as_logged(lr) >= _NORMAL_LR[_family(optimizer)]


def lr_can_swing(optimizer: str | None, lr: float | None) -> bool:
    """Whether ``lr`` is large enough to make the loss swing (True when the LR is unknown)."""
    return lr is None or _as_logged(lr) >= _SWING_LR[_family(optimizer)]


def lr_is_small(
    optimizer: str | None, lr: float | None, table: dict[str, float] | None = None
) -> bool:
    """Whether ``lr`` is small for a *known* ``optimizer`` (by default Adam-like ≤ 1e-4,
    SGD ≤ 1e-3; ``table`` gives other, exclusive, upper bounds per family)."""
    family = _family(optimizer)
    if lr is None or family is None:
        return False
    lr = _as_logged(lr)
    return lr <= _SMALL_LR[family] if table is None else lr < table[family]


def _as_logged(lr: float) -> float:
    """``lr`` to 6 significant digits: the LR a config said (TensorBoard stores float32, so
    1e-2 reads back as 0.009999999776; compared with 1e-2 it must count as 1e-2)."""
    return float(f"{lr:.6g}")
