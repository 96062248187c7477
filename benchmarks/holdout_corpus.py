"""Train the second, independent (holdout) corpus of the rule-engine quality benchmark.

Its own tasks and loops (``benchmarks/holdout_lib``), logged by the real programs a user
has: the Hugging Face ``Trainer`` (console output and ``trainer_state.json``), Lightning's
``CSVLogger`` and ``TensorBoardLogger``, and hand-written loops printing nanoGPT-like and
PyTorch-examples-like lines. ``labels.json`` holds each run's label (derived from its
construction and the values read back from its file without lrwatch), the logged steps and
the spec. See docs/rules-quality.md, "The second (holdout) corpus".

    python benchmarks/holdout_corpus.py [--out DIR] [--jobs 2] [--only SUBSTR]
    python benchmarks/holdout_corpus.py --relabel    # label the existing logs again
"""

from __future__ import annotations

import datetime
import json
import multiprocessing
import platform
import shutil
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus_lib.cli import corpus_args, print_relabel
from benchmarks.holdout_lib.labels import label_run
from benchmarks.holdout_lib.readback import read_series
from benchmarks.holdout_lib.spec import HSpec
from benchmarks.holdout_lib.specs import holdout_specs

DEFAULT_OUT = Path(__file__).resolve().parent / "out" / "holdout"


def _train_one(job: tuple[HSpec, str]) -> tuple[str, float, str]:
    """Train one program into its folder; returns (name, seconds, error or "")."""
    import torch

    torch.set_num_threads(1)
    from benchmarks.holdout_lib import hf_runs, loops, pl_runs
    from benchmarks.holdout_lib.tasks import make_data

    spec, out_dir = job
    folder = Path(out_dir) / spec.name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    t0 = time.perf_counter()
    try:
        data = make_data(spec.task, spec.seed, **spec.task_opts)
        if spec.logger == "hf":
            hf_runs.hf_run(spec, data, folder)
        elif spec.logger == "pl":
            pl_runs.pl_run(spec, data, folder)
        else:
            loop = loops.nanogpt_loop if spec.logger == "nanogpt" else loops.ptexamples_loop
            with open(folder / "train.log", "w") as log:
                loop(spec, data, log)
    except Exception as exc:  # a run that crashed is reported, not fatal to the corpus
        return spec.name, time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"
    return spec.name, time.perf_counter() - t0, ""


def log_path(out_dir: Path, rel: str) -> Path:
    """The file of a run: a TensorBoard run folder resolves to its one events file."""
    path = out_dir / rel
    if path.is_dir():
        found = sorted(path.glob("events.out.tfevents.*"))
        return found[0] if found else path / "events.out.tfevents.missing"
    return path


def generate(out_dir: Path, jobs: int = 2, only: str | None = None) -> dict[str, Any]:
    """Train every program into ``out_dir`` and write ``labels.json``."""
    import lightning  # noqa: F401  (imported once here, shared by the forked workers)
    import torch  # noqa: F401
    import transformers  # noqa: F401

    out_dir.mkdir(parents=True, exist_ok=True)
    specs = [s for s in holdout_specs() if only is None or only in s.name]
    t0 = time.perf_counter()
    errors: dict[str, str] = {}
    work = sorted(((s, str(out_dir)) for s in specs), key=lambda j: -j[0].steps)  # long first
    with multiprocessing.get_context("fork").Pool(jobs, maxtasksperchild=10) as pool:
        for name, secs, err in pool.imap_unordered(_train_one, work):
            if err:
                errors[name] = err
            print(f"  {secs:5.1f}s  {name}{'  ERROR ' + err if err else ''}", flush=True)
    meta = {
        "seconds": round(time.perf_counter() - t0, 1),
        "jobs": jobs,
        "date": datetime.date.today().isoformat(),
        "errors": errors,
        "versions": versions(),
    }
    data = label_all(out_dir, {s.name: s for s in specs}, meta)
    (out_dir / "labels.json").write_text(json.dumps(data, indent=1))
    return data


def label_all(out_dir: Path, specs: dict[str, HSpec], meta: dict[str, Any]) -> dict[str, Any]:
    """Read every run's file back and label it (twins first: oscillation labels need them)."""
    series: dict[str, dict[str, Any]] = {}
    runs: dict[str, Any] = {}
    for spec in specs.values():
        for name, rel, logger in spec.runs():
            path = log_path(out_dir, rel)
            try:
                series[name] = read_series(path, logger, spec.to_dict())
            except (OSError, ValueError, KeyError) as exc:
                series[name] = {"steps": [], "loss": [], "val": {}, "error": str(exc)}
    for spec in specs.values():
        for name, rel, logger in spec.runs():
            s = series[name]
            twin = None
            if spec.twin:
                suffix = name[len(spec.name) :]
                twin = series.get(spec.twin + suffix)
            label = label_run(spec.to_dict(), s, twin, logger)
            if "error" in s:
                label["notes"] = f"CONSTRUCTION FAILED: unreadable log ({s['error']})"
                label.update(excluded=True, expected={}, primary=None)
            runs[name] = {
                "log": str(log_path(out_dir, rel).relative_to(out_dir)),
                "program": spec.name,
                "intent": spec.intent,
                **label,
                "points": len(s["loss"]),
                "steps": s["steps"],
                "val_steps": {k: v["steps"] for k, v in s["val"].items()},
                "spec": spec.to_dict(),
            }
    meta = {**meta, "runs": len(runs), "programs": len(specs)}
    return {"meta": meta, "runs": dict(sorted(runs.items()))}


def versions() -> dict[str, str]:
    """The library versions that wrote the logs (provenance)."""
    import lightning
    import tensorboard
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "lightning": lightning.__version__,
        "tensorboard": tensorboard.__version__,
    }


def relabel(out_dir: Path) -> list[str]:
    """Label the existing logs again; returns one line per run whose label changed."""
    path = out_dir / "labels.json"
    old = json.loads(path.read_text())
    specs = {r["program"]: HSpec(**r["spec"]) for r in old["runs"].values()}
    new = label_all(out_dir, specs, old["meta"])
    changed = []
    for name, lab in new["runs"].items():
        was = old["runs"].get(name, {})
        if (lab["primary"], lab["expected"], lab["excluded"]) != (
            was.get("primary"), was.get("expected"), was.get("excluded")
        ):  # fmt: skip
            changed.append(f"{name}: {was.get('primary')} {was.get('expected')} -> "
                           f"{lab['primary']} {lab['expected']} ({lab['notes']})")  # fmt: skip
    path.write_text(json.dumps(new, indent=1))
    return changed


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    args = corpus_args(__doc__, DEFAULT_OUT, "programs", argv)
    if args.relabel:
        return print_relabel(relabel, args.out)
    corpus = generate(args.out, args.jobs, args.only)
    meta = corpus["meta"]
    print(
        f"{meta['runs']} runs from {meta['programs']} programs in {meta['seconds']} s -> {args.out}"
    )
    for name, run in corpus["runs"].items():
        if run["excluded"]:
            print(f"  excluded: {name}: {run['notes']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
