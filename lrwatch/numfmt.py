"""Compact number labels shared by the charts, the cards and LR changes (pure)."""

from __future__ import annotations

import math


def fmt_num(x: float, width: int = 7, digits: int = 1) -> str:
    """A compact label for ``x`` that fits in ``width`` characters (``3e-4``, ``2.31``, ``12k``).

    ``digits``: mantissa decimals in exponent form (``2.99e-3`` needs 2).
    """
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")
    if x == 0:
        return "0"
    ax = abs(x)
    if ax >= 1e4 or ax < 1e-2:
        mant, exp = f"{x:.{digits}e}".split("e")
        mant = mant.rstrip("0").rstrip(".")
        s = f"{mant}e{int(exp)}"
        return s if len(s) <= width else f"{x:.0e}"
    for digits in (3, 2, 1, 0):
        s = f"{x:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{x:.0f}"
        if len(s) <= width:
            return s
    return f"{x:.0e}"
