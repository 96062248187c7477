"""Readers on large and damaged inputs (issue 17): peak RSS and throughput, each in a process.

    python benchmarks/bench_readers_bounded.py [--quick] [--lrwatch DIR] [--ijson DIR]

Cases, each read by ``python -m lrwatch inspect --json`` in a fresh child process (peak RSS
from ``getrusage(RUSAGE_CHILDREN)`` of a wrapper; throughput = input MB / wall time):

- a 100 MB ``trainer_state.json`` (HF layout: indent 2, sorted keys), as a file, and through
  a pipe (``inspect -``, read 64 KiB at a time);
- a 15 MB JSONL whose 1M lines each name a metric of their own;
- 16 MB of zeros as a tfevents file;
- a damaged real event file (the Lightning fixture, 16 MB of zeros inside one record).

Baselines, measured in the same run in the same way: a child that only imports what
``inspect`` imports; ``msgspec.json.decode`` (and ``json.loads``) of the whole trainer_state
bytes; ``msgspec`` ``decode_lines`` of the JSONL; reading the zeros file; ``inspect`` of the
intact event file. ``--lrwatch DIR`` runs the children on another lrwatch tree (e.g. ``git
archive HEAD`` unpacked: the "before" numbers); ``--ijson DIR`` adds ``ijson``'s C backend
(installed with ``pip install --target DIR ijson``; not a dependency) streaming the same
``log_history``, to compare the two streaming approaches.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, emit, out_dir

sys.path.insert(0, str(ROOT))
from tests.formats.bounded import distinct_keys_jsonl, trainer_state

_WRAPPER = (
    "import json, resource, subprocess, sys, time\n"
    "stdin = open(sys.argv[1], 'rb') if sys.argv[1] else None\n"
    "t = time.perf_counter()\n"
    "p = subprocess.run(sys.argv[2:], stdin=stdin, capture_output=True)\n"
    "wall = time.perf_counter() - t\n"
    "rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024\n"
    "print(json.dumps({'rc': p.returncode, 'rss': rss, 'wall': wall,"
    " 'out': p.stdout.decode(), 'err': p.stderr.decode()[-2000:]}))\n"
)
PY = sys.executable


def child(argv: list[str], pythonpath: str, stdin: Path | None = None) -> dict[str, Any]:
    """Run ``argv`` in a child of a wrapper: its peak RSS (bytes), wall time and output."""
    env = dict(os.environ, PYTHONPATH=pythonpath)
    done = subprocess.run(
        [PY, "-c", _WRAPPER, str(stdin or ""), *argv],
        capture_output=True,
        check=True,
        env=env,
        cwd="/",
    )
    res = json.loads(done.stdout)
    if res["rc"]:
        raise RuntimeError(f"{argv} failed: {res['err']}")
    return res


def inputs(quick: bool) -> dict[str, Path]:
    """The generated inputs (benchmarks/out/, reused when present)."""
    out = out_dir()
    n_state, n_keys = (30_000, 100_000) if quick else (625_000, 1_000_000)
    paths = {
        "state": out / f"bounded_{n_state}_trainer_state.json",
        "keys": out / f"bounded_{n_keys}_keys.jsonl",
        "zeros": out / "bounded_zeros.tfevents",
        "intact": out / "bounded_intact.tfevents",
        "damaged": out / "bounded_damaged.tfevents",
    }
    if not paths["state"].exists():
        paths["state"].write_bytes(trainer_state(n_state))
    if not paths["keys"].exists():
        paths["keys"].write_bytes(distinct_keys_jsonl(n_keys))
    paths["zeros"].write_bytes(bytes((1 if quick else 16) << 20))
    real = (ROOT / "tests" / "fixtures" / "lightning_healthy.tfevents").read_bytes()
    cut = _record_start(real, 40)
    paths["intact"].write_bytes(real)
    paths["damaged"].write_bytes(real[: cut + 20] + bytes((1 if quick else 16) << 20) + real[cut:])
    return paths


def _record_start(data: bytes, k: int) -> int:
    pos = 0
    for _ in range(k):
        pos += 12 + int.from_bytes(data[pos : pos + 8], "little") + 4
    return pos


def inspect_argv(path: Path | str, *extra: str) -> list[str]:
    return [PY, "-m", "lrwatch", "inspect", str(path), "--json", *extra]


def measure(name: str, argv: list[str], size: int, path: str, stdin: Path | None = None) -> dict:
    res = child(argv, path, stdin)
    row = {
        "case": name,
        "peak_rss_mb": round(res["rss"] / 2**20, 1),
        "wall_s": round(res["wall"], 2),
        "mb_per_s": round(size / 1e6 / res["wall"], 2),
    }
    if argv[1:3] == ["-m", "lrwatch"]:
        run = json.loads(res["out"])["runs"][0]
        row["records"] = run["records"]
        row["skipped"] = run["skipped_lines"]
        row["names_refused"] = run.get("names_refused")
    print(
        f"{name:44s} {row['peak_rss_mb']:8.1f} MB  {row['wall_s']:7.2f} s "
        f"{row['mb_per_s']:8.2f} MB/s  records={row.get('records', '-')}",
        flush=True,
    )
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="small inputs (a few seconds)")
    ap.add_argument("--lrwatch", default=str(ROOT), help="the lrwatch tree the children run")
    ap.add_argument("--ijson", default="", help="a --target folder holding ijson (optional)")
    args = ap.parse_args()
    p = inputs(args.quick)
    lw = os.path.abspath(args.lrwatch)
    size = {k: v.stat().st_size for k, v in p.items()}
    state, keys = str(p["state"]), str(p["keys"])
    print(
        f"lrwatch tree: {lw}; inputs: "
        + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in size.items())
    )
    rows = [
        measure(
            "baseline: import only",
            [PY, "-c", "import lrwatch.cli, lrwatch.sources, lrwatch.formats, numpy, msgspec"],
            1,
            lw,
        ),
        measure(
            "baseline: msgspec.json.decode(state)",
            [PY, "-c", f"import msgspec; msgspec.json.decode(open({state!r}, 'rb').read())"],
            size["state"],
            lw,
        ),
        measure(
            "baseline: json.loads(state)",
            [PY, "-c", f"import json; json.loads(open({state!r}, 'rb').read())"],
            size["state"],
            lw,
        ),
        measure("inspect trainer_state.json (file)", inspect_argv(state), size["state"], lw),
        measure(
            "inspect - < trainer_state.json (pipe, 64 KiB)",
            inspect_argv("-", "--format", "hf_state"),
            size["state"],
            lw,
            stdin=p["state"],
        ),
        measure(
            "baseline: msgspec decode_lines(keys)",
            [
                PY,
                "-c",
                f"import msgspec; msgspec.json.Decoder().decode_lines(open({keys!r}, 'rb').read())",
            ],
            size["keys"],
            lw,
        ),
        measure("inspect keys.jsonl (1 name per line)", inspect_argv(keys), size["keys"], lw),
        measure(
            "baseline: read zeros.tfevents",
            [PY, "-c", f"open({str(p['zeros'])!r}, 'rb').read()"],
            size["zeros"],
            lw,
        ),
        measure("inspect zeros.tfevents", inspect_argv(p["zeros"]), size["zeros"], lw),
        measure(
            "baseline: inspect intact real tfevents", inspect_argv(p["intact"]), size["intact"], lw
        ),
        measure("inspect damaged real tfevents", inspect_argv(p["damaged"]), size["damaged"], lw),
    ]
    if args.ijson:
        # The same per-entry work as the streaming reader (hash, columns), fed by ijson.
        code = (
            f"import sys; sys.path.insert(0, {args.ijson!r}); import ijson, msgspec\n"
            "from lrwatch.formats._hfcolumns import PendingDoc\n"
            "from lrwatch.records import DEFAULT_NAMES\n"
            "doc, enc = PendingDoc(DEFAULT_NAMES, {}), msgspec.json.Encoder().encode\n"
            f"for e in ijson.items(open({state!r}, 'rb'), 'log_history.item', use_float=True):\n"
            "    doc.entry(hash(enc(e)), e)\n"
            "print(ijson.backend, len(doc.records(True)))"
        )
        rows.append(
            measure("ijson (C backend) + the same entry work", [PY, "-c", code], size["state"], lw)
        )
        code2 = (
            "import sys; from lrwatch.formats.hf_state import HfStateParser; "
            f"p = HfStateParser(blocks=True); f = open({state!r}, 'rb'); n = 0\n"
            "while c := f.read(4 << 20): n += len(p.feed(c))\nprint(n)"
        )
        rows.append(
            measure("HfStateParser alone (msgspec scan)", [PY, "-c", code2], size["state"], lw)
        )
    by = {r["case"]: r for r in rows}
    base = by["baseline: import only"]["peak_rss_mb"]
    ratios = {
        "state_file_rss_over_msgspec_decode": by["inspect trainer_state.json (file)"]["peak_rss_mb"]
        / by["baseline: msgspec.json.decode(state)"]["peak_rss_mb"],
        "state_file_speed_over_msgspec_decode": by["inspect trainer_state.json (file)"]["mb_per_s"]
        / by["baseline: msgspec.json.decode(state)"]["mb_per_s"],
        "state_pipe_speed_over_file": by["inspect - < trainer_state.json (pipe, 64 KiB)"][
            "mb_per_s"
        ]
        / by["inspect trainer_state.json (file)"]["mb_per_s"],
        "keys_rss_minus_import_mb": by["inspect keys.jsonl (1 name per line)"]["peak_rss_mb"]
        - base,
        "damaged_speed_over_intact": by["inspect damaged real tfevents"]["mb_per_s"]
        / by["baseline: inspect intact real tfevents"]["mb_per_s"],
    }
    for k, v in ratios.items():
        print(f"{k}: {v:.2f}")
    emit(
        "readers_bounded",
        {
            "quick": args.quick,
            "lrwatch": lw,
            "inputs_bytes": size,
            "rows": rows,
            "ratios": ratios,
            "at": time.strftime("%Y-%m-%d %H:%M:%S"),
        },
    )


if __name__ == "__main__":
    main()
