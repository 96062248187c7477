"""How the rules judge a run they cannot read whole: thinned (newest half + a stride through
the rest, ``session.blocks.thin_rows``) against the newest rows alone, both against the whole log.

The corpus is the labelled one of ``rules_corpus.py`` (``benchmarks/out/corpus/*.jsonl``). For
each share (rows a run keeps when a sweep overflows the rules' backlog) and each run longer than
it, the open findings of the engine fed the whole log are compared with those of the engine fed
(a) the run's last ``share`` rows, (b) ``thin_rows(records, share)``. Same set of open
(symptom, severity) pairs = agree; the worst severity is compared too.

    python benchmarks/rules_thinning.py [--corpus DIR] [--shares 200,750]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lrwatch.formats.jsonl import JsonlParser
from lrwatch.records import AnyRecord, Event, Metrics, expand
from lrwatch.rules import Engine
from lrwatch.session.blocks import thin_rows

ORDER = {"info": 0, "warning": 1, "error": 2}


def open_findings(records: list[AnyRecord]) -> set[tuple[str, str]]:
    engine = Engine(None, run="x")
    engine.feed(records)
    return {(f.symptom, f.severity) for f in engine.findings if not f.resolved}


def last_rows(records: list[AnyRecord], keep: int) -> list[AnyRecord]:
    """Every event and the last ``keep`` metric rows (what the rules kept before thinning)."""
    metrics = [i for i, r in enumerate(records) if isinstance(r, Metrics)]
    kept = set(metrics[-keep:])
    return [r for i, r in enumerate(records) if isinstance(r, Event) or i in kept]


def read(log: Path) -> list[AnyRecord]:
    """Every record of a corpus log."""
    parser = JsonlParser()
    return list(expand(parser.feed(log.read_bytes()) + parser.flush()))


def worst(found: set[tuple[str, str]]) -> int:
    return max((ORDER[s] for _, s in found), default=-1)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=str(Path(__file__).parent / "out" / "corpus"))
    ap.add_argument("--shares", default="200,750")
    args = ap.parse_args()
    logs = sorted(Path(args.corpus).glob("*.jsonl"))
    if not logs:
        sys.exit(f"no corpus in {args.corpus}: run python benchmarks/rules_corpus.py first")
    runs = [read(log) for log in logs]  # read once, for every share
    rows = [sum(isinstance(r, Metrics) for r in records) for records in runs]
    wholes: dict[int, set[tuple[str, str]]] = {}  # the whole log's findings, judged once
    for share in (int(s) for s in args.shares.split(",")):
        n = tail_same = thin_same = tail_worst = thin_worst = 0
        for i, records in enumerate(runs):
            if rows[i] <= share:
                continue
            whole = wholes.get(i)
            if whole is None:
                whole = wholes[i] = open_findings(records)
            tail = open_findings(last_rows(records, share))
            thin = open_findings(thin_rows(records, share))
            n += 1
            tail_same += tail == whole
            thin_same += thin == whole
            tail_worst += worst(tail) == worst(whole)
            thin_worst += worst(thin) == worst(whole)
        print(
            f"share {share}: {n} runs longer; same open findings as the whole log: "
            f"newest rows {tail_same}/{n}, thinned {thin_same}/{n}; same worst severity: "
            f"newest rows {tail_worst}/{n}, thinned {thin_worst}/{n}"
        )


if __name__ == "__main__":
    main()
