"""Train the labelled corpus for the rule-engine quality benchmark (CPU, deterministic seeds).

Each run is a small torch model trained on the CPU with one thread and logged through the
public ``lrwatch.Monitor`` API (no control socket) to ``benchmarks/out/corpus/<run>.jsonl``;
``labels.json`` next to the logs holds each run's expected symptoms, onsets, the direction
the LR fix should point and the run's spec. Runs and labels are described in
docs/rules-quality.md.

    python benchmarks/rules_corpus.py [--out DIR] [--jobs 2] [--only SUBSTRING]
    python benchmarks/rules_corpus.py --relabel    # label the existing logs again, no training
"""

from __future__ import annotations

import json
import multiprocessing
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus_lib.cli import corpus_args, print_relabel
from benchmarks.corpus_lib.labels import label_run
from benchmarks.corpus_lib.specs import corpus_specs
from benchmarks.corpus_lib.trainer import RunSpec

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "corpus"


def _train_one(job: tuple[RunSpec, str]) -> tuple[str, dict[str, Any], float]:
    import torch

    torch.set_num_threads(1)
    from benchmarks.corpus_lib.trainer import train_run

    spec, out_dir = job
    t0 = time.perf_counter()
    out = train_run(spec, Path(out_dir) / f"{spec.name}.jsonl")
    return spec.name, out, time.perf_counter() - t0


def generate(out_dir: Path, jobs: int = 2, only: str | None = None) -> dict[str, Any]:
    """Train every run into ``out_dir`` (old logs removed) and write ``labels.json``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("*.jsonl"):
        old.unlink()
    specs = [s for s in corpus_specs() if only is None or only in s.name]
    by_name = {s.name: s for s in specs}
    work = [(s, str(out_dir)) for s in specs]
    t0 = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    # fork keeps start-up cheap; each worker trains with one thread.
    with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=20) as pool:
        for name, out, secs in pool.imap_unordered(_train_one, work):
            results[name] = out
            print(f"  {secs:5.1f}s  {name}", flush=True)
    labels: dict[str, Any] = {}
    for name in sorted(results):
        spec, out = by_name[name], results[name]
        labels[name] = {
            "log": f"{name}.jsonl",
            "intent": spec.intent,
            **label_run(spec, out),
            "points": len(out["steps"]),
            "status": out["status"],
            "spec": spec.to_dict(),
        }
    meta = {"runs": len(labels), "seconds": round(time.perf_counter() - t0, 1), "jobs": jobs}
    (out_dir / "labels.json").write_text(json.dumps({"meta": meta, "runs": labels}, indent=1))
    return {"meta": meta, "runs": labels}


def relabel(out_dir: Path) -> list[str]:
    """Label every existing log in ``out_dir`` again (after a change to the labelling rules)
    and rewrite ``labels.json``; returns one line per run whose label changed."""
    path = out_dir / "labels.json"
    data = json.loads(path.read_text())
    changed = []
    for name, old in data["runs"].items():
        spec = RunSpec(**old["spec"])
        new = {**old, **label_run(spec, logged_series(out_dir / old["log"]))}
        if (new["primary"], new["expected"], new["excluded"]) != (
            old["primary"], old["expected"], old["excluded"]
        ):  # fmt: skip
            changed.append(
                f"{name}: {old['primary']} {old['expected']} -> {new['primary']} "
                f"{new['expected']} ({new['notes']})"
            )
        data["runs"][name] = new
    path.write_text(json.dumps(data, indent=1))
    return changed


def logged_series(log: Path) -> dict[str, Any]:
    """What :func:`train_run` returned for a run, read back from its JSONL log."""
    out: dict[str, Any] = {"steps": [], "loss": [], "val_steps": [], "val": [], "status": "?"}
    for line in log.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("kind") == "end":
            out["status"] = rec.get("status", "?")
        elif "kind" in rec:
            continue
        elif "loss" in rec:
            out["steps"].append(rec["step"])
            out["loss"].append(float(rec["loss"]))  # NaN/Infinity decode as floats
        elif "val_loss" in rec:
            out["val_steps"].append(rec["step"])
            out["val"].append(float(rec["val_loss"]))
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    args = corpus_args(__doc__, DEFAULT_OUT, "runs", argv)
    if args.relabel:
        return print_relabel(relabel, args.out)
    corpus = generate(args.out, args.jobs, args.only)
    failed = [n for n, r in corpus["runs"].items() if "CONSTRUCTION FAILED" in r["notes"]]
    print(f"{corpus['meta']['runs']} runs in {corpus['meta']['seconds']} s -> {args.out}")
    for name in failed:
        print(f"  note: {name}: {corpus['runs'][name]['notes']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
