"""JSONL ingest: records/s of lrwatch's reader vs msgspec's bare decode_lines and pandas.

    python benchmarks/bench_ingest.py [--quick] [--records N]

Generates an lrwatch JSONL log (step, t, loss, lr, grad_norm; a NaN every ~1000 records) in
benchmarks/out/ and, in the same run, times:

- ``read_runs([path])``: the whole real path, file -> format detection -> parser -> store;
- the JSONL parser alone (``JsonlParser.feed``) and parser + ``RunData.add``;
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
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, emit, fmt_rate, out_dir, read_runs_kwargs, write_jsonl_log


def time_once(fn: Any) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def columnar_prototype(data: bytes, n: int) -> None:
    """A proposed JSONL fast path: same-shaped lines -> columns -> ``RunData.add_columns``.

    Decodes 16 MB blocks with the numeric msgspec decoder (NaN tokens quoted first, as the
    parser does), checks every dict has the block's key set with two C-level passes
    (``len`` and ``itemgetter``), and builds one float64 matrix per block: no Python object
    per record. Lines that do not fit (the run header) go through the regular parser.
    """
    import msgspec

    from lrwatch.formats.jsonl import JsonlParser, patch_tokens
    from lrwatch.store import RunData

    dec = msgspec.json.Decoder(dict[str, int | float], strict=False)
    slow = JsonlParser()
    run = RunData("prototype")
    pos, size = 0, 16 << 20
    while pos < len(data):
        end = data.find(b"\n", pos + size)
        end = len(data) if end < 0 else end + 1
        block, pos = data[pos:end], end
        try:
            objs = dec.decode_lines(patch_tokens(block))
        except (msgspec.DecodeError, ValueError):
            # Split off the offending first line (here: the run header) and retry.
            cut = block.find(b"\n") + 1
            run.add(slow.feed(block[:cut]))
            objs = dec.decode_lines(patch_tokens(block[cut:]))
        keys = tuple(objs[0])
        if set(map(len, objs)) != {len(keys)}:
            raise ValueError("mixed key sets: the regular path would take this block")
        mat = np.array(list(map(itemgetter(*keys), objs)), dtype=np.float64)
        cols = {k: mat[:, j] for j, k in enumerate(keys) if k not in ("step", "t")}
        run.add_columns(mat[:, keys.index("step")], cols, mat[:, keys.index("t")])
    assert len(run.series["loss"]) == n, len(run.series["loss"])


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

    try:
        from lrwatch.sources import read_runs

        fmt, opts = read_runs_kwargs()
        res["read_runs_detected"] = fmt is None

        def via_sources() -> None:
            store = read_runs([str(path)], fmt, **opts)
            run = next(iter(store.runs.values()))
            assert len(run.series["loss"]) == n, len(run.series["loss"])

        res["read_runs_rps"] = n / best_of(via_sources, args.repeat)
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

        def parse_and_store() -> None:
            p = JsonlParser()
            run = RunData("bench")
            chunk = 16 << 20  # as the tailer hands it over
            for i in range(0, len(data), chunk):
                run.add(p.feed(data[i : i + chunk]))
            run.add(p.flush())
            assert len(run.series["loss"]) == n

        res["parser_rps"] = n / best_of(parse_only, args.repeat)
        res["parser_store_rps"] = n / best_of(parse_and_store, args.repeat)
    except Exception as exc:
        res["parser_error"] = repr(exc)

    try:
        res["columnar_prototype_rps"] = n / best_of(
            lambda: columnar_prototype(data, n), args.repeat
        )
    except Exception as exc:
        res["columnar_prototype_error"] = repr(exc)

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
        "parser_store_rps",
        "parser_rps",
        "columnar_prototype_rps",
        "pandas_read_json_rps",
    ):
        if res.get(key):
            res[key.replace("_rps", "_vs_msgspec")] = res[key] / base
    for key, value in res.items():
        if key.endswith("_rps") and value:
            ratio = res.get(key.replace("_rps", "_vs_msgspec"))
            extra = f"  ({ratio:.2f}x msgspec)" if ratio else ""
            print(f"  {key[:-4]:<22} {fmt_rate(value)}records/s{extra}")
        elif key.endswith("_error"):
            print(f"  {key}: {value}")
    emit("ingest", res)


if __name__ == "__main__":
    main()
