"""JSONL lines of a run that rewinds, written by hand as the Monitor writes them (the
``rewind`` record's schema: docs/format.md), for the tests of the reading side."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Wall time of step 0 (a real epoch time: small numbers under ``t`` read as metrics).
T0 = 1_750_000_000.0


def header(lr: float = 0.1, name: str = "r") -> str:
    """The run header."""
    return json.dumps({"kind": "run", "v": 1, "run": name, "t": T0, "lr": [lr]})


def metric(step: int, loss: float, lr: float = 0.1, **more: float) -> str:
    """A metric record (NaN and Infinity written as JSONL tokens)."""
    return json.dumps({"step": step, "t": T0 + step, "loss": loss, "lr": lr, **more})


def rewind(frm: int, to: int, factor: float | None = 0.1, by: str = "unix", **more: Any) -> str:
    """A ``rewind`` record from step ``frm`` back to the snapshot of step ``to``."""
    rec = {
        "kind": "rewind",
        "step": frm,
        "to_step": to,
        "t": T0 + frm + 0.5,
        "old": [0.1],
        "new": [0.1 if factor is None else 0.1 * factor],
        "factor": factor,
        "mode": None if factor is None else "rescale",
        "source": "snapshot",
        "by": by,
        "id": f"rw{frm}",
        **more,
    }
    return json.dumps(rec)


def healthy(step: int) -> float:
    """A falling loss with 5% batch noise (seeded by the step: the same every time)."""
    noise = random.Random(step).gauss(0.0, 0.05)
    return (0.3 + 2.0 / (1 + step / 50) ** 0.7) * math.exp(noise)


def losses(steps: Iterable[int], f: Any = healthy, lr: float = 0.1) -> list[str]:
    """Metric lines for ``steps`` with loss ``f(step)``."""
    return [metric(s, f(s), lr) for s in steps]


def spike_and_rewind(n: int = 60, spike_at: int = 50, to: int = 40) -> list[str]:
    """``n`` healthy steps, a loss that blows up from ``spike_at`` to ``n``, a rewind to
    ``to`` with the LR ÷10, then ``n - to`` healthy steps again (``to+1`` .. ``n+10``)."""
    out = [header()]
    out += losses(range(1, spike_at))
    out += losses(range(spike_at, n + 1), lambda s: 50.0 * (s - spike_at + 1))
    out.append(rewind(n, to))
    out += losses(range(to + 1, n + 11), lr=0.01)
    return out


def write(path: Path, lines: list[str]) -> Path:
    """Write ``lines`` as a JSONL file."""
    path.write_text("\n".join(lines) + "\n")
    return path
