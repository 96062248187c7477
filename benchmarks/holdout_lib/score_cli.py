"""``rules_quality.py --holdout``: score the holdout corpus, print it, write it to the doc.

The results go between ``<!-- holdout:start -->`` and ``<!-- holdout:end -->`` in
docs/rules-quality.md, and the summary to ``benchmarks/out/holdout_quality.json``.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from benchmarks.corpus_lib import report
from benchmarks.holdout_lib.score import score_holdout

START, END = "<!-- holdout:start -->", "<!-- holdout:end -->"


def summarize_holdout(corpus_dir: Path, rules: str | None = None) -> dict[str, Any]:
    """Score every holdout run; the corpus-1 summary plus per-logger and reading tables."""
    from lrwatch.rules import load_config

    results, extra = score_holdout(corpus_dir, load_config(rules))
    summary = report.summarize(results)
    summary["corpus"] = extra["meta"]
    summary["loggers"] = report.per_group(results, lambda r: str(r.label["logger"]))
    summary["reading"] = extra["reading"]
    summary["reading_by_logger"] = _reading_by_logger(results, extra["reading"])
    return summary


def _reading_by_logger(results: list[Any], reading: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for res in results:
        r = reading[res.name]
        row = out.setdefault(
            res.label["logger"],
            {"runs": 0, "formats": Counter(), "inferred": 0, "problems": Counter()},
        )
        row["runs"] += 1
        row["formats"].update(r["format"])
        row["inferred"] += bool(r["steps_inferred"])
        row["problems"].update(_kind(p) for p in r["problems"])
    return {
        k: {**v, "formats": dict(v["formats"]), "problems": dict(v["problems"])}
        for k, v in out.items()
    }


def _kind(problem: str) -> str:
    """A reading problem without its counts ("N loss points read, M logged" -> its shape)."""
    return " ".join("N" if w.isdigit() else w for w in problem.split())


def render_holdout(summary: dict[str, Any]) -> str:
    """The corpus-1 rendering, plus provenance, per-logger results and how lrwatch read them."""
    meta = summary["corpus"]
    v = meta.get("versions", {})
    lines = [
        f"Scored {meta.get('scored', '?')} with the engine at `{meta.get('commit', '?')}`. "
        f"Logs written {meta.get('date', '?')} by transformers {v.get('transformers')}, lightning "
        f"{v.get('lightning')}, tensorboard {v.get('tensorboard')}, torch {v.get('torch')} "
        f"(Python {v.get('python')}); {meta.get('programs', '?')} training programs.",
        "",
        report.render(summary),
        "",
        "By logger / format of the file:",
        "",
        *report.render_families(summary["loggers"], what="logger"),
        "",
        "How lrwatch read the files (auto-detected format; 'steps inferred': the log carries no "
        "step, lrwatch numbers the points; problems: differences from the read-back):",
        "",
        "| logger | runs | lrwatch format | steps inferred | reading problems (runs) |",
        "|---|---:|---|---:|---|",
    ]
    for logger, row in summary["reading_by_logger"].items():
        fmts = ", ".join(f"{k} ×{n}" for k, n in row["formats"].items())
        probs = "; ".join(f"{k} ({n})" for k, n in row["problems"].items()) or "none"
        lines.append(f"| {logger} | {row['runs']} | {fmts} | {row['inferred']} | {probs} |")
    return "\n".join(lines)


def holdout_main(args: argparse.Namespace) -> None:
    """Regenerate (if asked or missing), score, print, write the JSON and the doc section."""
    import datetime

    from benchmarks.holdout_corpus import generate

    corpus = args.holdout_corpus
    if args.regenerate or not (corpus / "labels.json").exists():
        print(f"training the holdout corpus into {corpus} ...", flush=True)
        generate(corpus, args.jobs)
    summary = summarize_holdout(corpus, args.rules)
    summary["corpus"]["scored"] = datetime.date.today().isoformat()
    summary["corpus"]["commit"] = _commit()
    text = render_holdout(summary)
    print(text)
    out = corpus.parent / "holdout_quality.json"
    out.write_text(json.dumps(summary, indent=1, default=str))
    if str(args.doc) not in ("", "."):
        report.update_doc(args.doc, text, START, END)
        print(f"holdout results written to {args.doc} and {out}")


def _commit() -> str:
    """The engine scored: ``$LRWATCH_ENGINE`` if set, else the git HEAD (short) of the
    checkout ``lrwatch`` is imported from, with "+changes" when its lrwatch/ has local edits."""
    import os
    import subprocess

    import lrwatch

    if os.environ.get("LRWATCH_ENGINE"):
        return os.environ["LRWATCH_ENGINE"]
    root = Path(lrwatch.__file__).resolve().parents[1]
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                              capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "lrwatch"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return f"unknown (lrwatch imported from {root})"
    return head + ("+changes" if dirty else "")
