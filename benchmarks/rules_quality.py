"""Measured quality of the rule engine on a labelled corpus of real (small) torch runs.

Feeds each corpus log through ``lrwatch.rules.Engine`` one record at a time (read with
lrwatch's own sources), then scores per symptom precision, recall and detection delay, false
findings per healthy run, and the issue's goals. Prints the tables and the misdetections and
rewrites the results section of docs/rules-quality.md.

    python benchmarks/rules_quality.py --regenerate   # train the corpus (~3-5 min), then score
    python benchmarks/rules_quality.py                # score the existing corpus
    python benchmarks/rules_quality.py --holdout [--regenerate]   # the second (holdout) corpus
    python benchmarks/rules_quality.py --both [--regenerate]      # both corpora
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.corpus_lib import report
from benchmarks.corpus_lib.scoring import read_records, run_engine
from benchmarks.holdout_corpus import DEFAULT_OUT as HOLDOUT_OUT
from benchmarks.rules_corpus import DEFAULT_OUT, generate
from lrwatch.rules import load_config

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "rules-quality.md"


def score_corpus(corpus_dir: Path, rules: str | None = None) -> dict[str, Any]:
    """Run the engine over every labelled log in ``corpus_dir``; returns the summary."""
    data = json.loads((corpus_dir / "labels.json").read_text())
    labels = data["runs"]
    config = load_config(rules)
    paths = [corpus_dir / lab["log"] for lab in labels.values()]
    records = read_records(paths)
    results = [run_engine(name, records.get(name, []), labels[name], config) for name in labels]
    summary = report.summarize(results)
    summary["corpus"] = data["meta"]
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--regenerate", action="store_true", help="train the corpus first")
    ap.add_argument("--corpus", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--holdout", action="store_true", help="score the holdout corpus instead")
    ap.add_argument("--both", action="store_true", help="score both corpora")
    ap.add_argument("--holdout-corpus", type=Path, default=HOLDOUT_OUT)
    ap.add_argument("--jobs", type=int, default=2, help="training processes (default 2)")
    ap.add_argument("--rules", default=None, help="TOML rules file for the engine")
    ap.add_argument("--doc", type=Path, default=DOC, help="markdown file to update ('' skips)")
    args = ap.parse_args(argv)
    if args.holdout or args.both:
        from benchmarks.holdout_lib.score_cli import holdout_main

        holdout_main(args)
        if not args.both:
            return 0
    if args.regenerate or not (args.corpus / "labels.json").exists():
        print(f"training the corpus into {args.corpus} ...", flush=True)
        generate(args.corpus, args.jobs)
    summary = score_corpus(args.corpus, args.rules)
    text = report.render(summary)
    print(text)
    out = args.corpus.parent / "rules_quality.json"
    out.write_text(json.dumps(summary, indent=1, default=str))
    if str(args.doc) not in ("", "."):  # Path("") is "."
        report.update_doc(args.doc, text)
        print(f"results written to {args.doc} and {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
