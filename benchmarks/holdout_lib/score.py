"""Feed each holdout file through lrwatch as ``lrwatch diagnose`` reads it, and score it.

Each file is opened on its own with ``lrwatch.sources.open_runs([path], None,
follow=False)``: format auto-detection, lrwatch's own parsers and loss choice, one run per
path. The engine is fed the records one at a time (as ``corpus_lib.scoring.run_engine``
does). lrwatch numbers steps its own way for some formats (HF console lines carry none and
are numbered 0, 1, 2, ...), so every point is scored at its *true* step: the k-th training
loss point lrwatch reads is the k-th point the label's read-back found (and likewise for the
validation points); a count that differs is reported as a reading problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.corpus_lib.scoring import RunResult, Sightings
from lrwatch.records import Metrics, Record
from lrwatch.rules import Engine, RuleConfig


def read_file(path: Path) -> tuple[list[Record], dict[str, Any]]:
    """Every record lrwatch reads from one file, and what it made of the file."""
    from lrwatch.sources import open_runs

    records: list[Record] = []
    runset = open_runs([str(path)], None, follow=False)
    try:
        while True:
            batch = runset.poll()
            for recs in batch.values():
                records.extend(recs)
            if runset.done:
                break
            if not any(batch.values()):
                runset.wait(0.01)
        info = {
            "runs": len(runset.sources),
            "format": [src.format for src in runset.sources.values()],
            "skipped": sum(src.skipped for src in runset.sources.values()),
            "steps_inferred": any(
                getattr(src, "steps_inferred", False) for src in runset.sources.values()
            ),
        }
        choosers = [runset.chooser(name) for name in runset.sources]
        info["val_loss"] = [c.val.describe() for c in choosers if c.val is not None]
    finally:
        runset.close()
    return records, info


def run_engine_true_steps(
    name: str, records: list[Record], label: dict[str, Any], config: RuleConfig | None
) -> tuple[RunResult, dict[str, Any]]:
    """Like ``corpus_lib.scoring.run_engine``, but every step noted is the true step of the
    point being fed (from the label's read-back), whatever step lrwatch gave it."""
    engine = Engine(config, run=name)
    res = RunResult(name, label)
    train = label["steps"]
    vals = list(label["val_steps"].values())
    val = vals[0] if vals else []
    seen = Sightings(res)
    now = train[0] if train else 0
    read = {"loss_points": 0, "val_points": 0, "lrwatch_steps": []}
    for rec in records:
        if isinstance(rec, Metrics):
            if "loss" in rec.values:
                now = _at(train, read["loss_points"], now)
                read["loss_points"] += 1
                read["lrwatch_steps"].append(rec.step)
                res.loss_steps.append(now)
            if "val_loss" in rec.values:
                now = max(now, _at(val, read["val_points"], now))
                read["val_points"] += 1
                res.val_steps.append(now)
        seen.note(engine.feed([rec]), now, engine.lr, resolved_at=now)
    return res, read


def _at(steps: list[int], i: int, now: int) -> int:
    """The true step of the i-th point (past the read-back's end: the last one)."""
    if not steps:
        return now
    return steps[min(i, len(steps) - 1)]


def reading_problems(
    label: dict[str, Any], info: dict[str, Any], read: dict[str, Any]
) -> list[str]:
    """What lrwatch read differently from the read-back (counts, several runs, skipped)."""
    out = []
    if info["runs"] != 1:
        out.append(f"{info['runs']} runs in one file")
    if read["loss_points"] != len(label["steps"]):
        out.append(f"{read['loss_points']} loss points read, {len(label['steps'])} logged")
    vals = list(label["val_steps"].values())
    if vals and read["val_points"] != len(vals[0]):
        out.append(f"{read['val_points']} val points read, {len(vals[0])} logged")
    if info["skipped"]:
        out.append(f"{info['skipped']} lines skipped")
    steps = read["lrwatch_steps"]
    if len(steps) > 1 and len(set(steps)) < len(steps):
        out.append(f"{len(steps) - len(set(steps))} loss points share a step with another")
    return out


def score_holdout(
    corpus_dir: Path, config: RuleConfig | None
) -> tuple[list[RunResult], dict[str, Any]]:
    """Every labelled run of the holdout corpus through lrwatch and the engine."""
    data = __import__("json").loads((corpus_dir / "labels.json").read_text())
    results, reading = [], {}
    for name, label in data["runs"].items():
        records, info = read_file(corpus_dir / label["log"])
        res, read = run_engine_true_steps(name, records, label, config)
        results.append(res)
        problems = reading_problems(label, info, read)
        reading[name] = {"format": info["format"], "val_loss": info["val_loss"],
                         "steps_inferred": info["steps_inferred"], "problems": problems}  # fmt: skip
    return results, {"meta": data["meta"], "reading": reading}
