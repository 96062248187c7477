"""Text-log parsing throughput: lines per second of the general line reader, per log shape.

    python benchmarks/parse_text.py [--lines N] [--quick]

For each shape (one real line of each program, its numbers varied per line) it writes a log of
N lines in memory and times ``TextParser.feed`` over it in 1 MiB chunks, in record mode (what
``watch`` takes) and in block mode (what ``inspect`` and ``diagnose`` take). The baseline,
measured in the same run on the same bytes, is Python's own floor for reading a line at all:
``bytes.split`` plus a ``str.split`` of each line. Goal (issue 11): ≥ 300k lines/s.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import emit, loadavg

from lrwatch.formats.text import TextParser
from lrwatch.records import AnyRecord, Event, count_records

#: One line of each shape, ``{s}`` the step and ``{a}``..``{d}`` varying numbers.
SHAPES = {
    "build-nanogpt": "step {s:5d} | loss: {a:.6f} | lr {b:.4e} | norm: {c:.4f} | dt: {d:.2f}ms"
    " | tok/sec: 6785.97",
    "llm.c": "step {s:4d}/19560 | loss {a:.6f} (+nanz)| norm {c:.4f} (+nanz)| lr {b:.2e} | "
    "{d:.2f} ms | 35.6% bf16 MFU | 138391 tok/s",
    "modded-nanogpt": "step:{s}/1000 train_loss:{a:.4f} train_time:{d:.0f}ms step_avg:{c:.2f}ms",
    "nanogpt": "iter {s}: loss {a:.4f}, time {d:.2f}ms, mfu {c:.2f}%",
    "word_language_model": "| epoch   1 | {s:5d}/99999999 batches | lr {b:.2f} | ms/batch "
    "{d:.2f} | loss {a:5.2f} | ppl {c:8.2f}",
    "detectron2": "eta: 7:13:35  iter: {s}  total_loss: {a:.3f}  loss_cls: {c:.3f}  "
    "loss_box_reg: {c:.3f}  time: {d:.4f}  data_time: 0.0143  lr: {b:.6f}  max_mem: 2541M",
    "key=value": "step={s} loss={a:.5f} lr={b:.3e} grad_norm={c:.3f}",
}


def make_log(shape: str, n: int, seed: int = 0) -> bytes:
    """``n`` lines of ``shape`` with varying numbers."""
    rng = random.Random(seed)
    fmt = SHAPES[shape]
    lines = [
        fmt.format(
            s=i,
            a=rng.uniform(0.5, 10),
            b=rng.uniform(1e-5, 1e-3),
            c=rng.uniform(0.1, 5),
            d=rng.uniform(10, 5000),
        )
        for i in range(n)
    ]
    return ("\n".join(lines) + "\n").encode()


def _time(fn, reps: int = 3) -> float:
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _feed(data: bytes, blocks: bool) -> int:
    """Metric rows read (a ``step N/M`` log's ``meta`` event is no row: not counted)."""
    parser = TextParser(blocks=blocks)
    n = 0
    for i in range(0, len(data), 1 << 20):
        n += _rows(parser.feed(data[i : i + (1 << 20)]))
    return n + _rows(parser.flush())


def _rows(records: list[AnyRecord]) -> int:
    return count_records(r for r in records if not isinstance(r, Event))


def _floor(data: bytes) -> None:
    for line in data.decode().split("\n"):
        line.split()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=500_000)
    ap.add_argument("--quick", action="store_true", help="100k lines per shape")
    args = ap.parse_args()
    n = 100_000 if args.quick else args.lines
    print(f"{n:,} lines per shape; best of 3; lines/s (k = thousands)")
    print(f"{'shape':<22}{'records':>9}{'record mode':>14}{'block mode':>13}{'split floor':>13}")
    shapes = {}
    load0 = loadavg()
    for shape in SHAPES:
        data = make_log(shape, n)
        records = _feed(data, False)
        if records != n:
            raise SystemExit(f"{shape}: {records:,} records from {n:,} lines")
        rec = n / _time(lambda d=data: _feed(d, False))
        blk = n / _time(lambda d=data: _feed(d, True))
        floor = n / _time(lambda d=data: _floor(d))
        shapes[shape] = {"record_mode": rec, "block_mode": blk, "split_floor": floor}
        print(
            f"{shape:<22}{records:>9,}{rec / 1e3:>13.0f}k{blk / 1e3:>12.0f}k{floor / 1e3:>12.0f}k"
        )
    worst = min(min(v["record_mode"], v["block_mode"]) for v in shapes.values())
    worst_block = min(v["block_mode"] for v in shapes.values())
    print(f"slowest shape, record mode or block mode: {worst / 1e3:.0f}k lines/s (goal >= 300k)")
    print(f"slowest shape in block mode (inspect, diagnose): {worst_block / 1e3:.0f}k lines/s")
    emit(
        "parse_text",
        {
            "lines": n,
            "shapes": shapes,
            "worst": worst,
            "worst_block": worst_block,
            "load": [load0, loadavg()],
        },
    )


if __name__ == "__main__":
    main()
