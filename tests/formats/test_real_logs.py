"""Real logs of programs nobody here wrote (tests/fixtures/real/, sources in SOURCES.md).

Each file is read the way a user reads it (``read_runs``: detection, the reader, the loss
choice) and compared with tests/fixtures/real/expected.json, which was counted independently
of lrwatch by a small script per log shape, from labelling rules written down before counting.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from lrwatch.sources import read_runs

ROOT = Path(__file__).resolve().parent.parent / "fixtures" / "real"
EXPECTED: dict[str, dict[str, Any]] = json.loads((ROOT / "expected.json").read_text())


def _same(got: float, want: Any) -> bool:
    if want == "nan":
        return math.isnan(got)
    return math.isclose(got, float(want), rel_tol=1e-9, abs_tol=1e-12)


def _read(rel: str) -> Any:
    store = read_runs([str(ROOT / rel)])
    (run,) = store.runs.values()
    return run


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_train_loss_reads_as_counted(rel: str) -> None:
    want = EXPECTED[rel]
    run = _read(rel)
    loss = run.series.get("loss")
    if want["count"] == 0:
        assert loss is None, f"{rel}: a loss was read from a log that has none"
        return
    assert loss is not None, f"{rel}: no loss read ({sorted(run.series)})"
    steps, values = loss.steps, loss.values
    assert len(values) == want["count"]
    assert (int(steps[0]), int(steps[-1])) == (want["first_step"], want["last_step"])
    assert _same(values[0], want["first_loss"]) and _same(values[-1], want["last_loss"])
    assert int((~_finite(values)).sum()) == want["nan_count"]


@pytest.mark.parametrize("rel", sorted(EXPECTED))
def test_validation_loss_reads_as_counted(rel: str) -> None:
    run = _read(rel)
    val = run.series.get("val_loss")
    assert (0 if val is None else len(val.values)) == EXPECTED[rel]["val_count"]


def _finite(values: Any) -> Any:
    import numpy as np

    return np.isfinite(np.asarray(values, dtype=float))


def test_every_fixture_is_labelled_and_sourced() -> None:
    files = {
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*")
        if p.is_file() and p.suffix != ".py" and p.name not in ("SOURCES.md", "expected.json")
    }
    assert files == set(EXPECTED)
    sources = (ROOT / "SOURCES.md").read_text()
    missing = [rel for rel in EXPECTED if rel.split("/")[-1] not in sources]
    assert not missing, f"not in SOURCES.md: {missing}"
