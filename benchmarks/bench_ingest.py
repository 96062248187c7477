"""JSONL ingest: records/s of lrwatch's reader vs msgspec's bare decode_lines and pandas.

    python benchmarks/bench_ingest.py [--quick] [--records N]

Generates an lrwatch JSONL log (step, t, loss, lr, grad_norm; a NaN every ~1000 records) in
benchmarks/out/ and, in the same run, times:

- ``read_runs([path])``: the whole real path, file -> format detection -> parser -> store
  (the parser in block mode: numpy columns per block), and the same with ``blocks=False``
  (one Metrics record per line, what the UI and ``diagnose`` read);
- the JSONL parser alone (``JsonlParser.feed``) and parser + ``RunData.add``, in both modes;
- msgspec's bare ``Decoder().decode_lines`` of the same bytes, the baseline (goal: lrwatch
  >= 0.5x of it). msgspec rejects the ``NaN`` tokens, so it decodes the bytes with ``NaN``
  replaced by ``null`` (same size; the replacement is not timed);
- ``pandas.read_json(lines=True)`` of those bytes when pandas is installed.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, emit, fmt_rate, out_dir, read_runs_kwargs, write_jsonl_log


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="200k records instead of 1M")
    ap.add_argument("--records", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.records or (200_000 if args.quick else 1_000_000)
    path = write_jsonl_log(out_dir() / f"ingest_{n}.jsonl", n)
    data = path.read_bytes()
    clean = data.replace(b"NaN", b"null")
    print(f"{n:,} records, {len(data) / 1e6:.1f} MB: {path}")
    res: dict[str, Any] = {"records": n, "bytes": len(data)}

    import msgspec

    dec = msgspec.json.Decoder()
    t_msgspec = best_of(lambda: dec.decode_lines(clean), args.repeat)
    res["msgspec_decode_lines_rps"] = n / t_msgspec
    res["msgspec_decode_lines_cpu_s"] = best_of(
        lambda: dec.decode_lines(clean), args.repeat, clock=time.process_time
    )

    try:
        from lrwatch.sources import read_runs

        fmt, opts = read_runs_kwargs()
        res["read_runs_detected"] = fmt is None

        def via_sources(blocks: bool = True) -> None:
            store = read_runs([str(path)], fmt, blocks=blocks, **opts)
            run = next(iter(store.runs.values()))
            assert len(run.series["loss"]) == n, len(run.series["loss"])
            assert run.records == n + 1, run.records

        res["read_runs_rps"] = n / best_of(via_sources, args.repeat)
        res["read_runs_cpu_s"] = best_of(via_sources, args.repeat, clock=time.process_time)
        res["read_runs_cpu_vs_msgspec"] = res["msgspec_decode_lines_cpu_s"] / res["read_runs_cpu_s"]
        res["read_runs_records_mode_rps"] = n / best_of(lambda: via_sources(False), args.repeat)
    except Exception as exc:  # the sources/formats parts may not have landed yet
        res["read_runs_error"] = repr(exc)

    try:
        from lrwatch.formats.jsonl import JsonlParser
        from lrwatch.store import RunData

        def parse_only() -> None:
            p = JsonlParser()
            recs = p.feed(data)
            recs += p.flush()
            assert len(recs) == n + 1, len(recs)

        def parse_and_store(blocks: bool = False) -> None:
            p = JsonlParser(blocks=blocks)
            run = RunData("bench")
            chunk = 16 << 20  # as the tailer hands it over
            for i in range(0, len(data), chunk):
                run.add(p.feed(data[i : i + chunk]))
            run.add(p.flush())
            assert len(run.series["loss"]) == n

        res["parser_rps"] = n / best_of(parse_only, args.repeat)
        res["parser_store_rps"] = n / best_of(parse_and_store, args.repeat)
        res["parser_store_blocks_rps"] = n / best_of(lambda: parse_and_store(True), args.repeat)
    except Exception as exc:
        res["parser_error"] = repr(exc)

    try:
        import pandas as pd

        res["pandas_read_json_rps"] = n / best_of(
            lambda: pd.read_json(io.BytesIO(clean), lines=True), 1
        )
    except ImportError:
        res["pandas_read_json_rps"] = None

    base = res["msgspec_decode_lines_rps"]
    for key in (
        "read_runs_rps",
        "read_runs_records_mode_rps",
        "parser_store_blocks_rps",
        "parser_store_rps",
        "parser_rps",
        "pandas_read_json_rps",
    ):
        if res.get(key):
            res[key.replace("_rps", "_vs_msgspec")] = res[key] / base
    for key, value in res.items():
        if key.endswith("_rps") and value:
            ratio = res.get(key.replace("_rps", "_vs_msgspec"))
            extra = f"  ({ratio:.2f}x msgspec)" if ratio else ""
            print(f"  {key[:-4]:<22} {fmt_rate(value)}records/s{extra}")
        elif key == "read_runs_cpu_vs_msgspec":
            print(f"  {'read_runs CPU time':<22} {value:.2f}x msgspec's")
        elif key.endswith("_error"):
            print(f"  {key}: {value}")
    emit("ingest", res)


if __name__ == "__main__":
    main()
